"""What every embedder offers, and the small pieces they share (query cache, terminal progress)."""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

Progress = Callable[[int, int], None]  # (done, total)


class Embedder(Protocol):
    name: str

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> "np.ndarray":
        """Unit-length float32 vectors, one row per text."""
        ...


def identity(embedder) -> tuple[str, str]:
    """(backend, quantization) that made an embedder's vectors, as meta.json records them."""
    return getattr(embedder, "backend", "custom"), getattr(embedder, "quantization", "none")


class QueryCache:
    """Recent questions' vectors (follow-ups and the eval re-ask them); subclasses define _embed_one."""

    cache_size = 256

    def __init__(self) -> None:
        self._cache: OrderedDict[str, "np.ndarray"] = OrderedDict()

    def _embed_one(self, text: str) -> "np.ndarray":  # pragma: no cover - abstract
        raise NotImplementedError

    def embed_query(self, text: str) -> "np.ndarray":
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        vector = self._embed_one(text)
        self._cache[text] = vector
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return vector


def terminal_progress(label: str) -> Progress | None:
    """A plain progress bar on stderr, or None when stderr is not a terminal (logs stay clean)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
