"""Settings, resolved at call time from arguments, then `QA_*` environment variables, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2 (packaged)"
DEFAULT_MAX_FILE_MB = 20.0


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


@dataclass(frozen=True)
class Settings:
    articles_dir: Path
    index_dir: Path
    model: str = DEFAULT_MODEL
    k: int = 5
    max_file_bytes: int = int(DEFAULT_MAX_FILE_MB * 1024 * 1024)
    lock_wait: float = 10.0
    batch_size: int = 32
    # "rules" (word overlap, passage scores, answer shapes) or "reader" (the trained model in qa/reader/model/, or
    # $QA_READER_DIR); QA_READER. Rules by default: the reader trained so far does not beat them (docs/evaluation.md).
    reader: str = "rules"
    intents: bool = True  # overview and "tell me more" recognised by the embedder; QA_INTENTS=0 turns off

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def load_settings(
    articles: str | Path | None = None,
    index: str | Path | None = None,
    model: str | None = None,
) -> Settings:
    """Build settings now (not at import), so tests and users can redirect paths with env vars."""
    articles_dir = Path(articles or _env("QA_ARTICLES_DIR") or "articles")
    index_dir = Path(index or _env("QA_INDEX_DIR") or "index")
    max_mb = float(_env("QA_MAX_FILE_MB") or DEFAULT_MAX_FILE_MB)
    return Settings(
        articles_dir=articles_dir.expanduser().resolve(),
        index_dir=index_dir.expanduser().resolve(),
        model=model or _env("QA_MODEL") or DEFAULT_MODEL,
        k=int(_env("QA_K") or 5),
        max_file_bytes=int(max_mb * 1024 * 1024),
        lock_wait=float(_env("QA_LOCK_WAIT") or 10.0),
        reader=(_env("QA_READER") or "rules").lower(),
        intents=_env("QA_INTENTS") not in ("0", "false", "no"),
    )


def debug_enabled() -> bool:
    return _env("QA_DEBUG") not in (None, "0")
