"""Immutable vector segments: the local store's vectors, written once, memory-mapped, never rewritten.

A segment is `<name>.ids` (sorted passage ids, raw int64) and `<name>.vec` (their float32 vectors, one row
each, raw so a build can stream them), plus `<name>.ivf` when it is large: a FAISS IVF index over the same vectors, read with IO_FLAG_MMAP so
opening it costs its centroids, not its lists. Opening a segment maps the files; only the pages a search or a
look-up touches are read. A deleted passage is a tombstone (an id the search skips) until a merge drops it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import IndexDamaged
from .meta import REBUILD_HINT

if TYPE_CHECKING:
    import numpy as np

# A flat scan of this many 384-d vectors costs ~10 ms here; above it a segment gets an IVF search index.
IVF_THRESHOLD = 50_000
IVF_NPROBE = 32
# The IVF search returns this many times the wanted candidates, re-scored exactly from the flat vectors.
RERANK = 4
# A filter (dates) of up to this many passages is scored exactly instead of through the IVF lists.
EXACT_FILTER = 50_000


@dataclass(frozen=True)
class SegmentInfo:
    name: str
    count: int  # vectors in the files (tombstoned ones included)
    dimension: int
    ivf_bytes: int = 0  # size of the IVF file, 0 when the segment is searched flat


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentBuilder:
    """Streams ids and vectors into a new segment's files; `finish()` fsyncs them (and builds the IVF index).

    Nothing refers to the files until the caller commits the segment's row, so a crash leaves only orphans
    that the next writer deletes.
    """

    def __init__(self, folder: Path, name: str, dimension: int) -> None:
        self.folder, self.name, self.dimension = folder, name, dimension
        self.count = 0
        self._last = -1
        self._ids = open(folder / f"{name}.ids", "wb")
        self._vec = open(folder / f"{name}.vec", "wb")

    def add(self, ids: "np.ndarray", vectors: "np.ndarray") -> None:
        import numpy as np

        ids = np.ascontiguousarray(ids, dtype="int64")
        if len(ids) == 0:
            return
        if ids[0] <= self._last or (len(ids) > 1 and not (np.diff(ids) > 0).all()):
            raise ValueError("segment ids must be added in increasing order")
        self._last = int(ids[-1])
        self._ids.write(ids.tobytes())
        self._vec.write(np.ascontiguousarray(vectors, dtype="float32").tobytes())
        self.count += len(ids)

    def finish(self, ivf_threshold: int | None = None) -> SegmentInfo:
        import numpy as np

        for fh in (self._ids, self._vec):
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
        ivf_bytes = 0
        threshold = IVF_THRESHOLD if ivf_threshold is None else ivf_threshold
        if self.count >= threshold:
            import faiss

            ids = np.memmap(self.folder / f"{self.name}.ids", dtype="int64", mode="r", shape=(self.count,))
            vecs = np.memmap(self.folder / f"{self.name}.vec", dtype="float32", mode="r", shape=(self.count, self.dimension))
            path = self.folder / f"{self.name}.ivf"
            faiss.write_index(build_ivf(np.asarray(ids), vecs), str(path))
            _fsync(path)
            ivf_bytes = path.stat().st_size
        return SegmentInfo(self.name, self.count, self.dimension, ivf_bytes)

    def abort(self) -> None:
        for fh in (self._ids, self._vec):
            fh.close()
        for name in segment_files(self.name):
            (self.folder / name).unlink(missing_ok=True)


def build_ivf(ids: "np.ndarray", vectors: "np.ndarray"):
    """IVF with 8-bit scalar-quantized lists: a quarter of the flat size; exact re-scoring restores the order."""
    import faiss
    import numpy as np

    n, d = vectors.shape
    nlist = max(64, int(2 * np.sqrt(n)))
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10  # centroids only route the search
    rng = np.random.default_rng(0)
    sample = vectors[np.sort(rng.choice(n, size=min(n, 32 * nlist), replace=False))]
    index.train(np.ascontiguousarray(sample))
    for begin in range(0, n, 100_000):
        index.add_with_ids(np.ascontiguousarray(vectors[begin : begin + 100_000]), ids[begin : begin + 100_000])
    return index


def segment_files(name: str) -> list[str]:
    return [f"{name}.ids", f"{name}.vec", f"{name}.ivf"]


class Segment:
    """An opened segment: memory-mapped ids and vectors, and its IVF index if it has one."""

    def __init__(self, folder: Path, info: SegmentInfo, nprobe: int = IVF_NPROBE) -> None:
        import numpy as np

        self.info = info
        sizes = {"ids": 8 * info.count, "vec": 4 * info.count * info.dimension}
        for ext, want in sizes.items():
            path = folder / f"{info.name}.{ext}"
            try:
                size = path.stat().st_size
            except FileNotFoundError as exc:
                raise IndexDamaged(f"The vector file {path} is missing.", REBUILD_HINT) from exc
            if size != want:
                raise IndexDamaged(f"The vector file {path} is truncated or altered ({size} bytes, {want} expected).", REBUILD_HINT)
        if info.count:
            self.ids = np.memmap(folder / f"{info.name}.ids", dtype="int64", mode="r", shape=(info.count,))
            self.vectors = np.memmap(folder / f"{info.name}.vec", dtype="float32", mode="r", shape=(info.count, info.dimension))
        else:
            self.ids, self.vectors = np.zeros(0, "int64"), np.zeros((0, info.dimension), "float32")
        self.ivf = None
        if info.ivf_bytes:
            import faiss

            path = folder / f"{info.name}.ivf"
            try:
                if path.stat().st_size != info.ivf_bytes:
                    raise IndexDamaged(f"The search index {path} is truncated or altered.", REBUILD_HINT)
                self.ivf = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
            except FileNotFoundError as exc:
                raise IndexDamaged(f"The search index {path} is missing.", REBUILD_HINT) from exc
            except RuntimeError as exc:
                raise IndexDamaged(f"The search index {path} is damaged.", REBUILD_HINT) from exc
            self.ivf.nprobe = nprobe

    def positions(self, ids: "np.ndarray") -> tuple["np.ndarray", "np.ndarray"]:
        """(mask of the ids held here, their rows)."""
        import numpy as np

        if len(self.ids) == 0 or len(ids) == 0:
            return np.zeros(len(ids), bool), np.zeros(0, "int64")
        pos = np.searchsorted(self.ids, ids)
        pos_c = np.minimum(pos, len(self.ids) - 1)
        hit = np.asarray(self.ids[pos_c]) == ids
        return hit, pos_c[hit]

    def search(self, q: "np.ndarray", k: int, dead: "np.ndarray", allowed: "np.ndarray | None") -> tuple["np.ndarray", "np.ndarray"]:
        """Top k (ids, scores) by inner product, skipping `dead` ids and, when given, ids not `allowed`."""
        import numpy as np

        if allowed is not None and (self.ivf is None or len(allowed) <= EXACT_FILTER):
            _, rows = self.positions(allowed)
            return self._exact(q, rows, k, dead)
        if self.ivf is None:
            return self._exact(q, None, k, dead)
        import faiss

        sel = None
        if allowed is not None:
            sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype="int64"))
        elif len(dead):
            sel = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.ascontiguousarray(dead, dtype="int64")))
        params = faiss.SearchParametersIVF(sel=sel, nprobe=self.ivf.nprobe) if sel is not None else None
        _, found = self.ivf.search(q[None, :], min(RERANK * k, self.info.count), params=params)
        found = found[0][found[0] >= 0]
        _, rows = self.positions(found)
        # Exact scores from the flat vectors: the quantized lists only choose the candidates.
        return self._exact(q, np.sort(rows), k, np.zeros(0, "int64"))

    def _exact(self, q, rows, k, dead):
        import numpy as np

        if rows is None:
            if self.info.count == 0:
                return np.zeros(0, "int64"), np.zeros(0, "float32")
            import faiss

            # FAISS's single-query scan (SIMD, one thread) is several times faster than a BLAS matrix-vector product here.
            want = min(self.info.count, k + len(dead))
            scores, rows = faiss.knn(q[None, :], self.vectors, want, metric=faiss.METRIC_INNER_PRODUCT)
            scores, rows = scores[0], rows[0]
            ids = np.asarray(self.ids[rows])
            keep = rows >= 0
            if len(dead):
                keep &= ~np.isin(ids, dead)
            return ids[keep][:k], scores[keep][:k]
        ids = np.asarray(self.ids[rows])
        if len(ids) == 0:
            return np.zeros(0, "int64"), np.zeros(0, "float32")
        scores = np.asarray(self.vectors[rows] @ q, dtype="float32")
        if len(dead):
            scores[np.isin(ids, dead)] = -np.inf
        take = min(k, len(ids))
        top = np.argpartition(-scores, take - 1)[:take] if take < len(ids) else np.arange(len(ids))
        top = top[np.isfinite(scores[top])]
        return ids[top], scores[top]

    def close(self) -> None:
        # Dropping the references unmaps the files (numpy memmaps and FAISS's mapping are freed with them).
        self.ids = self.vectors = self.ivf = None
