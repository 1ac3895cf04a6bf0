"""The default embedder: the exported model on ONNX Runtime, tokenized with `tokenizers`.

No torch, sentence_transformers or transformers on this path once the export is cached: a cold `qa ask`
imports onnxruntime, tokenizers and numpy only.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..config import DEFAULT_MODEL
from .export import Exported, Notice, ensure_exported
from .locate import locate_model
from .protocol import Progress, QueryCache

if TYPE_CHECKING:
    import numpy as np

# Passages per forward pass. Sorted by length first, so a batch pads little; past ~32 the CPU gains nothing
# and a long batch's attention costs more.
BATCH = 32


class OnnxEmbedder(QueryCache):
    backend = "onnx"

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = BATCH, quantization: str = "none",
                 threads: int | None = None, notice: Notice | None = None) -> None:
        super().__init__()
        self.name = name
        self.batch_size = batch_size
        self.quantization = quantization
        self.threads = threads
        self.notice = notice
        self.exported: Exported | None = None
        self._session = None
        self._tokenizer = None
        self._load_lock = threading.Lock()

    def validate(self) -> None:
        """Fail now, cheaply, if the model cannot be found (no import, no network)."""
        locate_model(self.name)

    def load(self) -> None:
        with self._load_lock:
            if self._session is not None:
                return
            from tokenizers import Tokenizer

            from ..onnx_runtime import make_session

            exported = ensure_exported(self.name, self.quantization, self.notice)
            tokenizer = Tokenizer.from_file(str(exported.tokenizer))
            tokenizer.enable_truncation(exported.max_tokens)  # as sentence-transformers' max_seq_length
            tokenizer.no_padding()  # batches are padded here, to their own longest
            self._session = make_session(exported.model, self.threads)
            self._tokenizer = tokenizer
            self.exported = exported

    @property
    def dimension(self) -> int:
        self.load()
        return self.exported.dimension

    @property
    def max_tokens(self) -> int:
        self.load()
        return self.exported.max_tokens

    def _prepare(self, text: str) -> str:
        return text.lower() if self.exported.lowercase else text

    def tokenize_length(self, text: str) -> int:
        self.load()
        return len(self._tokenizer.encode(self._prepare(text)).ids)

    def _tokenize(self, texts: list[str]) -> tuple["np.ndarray", "np.ndarray"]:
        import numpy as np

        encodings = self._tokenizer.encode_batch([self._prepare(t) for t in texts])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype="int64")
        mask = np.zeros((len(encodings), width), dtype="int64")
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        return ids, mask

    def _run(self, ids: "np.ndarray", mask: "np.ndarray") -> "np.ndarray":
        return self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> "np.ndarray":
        import numpy as np

        self.load()
        texts = list(texts)
        total = len(texts)
        out = np.zeros((total, self.exported.dimension), dtype="float32")
        if total == 0:
            return out
        # Longest first, so each batch holds similar lengths (little padding); order is restored after.
        order = sorted(range(total), key=lambda i: -len(texts[i]))
        batches = [order[b : b + self.batch_size] for b in range(0, total, self.batch_size)]
        # The next batch is tokenized while this one runs (both release the GIL): the model never waits.
        from concurrent.futures import ThreadPoolExecutor

        done = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-tokenize") as pool:
            pending = pool.submit(self._tokenize, [texts[i] for i in batches[0]])
            for n, idx in enumerate(batches):
                ids, mask = pending.result()
                if n + 1 < len(batches):
                    pending = pool.submit(self._tokenize, [texts[i] for i in batches[n + 1]])
                out[idx] = self._run(ids, mask)
                done += len(idx)
                if progress:
                    progress(done, total)
        return out

    def _embed_one(self, text: str) -> "np.ndarray":
        import numpy as np

        self.load()
        ids = np.asarray([self._tokenizer.encode(self._prepare(text)).ids], dtype="int64")
        return self._run(ids, np.ones_like(ids))[0].astype("float32", copy=False)
