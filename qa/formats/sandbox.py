"""Parse risky files in a child process: a per-file time limit, a memory rlimit, and a crash of the
parser costs one skipped file, never the rebuild. One worker serves a whole build; it is restarted
after a file that killed it or ran out of time."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import time
from collections.abc import Callable

from . import Extracted, Limits

_POLL = 0.25  # seconds between looks at `cancelled` while a file is being parsed


class ParseCancelled(Exception):
    """The rebuild was cancelled while a file was being parsed; the worker has been stopped."""


class Sandbox:
    def __init__(self, limits: Limits = Limits(), cancelled: Callable[[], bool] | None = None) -> None:
        self.limits = limits
        self.cancelled = cancelled or (lambda: False)
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            env = {**os.environ, "QA_WORKER_MEMORY_MB": str(self.limits.memory_mb), "PYTHONIOENCODING": "utf-8"}
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "qa.formats.worker"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env, text=True, encoding="utf-8", bufsize=1,
            )
        return self._proc

    def extract(self, path: Path, kind: str) -> Extracted | str:
        """The file's text, or the reason it is skipped; raises ParseCancelled if `cancelled()` turns true."""
        try:
            proc = self._start()
        except OSError as exc:
            return f"cannot start the file reader ({exc.strerror or exc})"
        request = {"path": str(path), "kind": kind, "limits": asdict(self.limits)}
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._kill()
            return "the file reader stopped unexpectedly"
        line = self._read_line(proc, self.limits.seconds)
        if line is None:
            died = proc.poll() is not None
            self._kill()
            if died:
                return "the file reader crashed on it (too large or malformed)"
            return f"took longer than {self.limits.seconds:g} s to read (raise QA_EXTRACT_SECONDS to include it)"
        try:
            answer = json.loads(line)
            if "skip" in answer:
                return str(answer["skip"])
            return Extracted.from_json(json.dumps(answer["ok"]))
        except (ValueError, KeyError, TypeError):
            self._kill()
            return "the file reader answered garbage"

    def _read_line(self, proc: subprocess.Popen, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if sel.select(min(left, _POLL)):
                    break
                if self.cancelled():
                    self._kill()
                    raise ParseCancelled()
        line = proc.stdout.readline()
        return line if line.endswith("\n") else None

    def _kill(self) -> None:
        if self._proc is not None:
            try:
                self._proc.kill()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            for stream in (self._proc.stdin, self._proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self._proc = None

    def close(self) -> None:
        if self._proc is not None:
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._kill()
