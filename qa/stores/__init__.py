"""Stores: where vectors and passage rows live. The retriever, indexer, Assistant, chat app and `qa eval`
talk to the `Store` protocol below and never to a backend directly.

Backends: `faiss` (default; FAISS + SQLite files in the index folder, `local.py`) and `milvus` (a Milvus
server or cluster, or milvus-lite embedded in a .db file; `pip install .[milvus]`). Chosen by
`--store` / `QA_STORE`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..errors import QAError
from .meta import FORMAT_VERSION, REBUILD_HINT, FileRecord, Meta, check_compatible

if TYPE_CHECKING:
    import numpy as np

    from ..config import Settings
    from ..documents import Passage

STORES = ("faiss", "milvus")
__all__ = ["FORMAT_VERSION", "REBUILD_HINT", "FileRecord", "Meta", "Store", "Writer", "check_compatible", "backend", "STORES"]


class Store(Protocol):
    """One committed state of an index, read-only; `is_current()` turns False once a newer state is live."""

    meta: Meta

    def is_current(self) -> bool: ...
    def close(self) -> None: ...
    # rows
    def passages(self, ids: list[int]) -> dict[int, "Passage"]: ...
    def keys(self, ids: list[int]) -> dict[int, str]: ...
    def ids_with_key(self, keys: list[str]) -> dict[str, list[int]]: ...
    def passages_of(self, source: str) -> list["Passage"]: ...
    def ids_between(self, since: str | None, until: str | None, include_undated: bool = False) -> list[int]: ...
    def files(self) -> dict[str, FileRecord]: ...
    # What a rescan compares, without a record per file: (source, size, mtime_ns) of every indexed file.
    def file_stats(self) -> list[tuple[str, int, int]]: ...
    def file_records(self, sources: list[str]) -> dict[str, FileRecord]: ...  # only those (absent ones left out)
    def files_with_digests(self, digests: list[str]) -> list[tuple[str, str]]: ...  # (source, sha256) holding them
    def sources(self) -> list[str]: ...
    def document_frequencies(self, terms: list[str]) -> dict[str, int]: ...
    # search
    def keyword_search(self, terms: list[str], k: int, ids: list[int] | None = None) -> list[tuple[int, float]]: ...
    def dense_search(self, vector: "np.ndarray", k: int, ids: list[int] | None = None) -> list[tuple[int, float]]: ...
    def get_vectors(self, ids: list[int]) -> "np.ndarray": ...
    def vector_count(self) -> int: ...


class Writer(Protocol):
    """One update; nothing is visible to readers before `commit()`; `abort()` leaves the previous state."""

    meta: Meta

    def remove_sources(self, sources: list[str]) -> list[int]: ...
    def add_passages(self, passages: list["Passage"], vectors: "np.ndarray") -> None: ...
    def put_file(self, record: FileRecord) -> None: ...
    def rename_file(self, old: str, record: FileRecord) -> None: ...
    def commit(self, build_seconds: float): ...
    def abort(self) -> None: ...


class Backend(Protocol):
    name: str

    def exists(self) -> bool: ...
    def open(self, model: str | None = None) -> Store: ...
    def writer(self, base: Store | None, meta: Meta) -> Writer: ...
    def touch_files(self, base: Store, records: list[FileRecord]) -> None: ...
    def compact(self, base: Store) -> dict: ...
    def tidy(self, base: Store) -> bool: ...  # True when it repaired something (the caller reopens)
    def settle(self) -> None: ...  # after an update, its reader closed: housekeeping (the local store's log)


class LocalBackend:
    """FAISS + SQLite files in the index folder."""

    name = "faiss"

    def __init__(self, settings: "Settings") -> None:
        self.index_dir = settings.index_dir

    def exists(self) -> bool:
        return (self.index_dir / "CURRENT").exists()

    def open(self, model: str | None = None):
        from .local import LocalStore

        return LocalStore.open(self.index_dir, model)

    def writer(self, base, meta: Meta):
        from .local_writer import LocalWriter

        return LocalWriter(self.index_dir, base, meta)

    def touch_files(self, base, records: list[FileRecord]) -> None:
        from .local_writer import touch_files

        touch_files(base, records)

    def compact(self, base) -> dict:
        from .local_writer import compact

        return compact(self.index_dir, base)

    def settle(self) -> None:
        from .local_writer import settle

        settle(self.index_dir)

    def tidy(self, base) -> bool:
        from .local_writer import delete_orphans

        delete_orphans(base)
        return False


def backend(settings: "Settings") -> Backend:
    kind = getattr(settings, "store", "faiss") or "faiss"
    if kind == "faiss":
        return LocalBackend(settings)
    if kind == "milvus":
        from .milvus import MilvusBackend

        return MilvusBackend(settings)
    raise QAError(f"Unknown store {kind!r}.", f"Use one of: {', '.join(STORES)} (--store or QA_STORE).")
