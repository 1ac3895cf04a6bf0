"""Shared fixtures: paths redirected per test, a fast fake embedder, and the real model once per session."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from qa.config import load_settings
from qa.text import content_terms

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "articles"


class FakeEmbedder:
    """Deterministic bag-of-words hashing: similar wording gives similar vectors, in microseconds."""

    name = "fake-hash-64"
    dimension = 64

    def __init__(self) -> None:
        self.calls: list[str] = []

    def embed(self, texts, progress=None):
        texts = list(texts)
        self.calls.extend(texts)
        out = np.zeros((len(texts), self.dimension), dtype="float32")
        for row, text in enumerate(texts):
            for term in content_terms(text) or ["empty"]:
                h = int(hashlib.md5(term.encode()).hexdigest(), 16)
                out[row, h % self.dimension] += 1.0 if (h >> 8) % 2 else -1.0
            norm = np.linalg.norm(out[row]) or 1.0
            out[row] /= norm
        if progress:
            progress(len(texts), len(texts))
        return out

    def embed_query(self, text):
        return self.embed([text])[0]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One model cache for the whole session: the ONNX export happens once (in the first test that needs
    it), never in the user's own cache folder."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def _isolated_paths(tmp_path, monkeypatch, model_cache):
    """Every test gets its own articles and index folders; nothing touches the checkout's."""
    monkeypatch.setenv("QA_CACHE_DIR", str(model_cache))
    for name in ("QA_BACKEND", "QA_QUANTIZATION", "QA_THREADS", "QA_ALLOW_DOWNLOADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QA_ARTICLES_DIR", str(tmp_path / "articles"))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.delenv("QA_DEBUG", raising=False)
    monkeypatch.delenv("QA_MODEL", raising=False)
    monkeypatch.delenv("QA_MAX_FILE_MB", raising=False)
    (tmp_path / "articles").mkdir()


@pytest.fixture
def settings(tmp_path):
    return load_settings()


@pytest.fixture
def seeded(settings):
    """The five seed articles in this test's articles folder."""
    for f in SEEDS.iterdir():
        if f.suffix == ".txt":
            shutil.copy(f, settings.articles_dir / f.name)
    return settings


@pytest.fixture
def fake():
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder(model_cache):
    """The product's default embedder (ONNX Runtime, exported once into the session's model cache)."""
    import os

    from qa.embedding import make_embedder

    os.environ["QA_CACHE_DIR"] = str(model_cache)  # session fixtures run before the autouse one
    emb = make_embedder()
    emb.load()
    return emb


@pytest.fixture(scope="session")
def torch_embedder():
    """sentence-transformers on torch: the reference the ONNX vectors are checked against."""
    from qa.embedding import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    emb.load()
    return emb


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, real_embedder):
    """The seed articles indexed once with the real model, shared read-only by slow tests."""
    from qa.indexer import build_index

    base = tmp_path_factory.mktemp("seed")
    articles = base / "articles"
    shutil.copytree(SEEDS, articles, ignore=shutil.ignore_patterns("*.md"))
    s = load_settings(articles=articles, index=base / "index")
    build_index(s, real_embedder)
    return s


@contextmanager
def lock_held_by_another_process(index_dir: Path):
    """A separate process holding the rebuild lock of index_dir, as a running `qa index` does; killed after."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from pathlib import Path; from qa.locking import writer_lock\n"
         "with writer_lock(Path(sys.argv[1]), 0):\n print('locked', flush=True); time.sleep(30)", str(index_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()
