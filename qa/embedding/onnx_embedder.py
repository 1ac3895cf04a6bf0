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

# Passages per forward pass at most. Sorted by token count first, so a batch pads little; past ~32 the CPU
# gains nothing and a long batch's attention costs more.
BATCH = 32
# Tokens (rows x padded width) per forward pass at most: short passages go up to 32 at a time, long ones
# fewer. Small passes keep the activations in the cores' caches: on the idle 2 cores, 512 took 12-15 % less
# time than 2,048 on the sample articles (mean 45 tokens) and ~3 % less on SciFact (mean 118), 1,024 in
# between (three interleaved runs each). Any budget is ~30 % less CPU than batches grouped by characters.
TOKEN_BUDGET = 512


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
        self.token_budget = TOKEN_BUDGET
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

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indexes grouped for the model: longest first, each group within the row and token limits."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batches: list[list[int]] = []
        for i in order:
            # The first (longest) row sets the group's padded width.
            if batches and len(batches[-1]) < self.batch_size and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= self.token_budget:
                batches[-1].append(i)
            else:
                batches.append([i])
        return batches

    @staticmethod
    def _pad(rows: list[list[int]]) -> tuple["np.ndarray", "np.ndarray"]:
        import numpy as np

        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype="int64")
        mask = np.zeros((len(rows), width), dtype="int64")
        for row, r in enumerate(rows):
            ids[row, : len(r)] = r
            mask[row, : len(r)] = 1
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
        # All of it is tokenized first (one call, in parallel in Rust: about 1 % of the model's time), so that
        # batches are grouped by token count, which pads far less than grouping by characters (SciFact: 5 %
        # padding instead of 33 %); order is restored after.
        rows = [e.ids for e in self._tokenizer.encode_batch([self._prepare(t) for t in texts])]
        done = 0
        for idx in self._batches([len(r) for r in rows]):
            out[idx] = self._run(*self._pad([rows[i] for i in idx]))
            done += len(idx)
            if progress:
                progress(done, total)
        return out

    def _embed_one(self, text: str) -> "np.ndarray":
        import numpy as np

        self.load()
        ids = np.asarray([self._tokenizer.encode(self._prepare(text)).ids], dtype="int64")
        return self._run(ids, np.ones_like(ids))[0].astype("float32", copy=False)
