"""Rebuild progress for `qa index`: a bar on a terminal, plain lines every few seconds otherwise.

A log or a CI job gets "files read, passages embedded, rate, time left" lines it can read later, with
no carriage returns; a terminal gets a rich bar (rich comes with textual). Imported only by the index
command: the question path never loads it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from .indexer import BuildProgress

EVERY_ENV = "QA_PROGRESS_SECONDS"  # seconds between plain progress lines (default 5)
DEFAULT_EVERY = 5.0


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class _Counts:
    """What the lines and the bar both need: done/total per phase and when the phase began."""

    def __init__(self) -> None:
        self.files = (0, 0)
        self.passages = (0, 0)
        # phase → (when it began: the previous phase's last event, 0 done then)
        self.began: dict[str, tuple[float, int]] = {}
        self.last_event = time.monotonic()

    def update(self, p: BuildProgress) -> None:
        now = time.monotonic()
        self.began.setdefault(p.phase, (self.last_event, 0))
        self.last_event = now
        if p.phase == "read":
            self.files = (p.done, p.total)
        elif p.phase == "embed":
            self.passages = (p.done, p.total)

    def rate_and_left(self, phase: str) -> tuple[float, float | None]:
        done, total = self.passages if phase == "embed" else self.files
        since, done_then = self.began.get(phase, (time.monotonic(), done))
        elapsed = time.monotonic() - since
        if done <= done_then or elapsed <= 0:
            return 0.0, None
        rate = (done - done_then) / elapsed
        return rate, (total - done) / rate


class PlainLines:
    """A line every `every` seconds on a stream that is not a terminal, from a ticker thread: a long embedding
    batch or the model's start-up still shows the run is alive."""

    def __init__(self, stream: TextIO, every: float) -> None:
        self.stream = stream
        self.every = every
        self.counts = _Counts()
        self.last = time.monotonic()
        self.phase = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if every > 0:
            self._ticker = threading.Thread(target=self._tick, name="qa-progress", daemon=True)
            self._ticker.start()

    def __call__(self, p: BuildProgress) -> None:
        with self._lock:
            self.counts.update(p)
            if p.phase in ("read", "embed"):
                self.phase = p.phase
            if p.phase in ("read", "embed"):
                self._maybe_write()

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            with self._lock:
                self._maybe_write()

    def _maybe_write(self) -> None:
        now = time.monotonic()
        if not self.phase or now - self.last < self.every:
            return
        self.last = now
        self.stream.write(self.line() + "\n")
        self.stream.flush()

    def line(self) -> str:
        c = self.counts
        parts = [f"{c.files[0]}/{c.files[1]} files read"]
        if c.passages[1]:
            parts.append(f"{c.passages[0]}/{c.passages[1]} passages embedded")
        elif self.phase == "read" and c.files[0] == c.files[1]:
            parts.append("embedding starts (the model is loading)")
        reading_done = self.phase == "read" and c.files[0] >= c.files[1]
        rate, left = c.rate_and_left(self.phase) if not reading_done else (0.0, None)
        if rate:
            unit = "passages" if self.phase == "embed" else "files"
            parts.append(f"{rate:.1f} {unit}/s")
        if left is not None:
            parts.append(f"about {duration(left)} left" + (" to embed" if self.phase == "embed" else " to read"))
        return "Indexing: " + ", ".join(parts)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=1)


class Bar:
    """A rich progress bar per phase on stderr (transient: the report printed after it stays clean)."""

    LABELS = {"read": "Reading files", "embed": "Embedding passages"}

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(file=stream), transient=True,
        )
        self.tasks: dict[str, int] = {}
        self.started = False

    def __call__(self, p: BuildProgress) -> None:
        if p.phase not in self.LABELS or not p.total:
            return
        if not self.started:
            self.progress.start()
            self.started = True
        if p.phase not in self.tasks:
            self.tasks[p.phase] = self.progress.add_task(self.LABELS[p.phase], total=p.total)
        self.progress.update(self.tasks[p.phase], completed=p.done, total=p.total)

    def close(self) -> None:
        if self.started:
            self.progress.stop()


def build_progress(stream: TextIO | None = None, every: float | None = None):
    """The right display for `stream` (stderr by default): a bar on a terminal, plain lines elsewhere.

    Call `.close()` when the rebuild ends (also when it fails)."""
    stream = stream or sys.stderr
    if stream.isatty() and every is None:
        return Bar(stream)
    if every is None:
        try:
            every = float(os.environ.get(EVERY_ENV) or DEFAULT_EVERY)
        except ValueError:
            every = DEFAULT_EVERY
    return PlainLines(stream, every)
