"""The rebuild lock: one writer at a time, released by the kernel if its holder dies."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import IndexBusy


def _holder(lock_path: Path) -> str:
    try:
        return lock_path.read_text().strip() or "?"
    except OSError:
        return "?"


def rebuild_running(index_dir: Path) -> str | None:
    """The pid of a rebuild holding the lock now, else None; takes nothing from it (a shared probe, let go at once)."""
    try:
        fd = os.open(index_dir / ".lock", os.O_RDONLY)
    except OSError:
        return None  # no lock file: nothing has ever rebuilt here
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except BlockingIOError:
        return _holder(index_dir / ".lock")
    finally:
        os.close(fd)


@contextmanager
def writer_lock(index_dir: Path, wait: float = 10.0):
    """Hold `index_dir/.lock` for the duration; wait up to `wait` seconds, then give up clearly.

    flock() locks belong to the open file: a killed holder (even by SIGKILL) releases it at once,
    so a stale lock file left on disk never blocks the next rebuild.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    lock_path = index_dir / ".lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + max(wait, 0.0)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexBusy(
                        f"Index busy: another rebuild is running (pid {_holder(lock_path)}).",
                        "Wait for it to finish, then try again (QA_LOCK_WAIT sets how long to wait).",
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
