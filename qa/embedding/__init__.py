"""Text embedders: the protocol, ONNX Runtime for the packaged model (default), sentence-transformers for
any other model, and the one-time ONNX export with its cache. Importing this package is cheap: every
model library loads on first use.

    QA_BACKEND=onnx|torch   overrides the choice (onnx for a non-default model exports it first)
    QA_QUANTIZATION=none|int8   the ONNX model's weights (default: DEFAULT_QUANTIZATION)
"""

from __future__ import annotations

import os

from ..config import BACKENDS, DEFAULT_MODEL
from ..errors import QAError
from .locate import ModelNotFound, locate_model
from .onnx_embedder import OnnxEmbedder
from .protocol import Embedder, Progress, QueryCache, identity, terminal_progress
from .st_embedder import SentenceTransformerEmbedder

QUANTIZATION_ENV = "QA_QUANTIZATION"
DEFAULT_QUANTIZATION = "none"


def default_quantization() -> str:
    value = (os.environ.get(QUANTIZATION_ENV) or DEFAULT_QUANTIZATION).strip().lower()
    if value not in ("none", "int8"):
        raise QAError(f"{QUANTIZATION_ENV}={value!r} is not a quantization.", "Use none or int8 (or leave it unset).")
    return value


def default_backend(model: str) -> str:
    return "onnx" if model == DEFAULT_MODEL else "torch"


def make_embedder(model: str = DEFAULT_MODEL, batch_size: int = 32, backend: str | None = None) -> Embedder:
    """The embedder for `model`: nothing is loaded until it is first used."""
    backend = backend or default_backend(model)
    if backend not in BACKENDS:
        raise QAError(f"{backend!r} is not a backend.", f"Use one of: {', '.join(BACKENDS)}.")
    if backend == "onnx":
        return OnnxEmbedder(model, batch_size, quantization=default_quantization())
    return SentenceTransformerEmbedder(model, batch_size)


def embedder_for(settings) -> Embedder:
    return make_embedder(settings.model, settings.batch_size, settings.backend)


def preload(embedder: Embedder) -> None:
    """Start loading the model in a background thread: a cold question then opens the index (faiss, numpy)
    while the runtime session is made. A failure here is left for the next use of the model to report."""
    load = getattr(embedder, "load", None)
    if load is None or getattr(embedder, "backend", "") != "onnx":
        return  # torch takes seconds to import: only worth it once the index is known to fit
    import threading

    def run() -> None:
        try:
            load()
        except BaseException:  # noqa: the caller's own load() raises it again, with its one-line message
            pass

    threading.Thread(target=run, name="qa-model-load", daemon=True).start()


__all__ = [
    "DEFAULT_QUANTIZATION", "Embedder", "ModelNotFound", "OnnxEmbedder", "Progress", "QueryCache",
    "SentenceTransformerEmbedder", "default_backend", "default_quantization", "embedder_for", "identity",
    "locate_model", "make_embedder", "preload", "terminal_progress",
]
