"""Extracted texts of web pages, PDFs and Word files, one JSON file per content hash.

Kept beside the index's generations (index/extracted/), not inside them: a rebuild does not copy them,
a renamed file finds its text under the same hash, `qa index --full` does not parse PDFs again, and the
source viewer shows exactly the text the index was built from without re-parsing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import EXTRACTOR_VERSION, Extracted, Limits


def _tag(limits: Limits | None) -> list:
    limits = limits or Limits()
    return [limits.seconds, limits.memory_mb, limits.max_pages]


class TextCache:
    def __init__(self, index_dir: Path) -> None:
        self.folder = index_dir / "extracted"

    def _path(self, sha256: str) -> Path:
        return self.folder / f"{sha256}.v{EXTRACTOR_VERSION}.json"

    def get(self, sha256: str, skips: bool = True, limits: Limits | None = None) -> Extracted | str | None:
        """The text, or the reason this content was skipped before under the same limits (a PDF that
        timed out is not parsed again on every rebuild), or None: parse it."""
        try:
            raw = self._path(sha256).read_text(encoding="utf-8")
            if raw.startswith('{"skip":'):
                saved = json.loads(raw)
                same = saved.get("limits") == _tag(limits)
                return str(saved["skip"]) if (skips and same) else None
            return Extracted.from_json(raw)
        except (OSError, ValueError, TypeError, KeyError, UnicodeDecodeError):
            return None  # missing or damaged: parse again

    def put(self, sha256: str, result: Extracted | str, limits: Limits | None = None) -> None:
        raw = json.dumps({"skip": result, "limits": _tag(limits)}) if isinstance(result, str) else result.to_json()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self._path(sha256)
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            tmp.write_text(raw, encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # a cache: losing it costs a re-parse, nothing else

    def discard(self, digests: set[str]) -> None:
        """Drop the texts of these contents (an update removed the last article holding them)."""
        for digest in digests:
            try:
                self._path(digest).unlink(missing_ok=True)
            except OSError:
                pass  # a cache: a stale entry costs disk, nothing else

    def prune(self, keep: set[str]) -> None:
        """Drop texts of contents no longer indexed (and of older extractor versions)."""
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return
        for path in entries:
            digest, _, rest = path.name.partition(".")
            if digest not in keep or rest != f"v{EXTRACTOR_VERSION}.json":
                path.unlink(missing_ok=True)
