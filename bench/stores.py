"""`make bench` section `stores`: the Milvus store beside the FAISS store, through the same `qa eval` commands.

    python bench/run.py --only stores

For each store: `qa eval beir <scifact> --json` (indexes all 5,183 abstracts with the real model, then scores
the 300 test queries) and `qa eval questions` on both question sets over the sample articles. Milvus runs as
milvus-lite embedded (a .db file in a temporary folder), or against $QA_BENCH_MILVUS_URI when set.
Figures: nDCG@10 and answer_contains per store and their difference (issue 13 asks for ≤ 0.01), index and
query times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION_SETS = ("tests/data/questions.jsonl", "tests/data/questions_dev.jsonl")


def _eval(args: list[str], store: str, work: Path) -> dict:
    from bench.common import child_env

    env = child_env(QA_STORE=store, QA_INDEX_DIR=str(work / "index"), QA_ARTICLES_DIR=str(ROOT / "articles"))
    if store == "milvus" and os.environ.get("QA_BENCH_MILVUS_URI"):
        env["QA_MILVUS_URI"] = os.environ["QA_BENCH_MILVUS_URI"]
    cmd = ["nice", "-n", "10", sys.executable, "-m", "qa", "eval", *args, "--json"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=7200)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} ({store}) failed: {proc.stderr.strip()[-1500:]}")
    return json.loads(proc.stdout)


def run(bench) -> None:
    from bench.common import log

    if bench.fake:
        bench.skip("stores", "scifact", "SciFact nDCG@10, Milvus vs FAISS", "nDCG@10", "skipped with --fake")
        return
    try:
        import pymilvus  # noqa: F401  (only whether it is installed)
    except ImportError:
        bench.skip("stores", "scifact", "SciFact nDCG@10, Milvus vs FAISS", "nDCG@10", "pymilvus not installed (pip install '.[milvus]')")
        return
    details: dict = {}
    # The whole SciFact by default; `--quick` (or QA_BENCH_STORES_BEIR=DIR) uses the shipped 330-document,
    # 30-query slice, which a busy machine indexes twice in minutes instead of hours.
    scifact = Path(os.environ.get("QA_BENCH_STORES_BEIR") or (ROOT / "tests" / "data" / "scifact30" if bench.args.quick else bench.scifact))
    results: dict[str, dict] = {}
    for store in ("faiss", "milvus"):
        with tempfile.TemporaryDirectory(prefix=f"qa-bench-{store}-") as tmp:
            work = Path(tmp)
            if (scifact / "corpus.jsonl").exists():
                log(f"stores: qa eval beir {scifact} with the {store} store (indexes the whole corpus)…")
                results[f"{store}.beir"] = _eval(["beir", str(scifact), "--work-dir", str(work / "beir")], store, work)
            for qs in QUESTION_SETS:
                log(f"stores: qa eval questions {qs} with the {store} store…")
                results[f"{store}.{Path(qs).stem}"] = _eval(["questions", qs], store, work)
    details.update(results)
    if "faiss.beir" in results:
        f, m = results["faiss.beir"], results["milvus.beir"]
        diff = abs(f["ndcg@10"] - m["ndcg@10"])
        corpus = f"SciFact ({f['docs']:,} documents, {f['queries']} queries)"
        bench.add("stores", "scifact_ndcg", f"{corpus} nDCG@10: FAISS / Milvus (milvus-lite)", f"{f['ndcg@10']:.4f} / {m['ndcg@10']:.4f}", "",
                  target="within 0.01 (issue 13)", met=diff <= 0.01, note=f"difference {diff:.4f}; recall@100 {f['recall@100']:.3f} / {m['recall@100']:.3f}")
        bench.add("stores", "scifact_index", f"index the {f['docs']:,} abstracts (real model): FAISS / Milvus",
                  f"{f['index_seconds']:.0f} s / {m['index_seconds']:.0f} s", "", note="embedding dominates both")
        bench.add("stores", "scifact_query", "retrieval per SciFact query p50: FAISS / Milvus", f"{f['query_ms_p50']:.1f} ms / {m['query_ms_p50']:.1f} ms", "",
                  note="hybrid: embedding, dense and keyword search, fusion")
    for qs in QUESTION_SETS:
        name = Path(qs).stem
        f, m = results[f"faiss.{name}"], results[f"milvus.{name}"]
        diff = abs((f["answer_contains"] or 0) - (m["answer_contains"] or 0))
        bench.add("stores", f"{name}_answers", f"{name}: answer_contains FAISS / Milvus", f"{f['answer_contains']:.3f} / {m['answer_contains']:.3f}", "",
                  target="within 0.01 (issue 13)", met=diff <= 0.01,
                  note=f"source_hit@1 {f['source_hit@1']:.3f} / {m['source_hit@1']:.3f}; refusal recall {f['refusal_recall']} / {m['refusal_recall']}")
    bench.details["stores"] = details
