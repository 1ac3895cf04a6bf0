"""What every bench area shares: the plan, figures, fresh child processes, embedders, corpora, the machine."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
import platform
from dataclasses import dataclass

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # measure the checkout this script lives in

# ../shared beside the main checkout, or two levels up from a worktree under wt/.
DEFAULT_SCIFACT = next((p for p in (ROOT.parent / "shared" / "bench" / "scifact", ROOT.parent.parent / "shared" / "bench" / "scifact")
                        if p.exists()), ROOT.parent / "shared" / "bench" / "scifact")
SEED_QUESTIONS = [
    "Where did the foreign ministers of Russia and Ukraine meet?",
    "Which TV channel interviewed Kalın?",
    "Who is Turkey's presidential spokesperson?",
    "What did Erdoğan offer to host?",
    "When did the talks in Antalya take place?",
    "What did NATO say about the troops near the border?",
    "How many soldiers were reported near Ukraine?",
    "What sanctions were announced?",
    "Who won the 2022 World Cup?",
    "What is the capital of Australia?",
]
CLI_QUESTION = "Where did the foreign ministers of Russia and Ukraine meet?"
TARGET_100K = 30.0  # ms, issue 2
TARGET_ISSUE6 = 50.0  # ms, issue 6
TARGET_ISSUE11_100K = 20.0  # ms, issue 11: warm p50 at 100k once the question embeds on ONNX Runtime



@dataclass(frozen=True)
class Plan:
    scifact_docs: int  # abstracts indexed for the throughput figure (0: all 5,183)
    articles: int  # size of the folder for incremental rebuilds
    renames: int
    real_passages: int  # the small real-model index for latency
    synthetic: tuple[int, ...]  # passages in the synthetic indexes
    questions: int  # timed questions per size
    warmup: int
    repeats: int  # fresh-process timings (medians)
    incremental_repeats: int


# The full plan stays near 20 minutes from scratch on a 2-core machine: embedding is the cost
# (~30-40 passages/s), so the throughput figure uses 1,000 SciFact abstracts, not all 5,183.
FULL = Plan(1000, 10_000, 1_000, 1_000, (100_000, 1_000_000), 100, 5, 5, 3)
QUICK = Plan(40, 300, 30, 100, (5_000, 20_000), 15, 2, 1, 1)


@dataclass
class Figure:
    section: str
    key: str
    label: str
    value: float | str | None
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return f"{n:,}"


def child_env(**extra: str) -> dict[str, str]:
    # QA_* settings would change what is measured; the model cache stays, so no child exports again.
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_") or k == "QA_CACHE_DIR"}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["TOKENIZERS_PARALLELISM"] = "false"
    # Fresh processes start as a user's do, from the bytecode cache Python writes by default; with it
    # turned off (PYTHONDONTWRITEBYTECODE), every start-up figure would include compiling the project.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


def run_child(args: list[str], timeout: float = 3600, **env: str) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time of a fresh process, and what it printed."""
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, env=child_env(**env), capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - started, proc


# ---------------------------------------------------------------- embedders used by the bench


class FakeEmbedder:
    """Hashing bag of words (for `--fake`: tests of the bench itself; no model, no torch)."""

    name = "bench-fake-hash-64"
    dimension = 64

    def embed(self, texts, progress=None):
        import hashlib

        import numpy as np

        from qa.text import content_terms

        out = np.zeros((len(texts), self.dimension), dtype="float32")
        for row, text in enumerate(texts):
            for term in content_terms(text) or ["empty"]:
                h = int(hashlib.md5(term.encode()).hexdigest()[:8], 16)
                out[row, h % self.dimension] += 1.0 if (h >> 8) % 2 else -1.0
            out[row] /= float(np.linalg.norm(out[row])) or 1.0
        return out

    def embed_query(self, text):
        return self.embed([text])[0]


class PlaceholderEmbedder:
    """Random unit vectors under the real model's name: seeds the 10,000-article index, whose initial
    build is not what is measured (the measured updates embed with the real model)."""

    def __init__(self, name: str, dimension: int, identity: tuple[str, str] = ("custom", "none")) -> None:
        import numpy as np

        self.name = name
        self.dimension = dimension
        self.backend, self.quantization = identity
        self._rng = np.random.default_rng(0)

    def embed(self, texts, progress=None):
        import numpy as np

        v = self._rng.standard_normal((len(texts), self.dimension), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


class TimedEmbedder:
    """Passes through to an embedder and adds up the seconds spent embedding (to split update times)."""

    def __init__(self, inner) -> None:
        from qa.embedding import identity

        self.inner = inner
        self.name = inner.name
        self.backend, self.quantization = identity(inner)
        self.seconds = 0.0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts, progress=None):
        started = time.perf_counter()
        try:
            return self.inner.embed(texts, progress)
        finally:
            self.seconds += time.perf_counter() - started

    def embed_query(self, text):
        return self.inner.embed_query(text)


def run_identity(fake: bool) -> tuple[str, str]:
    """(backend, quantization) of the embedder this run measures, as meta.json records it."""
    if fake:
        return "custom", "none"
    from qa.embedding import default_quantization

    return "onnx", default_quantization()


def make_embedder(fake: bool):
    """The product's default embedder (ONNX Runtime), loaded and warmed up; the fake one with --fake."""
    if fake:
        return FakeEmbedder()
    from qa.embedding import make_embedder as product_embedder

    emb = product_embedder()
    emb.load()
    emb.embed(["warm-up passage so the first measured call is not the first forward pass"])
    emb.embed_query("warm-up question?")
    emb._cache.clear()
    return emb


def clear_query_cache(emb) -> None:
    cache = getattr(emb, "_cache", None)
    if cache is not None:
        cache.clear()


# ---------------------------------------------------------------- corpora


def read_scifact(scifact: Path) -> list[dict]:
    with open(scifact / "corpus.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def scifact_queries(scifact: Path) -> list[str]:
    try:
        with open(scifact / "queries.jsonl", encoding="utf-8") as fh:
            return [json.loads(line)["text"] for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def article_text(title: str, text: str) -> str:
    """One BEIR document as an article file: its title, a blank line, its text."""
    return f"{title.strip()}\n\n{text.strip()}\n"


def _stamp_ok(folder: Path, stamp: dict) -> bool:
    try:
        return json.loads((folder / ".bench-stamp.json").read_text()) == stamp
    except (OSError, ValueError):
        return False


def _write_stamp(folder: Path, stamp: dict) -> None:
    (folder / ".bench-stamp.json").write_text(json.dumps(stamp))


def write_articles(folder: Path, docs: list[tuple[str, str]], stamp: dict) -> Path:
    """(file name, text) pairs as files under folder/articles, reused while the stamp matches."""
    articles = folder / "articles"
    if _stamp_ok(folder, stamp) and articles.is_dir():
        return articles
    shutil.rmtree(folder, ignore_errors=True)
    articles.mkdir(parents=True)
    for name, text in docs:
        (articles / name).write_text(text, encoding="utf-8")
    _write_stamp(folder, stamp)
    return articles


def index_ok(index_dir: Path, model: str, passages: int | None = None, identity: tuple[str, str] | None = None) -> bool:
    """A cached index is reusable: its metadata fits this code, model and backend, and its segment files are whole.

    Opening checks the segment files' sizes and maps them; it reads no vectors.
    """
    from qa.errors import QAError
    from qa.stores.local import LocalStore
    from qa.stores.meta import check_compatible

    try:
        store = LocalStore.open(index_dir, model)
    except (QAError, OSError):
        return False
    try:
        check_compatible(store.meta, model, *(identity or (store.meta.backend, store.meta.quantization)))
    except QAError:
        return False
    finally:
        store.close()
    return passages is None or store.meta.passages == passages


def rss_mb(field: str = "VmRSS") -> float:
    """Resident set size of this process now (VmRSS) or at its peak (VmHWM).

    Not getrusage's ru_maxrss: on Linux it survives exec, so a worker would report its parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# ---------------------------------------------------------------- main


def machine_info() -> dict:
    from importlib import metadata

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": version("torch"),
        "onnxruntime": version("onnxruntime"),
        "sentence_transformers": version("sentence-transformers"),
        "faiss": version("faiss-cpu"),
        "numpy": version("numpy"),
    }


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""

