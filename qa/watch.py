"""Keep the index in step with the articles folder: poll, debounce, rebuild incrementally.

Polling with one stat per file (no content reads) is portable, survives editors that save by
rename, and costs milliseconds per pass even for thousands of files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .documents import discover
from .errors import QAError
from .indexer import BuildReport


def folder_signature(assistant) -> frozenset:
    settings = assistant.settings
    if not settings.articles_dir.is_dir():
        return frozenset()
    entries, skipped = discover(settings.articles_dir, settings.max_file_bytes)
    return frozenset((e.source, e.size, e.mtime_ns) for e in entries) | frozenset((s.path, s.reason) for s in skipped)


def watch_folder(
    assistant,
    on_report: Callable[[BuildReport], None],
    on_error: Callable[[QAError], None] | None = None,
    stop: threading.Event | None = None,
    interval: float = 0.5,
    settle: float = 0.5,
) -> None:
    """Run until `stop` is set (or Ctrl-C); update the index after changes have settled for `settle` seconds.

    Only an existing index is kept up to date: with none, building it stays the user's decision.
    """
    stop = stop or threading.Event()
    # No baseline: the first pass always runs one (stat-only) update, so a change made between the
    # caller's last build and this call is not taken as the starting state and missed.
    last: frozenset | None = None
    pending_since: float | None = None
    while not stop.wait(interval):
        current = folder_signature(assistant)
        if current != last:
            last = current
            pending_since = time.monotonic()
            continue
        if pending_since is None or time.monotonic() - pending_since < settle:
            continue
        pending_since = None
        if not assistant.has_index():
            continue  # building the first index is the user's call (qa index, or the app's offer)
        try:
            report = assistant.rebuild()
        except QAError as exc:
            if on_error is None:
                raise
            on_error(exc)
            continue
        if report.changed_anything:
            on_report(report)
