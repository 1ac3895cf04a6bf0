#!/usr/bin/env python3
"""`make bench`: measure the assistant's speed, print each figure, write bench/results.json and
regenerate the results table in docs/benchmarks.md from it.

Sections (all by default, or one with --only NAME):
  imports      python start, `import qa.cli`, onnxruntime and the model load; torch/sentence-transformers beside (fresh processes)
  export       the one-time ONNX export into an empty cache: seconds and size
  build        index build throughput (the indexer's full build, ONNX Runtime) beside a plain SentenceTransformer.encode loop
  incremental  add one article / rescan / rename 1,000 files at 10,000 articles (real indexer, warm process)
  ask          warm answer latency p50/p95 and peak RSS at several index sizes (one worker process per size)
  cli          `qa --help`, `qa ask` (beside `import sentence_transformers`, and its peak RSS), an unknown model, an empty
               folder and `qa index --full`, in fresh processes
  tui          the chat app's first paint and first answer (`python -m tui.measure --json`, if it exists)
  formats      files/s reading web pages, PDFs and Word files beside plain text (bench/formats.py)

Expensive inputs (article folders, indexes) are cached under bench/cache/, so a second run is quick.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))  # measure the checkout this script lives in

from bench.ask import AskArea, worker_ask, worker_synth  # noqa: E402
from bench.build import BuildArea  # noqa: E402
from bench.common import DEFAULT_SCIFACT, ROOT, git_commit, log, machine_info  # noqa: E402
from bench.core import BenchCore  # noqa: E402
from bench.startup import StartupArea  # noqa: E402
from bench.table import render_table, update_readme  # noqa: E402

SECTIONS = ("imports", "export", "build", "incremental", "ask", "cli", "tui", "formats")


class Bench(StartupArea, BuildArea, AskArea, BenchCore):
    """One area per module; each `run_<section>` adds its figures."""

    def run_formats(self) -> None:
        from bench.formats import run

        run(self)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench/run.py", description="Measure speed; write bench/results.json and the table in docs/benchmarks.md.")
    ap.add_argument("--quick", action="store_true", help="small sizes (a minute or two), for a smoke test")
    ap.add_argument("--only", choices=SECTIONS, action="append", help="run only this section (repeatable); other figures are kept from the previous results")
    ap.add_argument("--fake", action="store_true", help="a hashing embedder instead of the model (tests of the bench itself)")
    ap.add_argument("--scifact", default=str(DEFAULT_SCIFACT), help="SciFact in BEIR layout (default ../shared/bench/scifact)")
    ap.add_argument("--scifact-docs", type=int, default=None, help="abstracts for the build throughput figure (0: all)")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="passages in the synthetic latency indexes (default 100000 1000000)")
    ap.add_argument("--real-10k", action="store_true", help="build the 10,000-article index with the real model instead of placeholder vectors (slow, cached)")
    ap.add_argument("--cache", default=str(ROOT / "bench" / "cache"), help="where built folders and indexes are kept")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    ap.add_argument("--readme", "--table", default=str(ROOT / "docs" / "benchmarks.md"), help="Markdown file whose results table is regenerated ('' to skip)")
    ap.add_argument("--note", default="", help="a remark stored with the machine description (e.g. other load)")
    # Internal: a fresh worker process for one measurement.
    ap.add_argument("--worker", choices=("ask", "synth"), help=argparse.SUPPRESS)
    ap.add_argument("--index", help=argparse.SUPPRESS)
    ap.add_argument("--articles", help=argparse.SUPPRESS)
    ap.add_argument("--passages", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--questions", default="scifact", help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=100, help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=int, default=5, help=argparse.SUPPRESS)
    ap.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        result = worker_ask(args) if args.worker == "ask" else worker_synth(args)
        print(json.dumps(result))
        return 0
    bench = Bench(args)
    sections = args.only or list(SECTIONS)
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    for name in sections:
        log(f"== {name}")
        getattr(bench, f"run_{name}")()
    load_end = os.getloadavg()[0]
    out = Path(args.out)
    previous = {}
    if args.only and out.exists():
        previous = json.loads(out.read_text(encoding="utf-8"))
    kept = [f for f in previous.get("figures", []) if f["section"] not in sections]
    machine = machine_info()
    note = f"1-minute load average {load_start:.1f} at start, {load_end:.1f} at end"
    # The bench itself keeps about one core busy; more than that at the start means other work.
    if load_start >= 1.5:
        note += ": other jobs were running on this machine, so times are pessimistic"
    machine["note"] = (args.note + "; " if args.note else "") + note + "."
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    section_dates = {k: v for k, v in previous.get("run", {}).get("section_dates", {}).items() if k not in sections}
    section_dates.update(dict.fromkeys(sections, now))
    results = {
        "machine": machine,
        "run": {
            "date": now,
            "section_dates": section_dates,
            "quick": args.quick,
            "fake_embedder": args.fake,
            "commit": git_commit(),
            "sections": sections if not args.only else sorted(set(sections) | {f["section"] for f in kept}),
            "seconds": round(time.perf_counter() - started, 1),
        },
        "figures": kept + [asdict(f) for f in bench.figures],
        "details": {**previous.get("details", {}), **bench.details},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {out} ({results['run']['seconds']} s)")
    if args.readme:
        readme = Path(args.readme)
        readme.write_text(update_readme(readme.read_text(encoding="utf-8"), render_table(results)), encoding="utf-8")
        log(f"updated the results table in {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
