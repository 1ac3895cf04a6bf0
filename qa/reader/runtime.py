"""The shipped reader at answer time: ONNX Runtime and `tokenizers` only (no torch, no transformers).

Scores (question, candidate sentence | title) pairs: a logit, high when the sentence answers the question.
The weights ship in qa/reader/model/ with their sha256 in reader.json, checked once on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from ..errors import QAError
from .model_io import MAX_TOKENS, candidate_text

MODEL_DIR = Path(__file__).resolve().parent / "model"


class ReaderDamaged(QAError):
    """The shipped reader weights are missing or fail their checksum."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Reader:
    """Lazy: the model loads on the first call to `scores` (or `load`), once, thread-safely."""

    def __init__(self, model_dir: Path | str | None = None, threads: int | None = None) -> None:
        self.model_dir = Path(model_dir or os.environ.get("QA_READER_DIR") or MODEL_DIR)
        self.threads = threads or min(2, os.cpu_count() or 1)
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self.info: dict = {}

    @property
    def name(self) -> str:
        return f"reader:{self.model_dir.name}"

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            meta_path = self.model_dir / "reader.json"
            hint = "Restore qa/reader/model/ from git (git checkout -- qa/reader/model) or run `make train-reader`."
            try:
                info = json.loads(meta_path.read_text())
                files = info["files"]
                for name, digest in files.items():
                    if _sha256(self.model_dir / name) != digest:
                        raise ReaderDamaged(f"The reader model file {self.model_dir / name} is damaged (checksum mismatch).", hint)
            except ReaderDamaged:
                raise
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise ReaderDamaged(f"The reader model in {self.model_dir} cannot be read ({type(e).__name__}).", hint) from None
            from tokenizers import Tokenizer

            from ..onnx_runtime import make_session

            tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            tok.enable_truncation(max_length=int(info.get("max_tokens", MAX_TOKENS)), strategy="longest_first")
            tok.enable_padding(pad_id=0, pad_token="[PAD]")
            try:
                session = make_session(self.model_dir / "model.onnx", threads=self.threads)
            except Exception as e:  # onnxruntime raises its own exception types for a corrupt graph
                raise ReaderDamaged(f"The reader model in {self.model_dir} cannot be loaded ({type(e).__name__}).", hint) from None
            self.info = info
            self._tokenizer = tok
            self._session = session

    def scores(self, question: str, candidates: list[tuple[str, str]]) -> list[float]:
        """Logits for (sentence, title) candidates, in their order."""
        if not candidates:
            return []
        self.load()
        import numpy as np

        enc = self._tokenizer.encode_batch([(question, candidate_text(s, t)) for s, t in candidates])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        (logits,) = self._session.run(None, feed)
        return [float(x) for x in logits.reshape(-1)]


_DEFAULT: Reader | None = None


def default_reader() -> Reader:
    """One shared reader per process (the chat app, the CLI and the eval ask through it)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Reader()
    return _DEFAULT
