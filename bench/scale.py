"""`make bench` section `scale`: the local store at a million passages, and Milvus beside FAISS.

    python bench/run.py --only scale [--quick]

A synthetic archive: 100,000 article files on disk (10 passages each, text drawn from SciFact's word
frequencies) indexed with *clustered* synthetic vectors (a mixture of 2,000 topic directions, so that an IVF
index has structure to find, as with real embeddings; uniformly random vectors have none). Each figure comes
from a fresh worker process (python -m bench.scale --worker NAME):

  open      opening the index (Assistant.index()), RSS after
  recall    recall@10 of the store's dense search against exact search over all vectors, and its latency
  ask       warm `Assistant.ask` p50 with the real model, and the process's peak RSS (qa ask's path)
  update    add one article, then delete one (real model, timed without imports and model load), the bytes
            each wrote (/proc/self/io write_bytes) against the index's size
  compact   a full `qa index --compact`
Expensive inputs are cached in bench/cache/scale-N/. Run it under `nice`, once: it builds for minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PER_ARTICLE = 10
TOPICS = 2000
RECIPE = 3  # 3: vectors recorded as the default embedder's (ONNX), as `qa index` writes them
TARGETS = {"open_s": 1.0, "add_s": 2.0, "delete_s": 2.0, "bytes_ratio": 0.01, "rss_mb": 1536.0, "p50_ms": 50.0, "recall": 0.95}


def _io_written() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _vocab(scifact: Path):
    import numpy as np

    from qa.text import words

    counts: dict[str, int] = {}
    corpus = scifact / "corpus.jsonl"
    texts = [json.loads(line)["text"] for line in open(corpus, encoding="utf-8")] if corpus.exists() else \
        [p.read_text(encoding="utf-8") for p in (ROOT / "articles").glob("*.txt")]
    for text in texts:
        for w in words(text):
            counts[w] = counts.get(w, 0) + 1
    vocab = sorted(counts, key=lambda w: -counts[w])[:30_000]
    probs = np.array([counts[w] for w in vocab], dtype="float64")
    return vocab, probs / probs.sum()


def clustered_vectors(rng, n: int, dim: int, centres):
    """Unit vectors near one of the topic directions: cosine to the topic ~0.6, like passages on one subject."""
    import numpy as np

    topic = rng.integers(0, len(centres), size=n)
    vecs = centres[topic] + 0.75 * rng.standard_normal((n, dim), dtype=np.float32) / np.sqrt(dim)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs.astype("float32")


def build(args) -> dict:
    """Write the article files and the index (through the store's own writer), timed."""
    import numpy as np

    from qa.config import DEFAULT_MODEL, load_settings
    from qa.embedding import embedder_for, identity
    from qa.documents import SPLITTER_VERSION, Passage
    from qa.stores.local_writer import LocalWriter
    from qa.stores.meta import FORMAT_VERSION, FileRecord, Meta

    n, dim = args.passages, 384
    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    articles, index_dir = root / "articles", root / "index"
    vocab, probs = _vocab(Path(args.scifact))
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((TOPICS, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    np.save(root.mkdir(parents=True) or root / "centres.npy", centres)
    started = time.perf_counter()
    # Recorded as the default embedder's vectors (ONNX Runtime for the packaged model), so `qa ask` and
    # `qa index` with default settings open this index exactly as a user's.
    backend, quantization = identity(embedder_for(load_settings()))
    writer = LocalWriter(index_dir, None, Meta(FORMAT_VERSION, DEFAULT_MODEL, dim, SPLITTER_VERSION, backend=backend, quantization=quantization))
    length, chunk = 48, 20_000
    try:
        for begin in range(0, n, chunk):
            m = min(chunk, n - begin)
            picks = rng.choice(len(vocab), size=(m, length), p=probs)
            passages, texts = [], {}
            for j in range(m):
                art, para = divmod(begin + j, PER_ARTICLE)
                ws = [vocab[k] for k in picks[j]]
                text = " ".join(" ".join(ws[s : s + 12]).capitalize() + "." for s in range(0, length, 12))
                source = f"synthetic/{art // 1000:04d}/{art:07d}.txt"
                passages.append(Passage(source, para + 1, 2 * para + 3, 2 * para + 3, 0, len(text), text, f"Synthetic article {art}", None))
                texts.setdefault(source, []).append(text)
            writer.add_passages(passages, clustered_vectors(rng, m, dim, centres))
            for source, paras in texts.items():
                path = articles / source
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"Synthetic article {source}\n\n" + "\n\n".join(paras) + "\n", encoding="utf-8")
                st = path.stat()
                writer.put_file(FileRecord(source, st.st_size, st.st_mtime_ns, f"synthetic-{source}", source, None, len(paras)))
            print(f"scale: {begin + m:,}/{n:,} passages", file=sys.stderr, flush=True)
        writer.commit(time.perf_counter() - started)
    except BaseException:
        writer.abort()
        raise
    (root / "stamp.json").write_text(json.dumps({"passages": n, "recipe": RECIPE}))
    return {"passages": n, "build_s": time.perf_counter() - started, "index_bytes": _tree_bytes(index_dir)}


def _settings(args):
    from qa.config import load_settings

    root = Path(args.dir)
    return load_settings(articles=root / "articles", index=root / "index")


def _rss(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def w_open(args) -> dict:
    from qa.assistant import Assistant
    from qa.embedding import embedder_for

    import faiss  # noqa: F401  (imports are the Start-up section's figures; this one is opening)

    settings = _settings(args)
    assistant = Assistant(settings, embedder=embedder_for(settings))  # the model is not loaded by opening
    rss0 = _rss("VmRSS")
    started = time.perf_counter()
    index = assistant.index()
    open_s = time.perf_counter() - started
    return {"open_s": open_s, "rss_open_mb": _rss("VmRSS") - rss0, "passages": index.meta.passages, **index.describe()}


def w_recall(args) -> dict:
    import numpy as np

    from qa.stores.local import LocalStore

    store = LocalStore.open(Path(args.dir) / "index")
    rng = np.random.default_rng(1)
    centres = np.load(Path(args.dir) / "centres.npy")
    queries = clustered_vectors(rng, args.count, store.meta.dimension, centres)
    exact = [[] for _ in queries]
    for seg in store.segments:  # brute force over every vector, in blocks
        ids = np.asarray(seg.ids)
        for begin in range(0, len(ids), 200_000):
            block = np.asarray(seg.vectors[begin : begin + 200_000])
            scores = queries @ block.T
            for qi in range(len(queries)):
                top = np.argpartition(-scores[qi], 10)[:10]
                exact[qi].extend(zip(scores[qi][top].tolist(), ids[begin + top].tolist()))
    dead = set(store.dead.tolist())
    truth = [{i for _, i in sorted((p for p in e if p[1] not in dead), reverse=True)[:10]} for e in exact]
    hits, times = 0, []
    for q, t in zip(queries, truth):
        started = time.perf_counter()
        got = store.dense_search(q, 10)
        times.append((time.perf_counter() - started) * 1000)
        hits += len({i for i, _ in got} & t)
    times.sort()
    return {"recall_at_10": hits / (10 * len(queries)), "queries": len(queries), "dense_p50_ms": times[len(times) // 2], **store.describe()}


def w_ask(args) -> dict:
    from qa.assistant import Assistant
    from qa.embedding import embedder_for

    emb = embedder_for(_settings(args))  # what `qa ask` uses: ONNX Runtime for the packaged model
    emb.load()
    questions = [json.loads(line)["text"] for line in open(Path(args.scifact) / "queries.jsonl", encoding="utf-8")][: args.count + 5] \
        if (Path(args.scifact) / "queries.jsonl").exists() else ["Where did the foreign ministers meet?"] * (args.count + 5)
    assistant = Assistant(_settings(args), embedder=emb)
    started = time.perf_counter()
    assistant.index()
    open_s = time.perf_counter() - started
    for q in questions[:5]:
        assistant.ask(q)
    from bench.common import clear_query_cache

    times, cpu = [], []
    for q in questions[5:]:
        clear_query_cache(emb)  # each question embedded afresh
        t0, c0 = time.perf_counter(), time.process_time()
        assistant.ask(q)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)  # barely moves when other jobs share the machine
    times.sort()
    cpu.sort()
    return {"p50_ms": times[len(times) // 2], "p95_ms": times[int(len(times) * 0.95) - 1], "questions": len(times),
            "cpu_p50_ms": cpu[len(cpu) // 2], "peak_rss_mb": _rss("VmHWM"), "open_s": open_s, "load": os.getloadavg()[0]}


def w_update(args) -> dict:
    from qa.embedding import embedder_for
    from qa.indexer import build_index

    import faiss  # noqa: F401  (excluded: imports are the Start-up section's figures)

    settings = _settings(args)
    emb = embedder_for(settings)  # what `qa index` uses
    emb.load()
    emb.embed(["warm up the model"])
    index_bytes = _tree_bytes(settings.index_dir)
    new = settings.articles_dir / "today" / "harbour.txt"
    new.parent.mkdir(parents=True, exist_ok=True)
    seed = sorted((ROOT / "articles").glob("*.txt"))[0]
    new.write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    w0, t0, c0 = _io_written(), time.perf_counter(), time.process_time()
    added = build_index(settings, emb)
    add_s, add_bytes, add_cpu = time.perf_counter() - t0, _io_written() - w0, time.process_time() - c0
    victim = sorted((settings.articles_dir / "synthetic" / "0001").glob("*.txt"))[0]
    victim.unlink()
    w0, t0, c0 = _io_written(), time.perf_counter(), time.process_time()
    deleted = build_index(settings, emb)
    delete_s, delete_bytes, delete_cpu = time.perf_counter() - t0, _io_written() - w0, time.process_time() - c0
    new.unlink()  # back to the cached archive's content, minus the deleted article (recreated next time)
    build_index(settings, emb)
    return {"index_bytes": index_bytes, "add_s": add_s, "add_cpu_s": add_cpu, "delete_cpu_s": delete_cpu, "load": os.getloadavg()[0], "add_bytes": add_bytes, "add_embedded": added.embedded,
            "delete_s": delete_s, "delete_bytes": delete_bytes, "deleted_files": len(deleted.removed),
            "passages": deleted.passages}


def w_cli(args) -> dict:
    """`qa ask` in a fresh process, one question: wall time and that process's peak RSS (from wait4)."""
    import subprocess

    root = Path(args.dir)
    question = "What does the evidence say about vitamin D and bone density?"
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "qa", "ask", question, "--articles", str(root / "articles"), "--index", str(root / "index")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"qa ask failed: {proc.stderr.read().decode()[-500:]}")
    return {"cli_s": wall, "cli_peak_rss_mb": usage.ru_maxrss / 1024}


def w_compact(args) -> dict:
    from qa.indexer import compact_index

    w0, t0 = _io_written(), time.perf_counter()
    done = compact_index(_settings(args))
    return {"compact_s": time.perf_counter() - t0, "compact_bytes": _io_written() - w0, **done}


WORKERS = {"build": build, "open": w_open, "recall": w_recall, "ask": w_ask, "cli": w_cli, "update": w_update, "compact": w_compact}


def run(bench) -> None:
    """Called by bench/run.py for the `scale` section: figures through bench.add."""
    import subprocess

    from bench.common import child_env, log, size_label

    n = 20_000 if bench.args.quick else 1_000_000
    folder = bench.cache / f"scale-{n}"
    label = f"{size_label(n)} passages"

    def worker(kind: str, **extra) -> dict:
        cmd = ["nice", "-n", "10", sys.executable, "-m", "bench.scale", "--worker", kind, "--dir", str(folder), "--scifact", str(bench.scifact)]
        for k, v in extra.items():
            cmd += [f"--{k}", str(v)]
        proc = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=7200)
        if proc.returncode != 0:
            raise RuntimeError(f"scale worker {kind} failed: {proc.stderr.strip()[-2000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    stamp = folder / "stamp.json"
    if bench.fake:
        bench.skip("scale", "open", f"open the index at {label}", "s", "skipped with --fake (the real model is part of it)")
        return
    details: dict = {}
    if not (stamp.exists() and json.loads(stamp.read_text()) == {"passages": n, "recipe": RECIPE}):
        log(f"scale: building {n:,} synthetic passages in {folder} (minutes; cached afterwards)…")
        details["build"] = b = worker("build", passages=n)
        bench.add("scale", "build", f"write a {label} index (store writer, synthetic vectors)", b["build_s"], "s",
                  note=f"index size {b['index_bytes'] / 1e9:.2f} GB")
    details["open"] = o = worker("open")
    bench.add("scale", "open", f"open the index at {label} (after imports)", o["open_s"], "s", target="≤ 1 s (issue 13)", met=o["open_s"] <= TARGETS["open_s"],
              note=f"RSS +{o['rss_open_mb']:.0f} MB; {o['segments']} segment(s), {o['ivf_segments']} with IVF; before: 22.5 s, 4.2 GB")
    details["recall"] = r = worker("recall", count=200)
    bench.add("scale", "recall", f"dense recall@10 vs exact search at {label}", f"{r['recall_at_10']:.3f}", "", target="≥ 0.95 (issue 13)",
              met=r["recall_at_10"] >= TARGETS["recall"], note=f"{r['queries']} clustered queries; dense search p50 {r['dense_p50_ms']:.1f} ms")
    details["ask"] = a = worker("ask", count=50)
    bench.add("scale", "ask_p50", f"warm answer p50 at {label} (real model)", a["p50_ms"], "ms", target="≤ 50 ms (issue 13)", met=a["p50_ms"] <= TARGETS["p50_ms"],
              note=f"p95 {a['p95_ms']:.1f} ms over {a['questions']} SciFact questions; CPU time p50 {a['cpu_p50_ms']:.1f} ms; "
                   f"load average {a['load']:.1f} on 2 cores; the default embedder (ONNX Runtime)")
    details["cli"] = q = worker("cli")
    bench.add("scale", "cli_rss", f"peak RSS of `qa ask` at {label} (fresh process, one question)", q["cli_peak_rss_mb"], "MB",
              target="≤ 1.5 GB (issue 13)", met=q["cli_peak_rss_mb"] <= TARGETS["rss_mb"], note=f"model included; {q['cli_s']:.1f} s to the answer, cold")
    bench.add("scale", "ask_rss", f"peak RSS of a warm asking process at {label}, after {a['questions'] + 5} questions", a["peak_rss_mb"], "MB",
              note="model included; counts the index pages the questions touched (file-backed, shared, reclaimable)")
    details["update"] = u = worker("update")
    ratio = u["add_bytes"] / u["index_bytes"]
    bench.add("scale", "add", f"add one article at {label} (excluding imports and model load)", u["add_s"], "s", target="≤ 2 s (issue 13)",
              met=u["add_s"] <= TARGETS["add_s"], note=f"{u['add_embedded']} passages embedded; CPU time {u['add_cpu_s']:.2f} s; "
                                                       f"load average {u['load']:.1f} on 2 cores, the bench niced; the rescan stats all 100,000 files")
    bench.add("scale", "add_bytes", f"bytes written by that update / index size ({u['index_bytes'] / 1e9:.2f} GB)", ratio * 100, "%",
              target="≤ 1 % (issue 13)", met=ratio <= TARGETS["bytes_ratio"], note=f"{u['add_bytes'] / 1e6:.1f} MB written (/proc/self/io write_bytes)")
    bench.add("scale", "delete", f"delete one article at {label}", u["delete_s"], "s", target="≤ 2 s (issue 13)", met=u["delete_s"] <= TARGETS["delete_s"],
              note=f"{u['delete_bytes'] / 1e6:.1f} MB written; CPU time {u['delete_cpu_s']:.2f} s")
    details["compact"] = c = worker("compact")
    bench.add("scale", "compact", f"full `qa index --compact` at {label}", c["compact_s"], "s", note=f"{c['compact_bytes'] / 1e9:.2f} GB written")
    bench.details["scale"] = details


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bench.scale")
    ap.add_argument("--worker", choices=sorted(WORKERS), required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--scifact", default=str(ROOT.parent / "shared" / "bench" / "scifact"))
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--count", type=int, default=100)
    args = ap.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    print(json.dumps(WORKERS[args.worker](args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
