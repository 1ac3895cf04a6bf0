"""An update writes what changed, not the archive: bytes written by adding or deleting one article stay a small
fraction of the index (the old layout copied the whole index on every update: more than 100 %)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from .conftest import ROOT

# Builds a 20,000-passage index of 2,000 article files through the store's writer (fast: no embedding), then
# adds one article and deletes another through the real indexer, each measured by /proc/self/io write_bytes.
CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from qa.config import load_settings
    from qa.documents import SPLITTER_VERSION, Passage
    from qa.indexer import build_index
    from qa.stores.local_writer import LocalWriter
    from qa.stores.meta import FORMAT_VERSION, FileRecord, Meta
    from qa.embedding import identity
    from tests.conftest import FakeEmbedder

    def written():
        for line in open("/proc/self/io"):
            if line.startswith("write_bytes:"):
                return int(line.split()[1])

    settings = load_settings()
    words = Path("articles").joinpath(sorted(p.name for p in Path("articles").glob("*.txt"))[0]).read_text().split()
    rng = np.random.default_rng(0)
    emb = FakeEmbedder()
    writer = LocalWriter(settings.index_dir, None, Meta(FORMAT_VERSION, emb.name, emb.dimension, SPLITTER_VERSION,
                                                     backend=identity(emb)[0], quantization=identity(emb)[1]))
    for art in range(2000):
        source = f"bulk/{art // 100:02d}/{art:05d}.txt"
        paras = [" ".join(rng.choice(words, 40)) + f" item{art}x{p}." for p in range(10)]
        path = settings.articles_dir / source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Article {art}\\n\\n" + "\\n\\n".join(paras) + "\\n")
        passages = [Passage(source, p + 1, 2 * p + 3, 2 * p + 3, 0, len(t), t, f"Article {art}", None) for p, t in enumerate(paras)]
        vecs = rng.standard_normal((10, emb.dimension)).astype("float32")
        writer.add_passages(passages, vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
        st = path.stat()
        writer.put_file(FileRecord(source, st.st_size, st.st_mtime_ns, "x", f"Article {art}", None, 10))
    writer.commit(0.0)
    gen = next(settings.index_dir.glob("gen-*"))
    size = sum(p.stat().st_size for p in gen.iterdir())
    out = {"index_bytes": size}
    new = settings.articles_dir / "today.txt"
    new.write_text(Path("articles", sorted(p.name for p in Path("articles").glob("*.txt"))[1]).read_text())
    w = written()
    r = build_index(settings, emb)
    out["add_bytes"], out["added"] = written() - w, r.added
    (settings.articles_dir / "bulk/07/00700.txt").unlink()
    w = written()
    r = build_index(settings, emb)
    out["delete_bytes"], out["removed"] = written() - w, r.removed
    out["passages"] = r.passages
    print(json.dumps(out))
    """
)


def test_adding_and_deleting_an_article_write_a_small_fraction_of_the_index(settings):
    r = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["added"] == ["today.txt"] and out["removed"] == ["bulk/07/00700.txt"]
    assert out["index_bytes"] > 5_000_000
    # Threshold with room for SQLite's page writes and checkpoints; a copy of the index would be over 1.0.
    assert 0 < out["add_bytes"] < 0.05 * out["index_bytes"], out
    assert 0 < out["delete_bytes"] < 0.05 * out["index_bytes"], out
