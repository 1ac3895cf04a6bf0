"""Settings, resolved at call time from arguments, then `QA_*` environment variables, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2 (packaged)"
DEFAULT_MAX_FILE_MB = 20.0
BACKENDS = ("onnx", "torch")  # QA_BACKEND: ONNX Runtime, or sentence-transformers on torch
CACHE_ENV = "QA_CACHE_DIR"


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
    backend: str | None = None  # None: ONNX Runtime for the packaged model, torch for any other
    store: str = "faiss"  # "faiss" (files in index_dir) or "milvus"
    milvus_uri: str = ""  # a .db path (milvus-lite, embedded) or http(s)://host:19530; default index_dir/milvus.db
    milvus_token: str = ""
    milvus_collection: str = "qa"  # prefix of the collections this index uses
    # "rules" (word overlap, passage scores, answer shapes) or "reader" (the trained model in qa/reader/model/, or
    # $QA_READER_DIR); QA_READER. Rules by default: the reader trained so far does not beat them (docs/evaluation.md).
    reader: str = "rules"
    intents: bool = True  # overview and "tell me more" recognised by the embedder; QA_INTENTS=0 turns off
    extract_seconds: float = 60.0  # per web page, PDF or Word file (QA_EXTRACT_SECONDS)
    extract_mb: int = 1024  # memory of the process that parses them (QA_EXTRACT_MB)

    def limits(self):
        from .formats import Limits

        return Limits(seconds=self.extract_seconds, memory_mb=self.extract_mb)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def load_settings(
    articles: str | Path | None = None,
    index: str | Path | None = None,
    model: str | None = None,
    store: str | None = None,
) -> Settings:
    """Build settings now (not at import), so tests and users can redirect paths with env vars."""
    articles_dir = Path(articles or _env("QA_ARTICLES_DIR") or "articles")
    index_dir = Path(index or _env("QA_INDEX_DIR") or "index")
    max_mb = _number("QA_MAX_FILE_MB", DEFAULT_MAX_FILE_MB, float, minimum=0.0)
    return Settings(
        articles_dir=articles_dir.expanduser().resolve(),
        index_dir=index_dir.expanduser().resolve(),
        model=model or _env("QA_MODEL") or DEFAULT_MODEL,
        k=_number("QA_K", 5, int, minimum=1),
        max_file_bytes=int(max_mb * 1024 * 1024),
        lock_wait=_number("QA_LOCK_WAIT", 10.0, float, minimum=0.0),
        store=(store or _env("QA_STORE") or "faiss").lower(),
        milvus_uri=_env("QA_MILVUS_URI") or str(index_dir.expanduser().resolve() / "milvus.db"),
        milvus_token=_env("QA_MILVUS_TOKEN") or "",
        milvus_collection=_env("QA_MILVUS_COLLECTION") or "qa",
        reader=(_env("QA_READER") or "rules").lower(),
        intents=_env("QA_INTENTS") not in ("0", "false", "no"),
        extract_seconds=_number("QA_EXTRACT_SECONDS", 60.0, float, minimum=0.0001),
        extract_mb=_number("QA_EXTRACT_MB", 1024, int, minimum=1),
        backend=_backend(_env("QA_BACKEND")),
    )


def _number(name: str, default, kind, minimum):
    """A numeric setting from the environment; a bad value is one line naming the variable, not a traceback."""
    given = _env(name)
    if given is None:
        return default
    try:
        value = kind(given.strip())
    except ValueError:
        value = None
    if value is None or value < minimum:
        from .errors import QAError

        raise QAError(f"{name}={given!r} is not a valid setting: it needs {'a whole number' if kind is int else 'a number'} of at least {minimum:g}.",
                      f"Fix {name} or unset it (default {default}).")
    return value


def _backend(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if value not in BACKENDS:
        from .errors import QAError

        raise QAError(f"QA_BACKEND={value!r} is not a backend.", f"Use one of: {', '.join(BACKENDS)} (or leave it unset).")
    return value


def cache_dir() -> Path:
    """Where one-time artefacts (the exported ONNX model) live: $QA_CACHE_DIR, else the user cache folder."""
    given = _env(CACHE_ENV)
    if given:
        return Path(given).expanduser().resolve()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("article-qa", appauthor=False))


def debug_enabled() -> bool:
    return _env("QA_DEBUG") not in (None, "0")


def require_articles_dir(settings: Settings) -> None:
    """The articles folder must be a folder; say which of the two ways it is not, and how to point elsewhere."""
    from .errors import BadPath

    path = settings.articles_dir
    if path.is_dir():
        return
    how = "pass the folder that holds the articles with --articles DIR (or set QA_ARTICLES_DIR)."
    if path.exists():
        raise BadPath(f"{path} is a file, not a folder.", how[0].upper() + how[1:])
    raise BadPath(f"The articles folder {path} does not exist.", "Create it, or " + how)
