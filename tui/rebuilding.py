"""Rebuilding from the app (ctrl+r, the palette) and watching the articles folder.

A mixin of `QAApp`: the work runs in thread workers and reports through `call_from_thread`;
one rebuild at a time, whether asked for or started by the watcher.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from textual import work
from textual.widgets import Label, ProgressBar
from textual.worker import get_current_worker

from qa.errors import QAError

from .render import literal


class RebuildActions:
    """Needs from the app: assistant, settings, chat, counts, ready, rebuilding, watching and the
    helpers `_ensure_model`, `_index_counts`, `_refresh_status`, `_ask_pending`, `_error`, `_unexpected`."""

    def action_toggle_watch(self) -> None:
        if self.watching:
            self._watch_stop.set()
            self.watching = False
            self.notify("Stopped watching the articles folder.", timeout=3)
        else:
            self.watching = True
            self._watch_stop = threading.Event()
            self._start_watching()
            self.notify("Watching the articles folder: changes are indexed automatically.", timeout=3)
        self._refresh_status()

    # ------------------------------------------------------------ rebuilding

    def action_rebuild(self, full: bool = False) -> None:
        if self.rebuilding:
            self.notify("A rebuild is already running.", timeout=3)
            return
        self._rebuild(full)

    @work(thread=True, group="rebuild", exit_on_error=False)
    def _rebuild(self, full: bool) -> None:
        worker = get_current_worker()
        try:
            report = self.run_rebuild(full, cancelled=lambda: worker.is_cancelled)
        except QAError as exc:
            self.call_from_thread(self._error, exc, "Rebuild failed")
        except Exception as exc:
            self.call_from_thread(self._unexpected, exc)
        else:
            self.call_from_thread(self._rebuilt, report, "full" if full else "manual")

    def run_rebuild(self, full: bool = False, cancelled: Callable[[], bool] | None = None):
        """Rebuild on the calling (worker) thread, showing progress; one rebuild at a time."""
        with self._rebuild_lock:
            self.call_from_thread(self._progress_start)
            try:
                self._ensure_model()
                report = self.assistant.rebuild(full=full, progress=self._progress_from_thread, cancelled=cancelled)
                counts = self._index_counts()
            finally:
                self.call_from_thread(self._progress_end)
            self.call_from_thread(self._set_counts, counts)
            return report

    def _set_counts(self, counts: tuple[int, int]) -> None:
        self.counts = counts
        self._refresh_status()

    def _progress_start(self) -> None:
        self.rebuilding = True
        self._files = (0, 0)
        self._passages = (0, 0)
        self.chat.query_one("#progress").display = True
        self.show_progress("scan" if self.ready else "model", 0, 0)
        self._refresh_status()

    def _progress_end(self) -> None:
        self.rebuilding = False
        self.chat.query_one("#progress").display = False
        self._refresh_status()
        self._ask_pending()

    def _progress_from_thread(self, p) -> None:
        now = time.monotonic()
        # Throttled: the UI needs a few updates a second, not one per file.
        if p.phase in ("read", "embed") and p.done not in (0, p.total) and now - self._last_progress < 0.1:
            return
        self._last_progress = now
        self.call_from_thread(self.show_progress, p.phase, p.done, p.total)

    def show_progress(self, phase: str, done: int, total: int) -> None:
        """Progress row: files read and passages embedded; the bar follows the current phase."""
        if phase == "read":
            self._files = (done, total)
        elif phase == "embed":
            self._passages = (done, total)
        labels = {"model": "Loading the model", "scan": "Scanning the folder", "read": "Reading files", "embed": "Embedding passages", "write": "Writing the index", "done": "Done"}
        parts = [labels.get(phase, phase)]
        if self._files[1]:
            parts.append(f"files {self._files[0]}/{self._files[1]}")
        if self._passages[1]:
            parts.append(f"passages {self._passages[0]}/{self._passages[1]}")
        self.chat.query_one("#progress-label", Label).update(" · ".join(parts))
        bar = self.chat.query_one("#progress-bar", ProgressBar)
        if phase in ("read", "embed") and total:
            bar.update(total=total, progress=done)
        elif phase in ("write", "done"):
            bar.update(total=1, progress=1)
        else:
            bar.update(total=None, progress=0)

    def _rebuilt(self, report, origin: str) -> None:
        self._refresh_status()
        parts = [f"{len(report.added)} added", f"{len(report.changed)} changed", f"{len(report.removed)} removed"]
        if report.renamed:
            parts.append(f"{len(report.renamed)} renamed")
        embedded = f"{report.embedded} passage{'' if report.embedded == 1 else 's'}"
        summary = ", ".join(parts) + f"; {embedded} embedded, {report.passages} in the index."
        title = {"watch": "Articles changed: index updated", "full": "Index rebuilt"}.get(origin, "Index updated")
        if origin != "watch" and not report.changed_anything and not report.full:
            summary = f"Already up to date: {report.passages} passages from {report.files or (self.counts or (0, 0))[0]} articles."
        self.notify(summary, title=title, timeout=6)
        if report.skipped:
            listed = "\n".join(f"{literal(s.path)}: {s.reason}" for s in report.skipped[:4])
            more = f"\n… and {len(report.skipped) - 4} more" if len(report.skipped) > 4 else ""
            self.notify(listed + more, title=f"{len(report.skipped)} file{'s' if len(report.skipped) != 1 else ''} skipped", severity="warning", timeout=8)

    # ------------------------------------------------------------ watching

    def _start_watching(self) -> None:
        self._watch(self._watch_stop)

    @work(thread=True, group="watch", exit_on_error=False)
    def _watch(self, stop: threading.Event) -> None:
        from qa.watch import watch_folder

        app = self

        class _Rebuilder:
            """What watch_folder needs (settings, rebuild), routed through the app's progress row."""

            settings = app.settings

            def has_index(self) -> bool:
                return app.assistant.has_index()

            def rebuild(self):
                return app.run_rebuild()

        def reported(report) -> None:
            app.call_from_thread(app._rebuilt, report, "watch")

        def failed(exc: QAError) -> None:
            app.call_from_thread(app._error, exc, "Automatic update failed")

        try:
            watch_folder(_Rebuilder(), on_report=reported, on_error=failed, stop=stop)
        except Exception as exc:
            self.call_from_thread(self._unexpected, exc)

    def on_unmount(self) -> None:
        self._watch_stop.set()
