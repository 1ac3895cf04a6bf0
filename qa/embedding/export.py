"""The one-time ONNX export of a sentence-transformers model, and the checksum-verified cache it lives in.

Layout under the cache folder ($QA_CACHE_DIR, default the user cache folder):
    onnx/<model>-<fp32|int8>-<fingerprint>/   model.onnx, tokenizer.json, embedder.json (sizes, checksums)
The fingerprint is taken from the source model's files, so a changed model exports again. A folder
whose checksums do not match (a damaged or half-copied file) is exported again, never loaded. Exports
are written beside the cache folder and renamed into place, under a lock, so two processes starting at
once export once and a crash mid-export leaves nothing half-written in use.

This module imports torch only inside the export itself: the question path never reaches it once the model
is cached.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import cache_dir
from ..errors import QAError
from .locate import locate_model

EXPORT_VERSION = 2  # 2: eager attention, fused for ONNX Runtime
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "embedder.json"
QUANTIZATIONS = ("none", "int8")
OPSET = 17

Notice = Callable[[str], None]


def stderr_notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Exported:
    folder: Path
    dimension: int
    max_tokens: int
    lowercase: bool
    inputs: tuple[str, ...]
    quantization: str
    seconds: float  # how long the export took
    bytes: int  # size of model.onnx

    @property
    def model(self) -> Path:
        return self.folder / MODEL_FILE

    @property
    def tokenizer(self) -> Path:
        return self.folder / TOKENIZER_FILE


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_fingerprint(source: str) -> str:
    """Names and sizes of the model's files, and the bytes of its small ones (configs, tokenizer, vocab):
    stable across reinstalls (which change mtimes), different when the model is."""
    digest = hashlib.sha256(f"export {EXPORT_VERSION}\n".encode())
    root = Path(source)
    if not root.is_dir():  # a hub id, only when downloads are allowed
        digest.update(source.encode())
        return digest.hexdigest()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".cache" not in p.parts):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(root).as_posix()}\0{size}\n".encode())
        if size <= 4 << 20:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).name or name).strip("-")[:60] or "model"


def cache_folder(name: str, quantization: str) -> Path:
    source = locate_model(name)
    label = "fp32" if quantization == "none" else quantization
    return cache_dir() / "onnx" / f"{_slug(name if not Path(name).expanduser().is_dir() else source)}-{label}-{source_fingerprint(source)[:16]}"


def verify(folder: Path) -> Exported | str:
    """The cached export, or why it cannot be used ("missing" or a reason it is damaged)."""
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.exists():
        return "missing"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("export_version") != EXPORT_VERSION:
            return "from another version"
        for file, expected in manifest["files"].items():
            path = folder / file
            if not path.is_file():
                return f"{file} is missing"
            if path.stat().st_size != expected["bytes"] or sha256_file(path) != expected["sha256"]:
                return f"{file} does not match its checksum"
        return Exported(
            folder,
            int(manifest["dimension"]),
            int(manifest["max_tokens"]),
            bool(manifest["lowercase"]),
            tuple(manifest["inputs"]),
            str(manifest["quantization"]),
            float(manifest["seconds"]),
            int(manifest["files"][MODEL_FILE]["bytes"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"its manifest is unreadable ({type(exc).__name__})"


def ensure_exported(name: str, quantization: str = "none", notice: Notice | None = None) -> Exported:
    """The verified export of `name`, exporting it first when missing or damaged (once, under a lock)."""
    if quantization not in QUANTIZATIONS:
        raise QAError(f"Unknown quantization {quantization!r}.", f"Use one of: {', '.join(QUANTIZATIONS)}.")
    folder = cache_folder(name, quantization)
    found = verify(folder)
    if isinstance(found, Exported):
        return found
    notice = notice or stderr_notice
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(folder.parent / f".{folder.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise QAError(f"Cannot write the model cache in {folder.parent} ({exc.strerror or exc}).",
                      "Set QA_CACHE_DIR to a folder you can write to.") from exc
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process exporting the same model: wait for it
        found = verify(folder)
        if isinstance(found, Exported):
            return found
        what = "Preparing the embedding model for ONNX Runtime (one time)" if found == "missing" else \
            f"The cached ONNX model in {folder} is damaged ({found}); exporting it again"
        notice(f"{what}…")
        started = time.perf_counter()
        tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            if quantization == "none":
                manifest = _export_fp32(name, tmp)
            else:
                manifest = _quantize(ensure_exported(name, "none", lambda _m: None), tmp, quantization)
            manifest["seconds"] = round(time.perf_counter() - started, 2)
            manifest["files"] = {f: {"bytes": (tmp / f).stat().st_size, "sha256": sha256_file(tmp / f)} for f in (MODEL_FILE, TOKENIZER_FILE)}
            (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        except BaseException:  # noqa: cleanup only; re-raised below
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        found = verify(folder)
        if not isinstance(found, Exported):  # pragma: no cover - a disk that loses what it was just given
            raise QAError(f"The ONNX export in {folder} could not be verified ({found}).", "Check the disk, or set QA_CACHE_DIR elsewhere.")
        return found
    finally:
        os.close(lock)


def _export_fp32(name: str, out: Path) -> dict:
    """sentence-transformers' whole pipeline (transformer, pooling, any dense layers) traced into one graph,
    then normalised as encode(normalize_embeddings=True) does."""
    import warnings

    import torch

    from .st_embedder import load_sentence_transformer

    # Eager attention traces to plain MatMul/Softmax, which ONNX Runtime's transformer optimizer fuses into
    # its Attention kernel (sdpa's traced graph is not recognised and runs about 1.5x slower).
    model = load_sentence_transformer(name, model_kwargs={"attn_implementation": "eager"})
    model.eval()
    tokenizer = model.tokenizer
    with_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
    first = model[0]

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            if with_types:
                features["token_type_ids"] = torch.zeros_like(input_ids)
            vectors = self.model(features)["sentence_embedding"]
            return torch.nn.functional.normalize(vectors, p=2, dim=1)

    prepare = getattr(model, "preprocess", None) or model.tokenize
    sample = prepare(["an example passage for tracing", "and a second, longer one, so the batch pads"])
    args = (sample["input_ids"], sample["attention_mask"])
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shapes: the graph is checked by the tests
        torch.onnx.export(
            Pipeline(),
            args,
            str(out / "traced.onnx"),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "sentence_embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    fused = _fuse(out / "traced.onnx", out / MODEL_FILE, getattr(getattr(first, "auto_model", None), "config", None))
    backend = tokenizer.backend_tokenizer  # the fast tokenizer's own `tokenizers` object
    backend.no_truncation()
    backend.no_padding()
    backend.save(str(out / TOKENIZER_FILE))
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return {
        "export_version": EXPORT_VERSION,
        "source": str(locate_model(name)),
        "name": name,
        "dimension": int(dimension()),
        "max_tokens": int(model.max_seq_length),
        "lowercase": bool(getattr(first, "do_lower_case", False)),
        "inputs": ["input_ids", "attention_mask"],
        "pad_id": int(tokenizer.pad_token_id or 0),
        "quantization": "none",
        "fused": fused,
        "torch": torch.__version__,
    }


def _fuse(traced: Path, out: Path, config) -> bool:
    """ONNX Runtime's offline transformer fusions (attention, layer norm, GELU) for BERT-type encoders;
    other architectures keep the traced graph, which the runtime's own optimizations still speed up."""
    if config is None or getattr(config, "model_type", "") != "bert":
        os.replace(traced, out)
        return False
    import logging

    from onnxruntime.transformers.optimizer import optimize_model

    logger = logging.getLogger("onnxruntime.transformers")
    level, logger.level = logger.level, logging.ERROR
    try:
        # opt_level 1: only portable graph rewrites are saved; the rest is redone for the machine at load.
        optimized = optimize_model(str(traced), model_type="bert", num_heads=int(config.num_attention_heads),
                                   hidden_size=int(config.hidden_size), opt_level=1)
        optimized.save_model_to_file(str(out))
    finally:
        logger.level = level
    traced.unlink()
    return True


def _quantize(fp32: Exported, out: Path, quantization: str) -> dict:
    """Dynamic int8 quantization of the weights (activations stay float), from the fp32 export."""
    import logging

    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR  # its advice to pre-process is for image models
    try:
        # The fused Attention op is outside the ONNX domain, so shape inference cannot type its outputs: say float.
        quantize_dynamic(str(fp32.model), str(out / MODEL_FILE), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
    finally:
        root.level = level
    shutil.copy(fp32.tokenizer, out / TOKENIZER_FILE)
    manifest = json.loads((fp32.folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest.pop("files", None)
    manifest["quantization"] = quantization
    return manifest
