"""Compatibility names: the stores moved to qa/stores/ (the local FAISS + SQLite store is qa/stores/local.py)."""

from __future__ import annotations

from .stores.local import LocalStore as Index
from .stores.local import current_generation, read_meta
from .stores.local_writer import LocalWriter, prune_generations, touch_files
from .stores.meta import FORMAT_VERSION, REBUILD_HINT, FileRecord, Meta, check_compatible
from .stores.segments import IVF_NPROBE, IVF_THRESHOLD

__all__ = [
    "FORMAT_VERSION", "REBUILD_HINT", "FileRecord", "Index", "IVF_NPROBE", "IVF_THRESHOLD", "LocalWriter", "Meta",
    "check_compatible", "current_generation", "prune_generations", "read_meta", "touch_files",
]
