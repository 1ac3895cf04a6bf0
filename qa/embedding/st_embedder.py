"""sentence-transformers on torch: the embedder for any model other than the packaged default
(or for the default with QA_BACKEND=torch). torch and sentence_transformers load on first use."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..config import DEFAULT_MODEL
from ..errors import QAError
from .locate import HINT, locate_model
from .protocol import Progress, QueryCache

if TYPE_CHECKING:
    import numpy as np


def quiet_hub_libraries() -> None:
    """transformers' warnings and progress bars are not for the user (set before a model loads)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass


def load_sentence_transformer(name: str, **options):
    """The SentenceTransformer for `name`, on the CPU, never from the network (see locate_model)."""
    path = locate_model(name)
    quiet_hub_libraries()
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(path, device="cpu", **options)
    except Exception as exc:  # many failure types (files, config): one message
        raise QAError(f"Could not load the embedding model {name!r}: {exc}".splitlines()[0], HINT) from exc


class SentenceTransformerEmbedder(QueryCache):
    """sentence-transformers on the CPU; the model loads on first use, not at construction."""

    backend = "torch"
    quantization = "none"

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        super().__init__()
        self.name = name
        self.batch_size = batch_size
        self._model = None

    def validate(self) -> None:
        """Fail now, cheaply, if the model cannot be found (no import, no network)."""
        locate_model(self.name)

    def load(self) -> None:
        if self._model is None:
            self._model = load_sentence_transformer(self.name)

    @property
    def dimension(self) -> int:
        self.load()
        model = self._model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        self.load()
        return int(self._model.max_seq_length)

    def tokenize_length(self, text: str) -> int:
        """Number of word pieces the model sees for `text` (with special tokens)."""
        self.load()
        return len(self._model.tokenizer(text)["input_ids"])

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> "np.ndarray":
        import numpy as np

        self.load()
        texts = list(texts)
        total = len(texts)
        if total == 0:
            return np.zeros((0, self.dimension), dtype="float32")
        # Longest first groups similar lengths in a batch (less padding); order is restored after.
        order = sorted(range(total), key=lambda i: -len(texts[i]))
        out = np.zeros((total, self.dimension), dtype="float32")
        step = max(1, self.batch_size * 4)
        done = 0
        for begin in range(0, total, step):
            idx = order[begin : begin + step]
            vectors = self._model.encode(
                [texts[i] for i in idx],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = vectors.astype("float32", copy=False)
            done += len(idx)
            if progress:
                progress(done, total)
        return out

    def _embed_one(self, text: str) -> "np.ndarray":
        """One forward pass through the model's own modules, without encode()'s per-call set-up
        (mode switches, sorting, device moves), which costs as much as the pass for a short question."""
        import numpy as np
        import torch

        self.load()
        model = self._model
        if model.training:
            model.eval()
        prepare = getattr(model, "preprocess", None) or model.tokenize
        features = prepare([text])
        with torch.inference_mode():
            vector = model(features)["sentence_embedding"][0].float().numpy()
        norm = float(np.linalg.norm(vector)) or 1.0
        return (vector / norm).astype("float32")
