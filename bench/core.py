"""The bench's state: the plan, the figures measured so far, the embedder of this run, shared artefacts."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from bench.common import FULL, QUICK, ROOT, FakeEmbedder, Figure, Plan, make_embedder, run_child


class BenchCore:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.plan = QUICK if args.quick else FULL
        if args.scifact_docs is not None:
            self.plan = Plan(**{**asdict(self.plan), "scifact_docs": args.scifact_docs})
        if getattr(args, "sizes", None):
            self.plan = Plan(**{**asdict(self.plan), "synthetic": tuple(args.sizes)})
        self.fake = args.fake
        self.cache = Path(args.cache).resolve()
        self.cache.mkdir(parents=True, exist_ok=True)
        self.scifact = Path(args.scifact).resolve()
        self.figures: list[Figure] = []
        self.details: dict[str, dict] = {}
        self._embedder = None

    @property
    def tag(self) -> str:
        return "fake" if self.fake else "real"

    def embedder(self):
        if self._embedder is None:
            self._embedder = make_embedder(self.fake)
        return self._embedder

    @property
    def model_desc(self) -> str:
        return "fake embedder" if self.fake else "real model"

    @property
    def model_name(self) -> str:
        from qa.config import DEFAULT_MODEL

        return FakeEmbedder.name if self.fake else DEFAULT_MODEL

    @property
    def identity(self) -> tuple[str, str]:
        from bench.common import run_identity

        return run_identity(self.fake)

    @property
    def dimension(self) -> int:
        return FakeEmbedder.dimension if self.fake else 384

    def add(self, section: str, key: str, label: str, value, unit: str, target: str = "", met: bool | None = None, note: str = "") -> None:
        fig = Figure(section, key, label, value, unit, target, met, note)
        self.figures.append(fig)
        from bench.table import format_value

        shown = format_value(value, unit)
        extra = (f"  [target {target}: {'met' if met else 'MISSED'}]" if met is not None else f"  [target {target}]") if target else ""
        print(f"{section:12s} {label}: {shown}{' (' + note + ')' if note else ''}{extra}", flush=True)

    def skip(self, section: str, key: str, label: str, unit: str, why: str) -> None:
        self.add(section, key, label, None, unit, note=why)

    def worker(self, kind: str, *extra: str, timeout: float = 7200) -> dict:
        args = [sys.executable, str(ROOT / "bench" / "run.py"), "--worker", kind, "--cache", str(self.cache), *extra]
        if self.fake:
            args.append("--fake")
        _, proc = run_child(args, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"worker {kind} failed: {proc.stderr.strip()[-2000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    # ------------------------------------------------------------ shared artefacts

    def seed_index(self) -> Path:
        """The sample articles indexed with this run's embedder (incremental: a no-op when up to date)."""
        from qa.config import load_settings
        from qa.indexer import build_index

        index = self.cache / f"seed-{self.tag}" / "index"
        build_index(load_settings(articles=ROOT / "articles", index=index), self.embedder())
        return index

