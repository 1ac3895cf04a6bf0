"""What every store records about itself: the build's metadata, the file manifest's records, and the compatibility check.

Meta is a plain dataclass stored as JSON: a new field with a default is all it takes to record more (an
embedding backend, a quantization), and an index written by a newer version with extra fields still opens.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from ..documents import SPLITTER_VERSION
from ..errors import IndexMismatch

# 5: vectors in immutable segments beside one SQLite file updated by transactions (4: a whole copy per update, with pages)
FORMAT_VERSION = 5
REBUILD_HINT = "Run `qa index --full` to rebuild it."


@dataclass(frozen=True)
class FileRecord:
    source: str
    size: int
    mtime_ns: int
    sha256: str
    title: str
    date: str | None
    passages: int


@dataclass
class Meta:
    format_version: int
    model: str
    dimension: int
    splitter_version: int
    normalized: bool = True
    metric: str = "inner_product"
    files: int = 0
    passages: int = 0
    next_id: int = 1
    built_at: str = ""
    build_seconds: float = 0.0
    generation: str = ""  # the folder (local store) or collection prefix (Milvus) holding the index
    version: int = 0  # bumped by every committed update
    store: str = "faiss"
    extra: dict = field(default_factory=dict)  # free-form notes of a store (segment counts, index kind)
    # What computed the vectors: another backend's (or quantization's) vectors are not comparable.
    # An index from before these fields was built by sentence-transformers on torch.
    backend: str = "torch"
    quantization: str = "none"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Meta":
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("metadata is not an object")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


def check_compatible(meta: Meta, model: str, backend: str | None = None, quantization: str | None = None) -> None:
    """Refuse an index whose vectors this configuration would not reproduce (backend/quantization: when given)."""
    if meta.format_version != FORMAT_VERSION:
        raise IndexMismatch(f"The index was written in format {meta.format_version}; this version reads format {FORMAT_VERSION}.", REBUILD_HINT)
    if meta.model != model:
        raise IndexMismatch(f"The index was built with model {meta.model!r}, but {model!r} is configured.", REBUILD_HINT)
    if backend is not None and (meta.backend, meta.quantization) != (backend, quantization or "none"):
        built, now = _backend_label(meta.backend, meta.quantization), _backend_label(backend, quantization or "none")
        raise IndexMismatch(f"The index was built with the {built} backend, but {now} is configured.", REBUILD_HINT)
    if meta.splitter_version != SPLITTER_VERSION:
        raise IndexMismatch("The index was built by an older paragraph splitter.", REBUILD_HINT)


def _backend_label(backend: str, quantization: str) -> str:
    return backend if quantization == "none" else f"{backend} ({quantization})"


def passage_fields() -> list[str]:
    """Passage's stored fields, in order: a field added to Passage becomes a column (or a Milvus field) by itself."""
    from ..documents import Passage

    return [f.name for f in dataclasses.fields(Passage)]
