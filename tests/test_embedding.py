"""The embedders: ONNX Runtime by default (same vectors as sentence-transformers), the one-time export and its
cache, backends kept apart in the index, no model loaded when there is nothing to embed, and no network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from qa.config import DEFAULT_MODEL, load_settings
from qa.documents import discover, read_document
from qa.embedding import OnnxEmbedder, SentenceTransformerEmbedder, make_embedder
from qa.embedding import export as export_mod
from qa.errors import IndexMismatch, QAError

from .conftest import ROOT, SEEDS, FakeEmbedder

HEAVY = ("torch", "sentence_transformers", "transformers")
QUESTION = "Where did the foreign ministers of Russia and Ukraine meet?"


def qa_process(*args: str, env: dict | None = None, timeout: float = 300) -> tuple[subprocess.CompletedProcess, float]:
    """`qa ARGS` in a fresh interpreter; stdout ends with one JSON line naming the heavy modules it loaded."""
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.argv = ["qa", *{list(args)!r}]
        from qa.cli import main
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code or 0
        print("MODULES " + json.dumps(sorted(m for m in {list(HEAVY) + ['onnxruntime']!r} if m in sys.modules)))
        sys.exit(code)
        """
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env or dict(os.environ), timeout=timeout, cwd=ROOT)
    return done, time.perf_counter() - started


def loaded_modules(done: subprocess.CompletedProcess) -> list[str]:
    line = next(l for l in done.stdout.splitlines() if l.startswith("MODULES "))
    return json.loads(line[len("MODULES "):])


def seed_passages() -> list[str]:
    entries, _ = discover(SEEDS, 20 * 1024 * 1024)
    return [p.text for e in entries for p in read_document(e).passages]


# ------------------------------------------------------------ choosing a backend


def test_default_model_runs_on_onnx_and_other_models_on_sentence_transformers(monkeypatch, tmp_path):
    assert isinstance(make_embedder(), OnnxEmbedder)
    assert isinstance(make_embedder(str(tmp_path)), SentenceTransformerEmbedder)
    assert isinstance(make_embedder(DEFAULT_MODEL, backend="torch"), SentenceTransformerEmbedder)
    assert isinstance(make_embedder(str(tmp_path), backend="onnx"), OnnxEmbedder)
    monkeypatch.setenv("QA_BACKEND", "torch")
    assert load_settings().backend == "torch"
    monkeypatch.setenv("QA_BACKEND", "tensorflow")
    with pytest.raises(QAError, match="QA_BACKEND"):
        load_settings()


def test_thread_count_comes_from_qa_threads(monkeypatch):
    from qa.onnx_runtime import thread_count

    monkeypatch.setenv("QA_THREADS", "3")
    assert thread_count() == 3
    monkeypatch.setenv("QA_THREADS", "many")
    with pytest.raises(QAError, match="QA_THREADS"):
        thread_count()
    monkeypatch.delenv("QA_THREADS")
    assert thread_count() >= 1


# ------------------------------------------------------------ same vectors


@pytest.mark.slow
def test_onnx_vectors_equal_sentence_transformers_on_the_seed_passages(real_embedder, torch_embedder):
    texts = seed_passages()
    texts += [QUESTION, "a", "Kalın?", "word " * 400]  # a one-letter text and one past the 256-token window
    onnx = real_embedder.embed(texts)
    reference = torch_embedder.embed(texts)
    assert onnx.shape == reference.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    cosines = (onnx * reference).sum(axis=1)
    assert cosines.min() >= 0.9999, (cosines.argmin(), cosines.min())
    # The question path (one text, no padding) gives the same vectors as a padded batch.
    for text in (QUESTION, "Who is Turkey's presidential spokesperson?"):
        clear = real_embedder.embed_query(text)
        assert float(clear @ torch_embedder.embed_query(text)) >= 0.9999
    assert real_embedder.tokenize_length(texts[0]) == torch_embedder.tokenize_length(texts[0])
    assert real_embedder.max_tokens == torch_embedder.max_tokens == 256


def test_build_batches_group_passages_by_token_count_within_both_limits():
    embedder = OnnxEmbedder(batch_size=4)  # grouping needs no model
    embedder.token_budget = 100
    lengths = [5, 50, 6, 49, 7, 8, 30, 1, 25, 120]
    batches = embedder._batches(lengths)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # each passage once
    assert [lengths[i] for b in batches for i in b] == sorted(lengths, reverse=True)  # longest first
    for b in batches:
        width = max(lengths[i] for i in b)
        assert len(b) == 1 or (len(b) <= 4 and len(b) * width <= 100)
    # The two ~50-token passages share a batch; the short ones never pad up to them.
    assert any(sorted(lengths[i] for i in b) == [49, 50] for b in batches)


# ------------------------------------------------------------ the cache


@pytest.mark.slow
def test_a_damaged_cached_model_is_exported_again(real_embedder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    shutil.copytree(real_embedder.exported.folder.parent.parent, cache)  # start from the session's export
    monkeypatch.setenv("QA_CACHE_DIR", str(cache))
    folder = export_mod.cache_folder(DEFAULT_MODEL, "none")
    assert isinstance(export_mod.verify(folder), export_mod.Exported)
    with open(folder / "model.onnx", "r+b") as fh:  # flip bytes in the middle of the weights
        fh.seek(40_000_000)
        fh.write(b"\x00garbage\x00" * 100)
    assert "checksum" in export_mod.verify(folder)
    notices: list[str] = []
    emb = OnnxEmbedder(notice=notices.append)
    vector = emb.embed_query(QUESTION)
    assert len(notices) == 1 and "damaged" in notices[0]
    assert isinstance(export_mod.verify(folder), export_mod.Exported)
    assert float(vector @ real_embedder.embed_query(QUESTION)) >= 0.9999


@pytest.mark.slow
def test_a_missing_cached_file_is_exported_again_and_a_fresh_cache_says_so_once(real_embedder, tmp_path, monkeypatch):
    source = real_embedder.exported.folder
    calls: list[Path] = []

    def fake_export(name, out):  # the real export is checked above; here only that it is asked for
        calls.append(out)
        for f in ("model.onnx", "tokenizer.json"):
            shutil.copy(source / f, out / f)
        manifest = json.loads((source / "embedder.json").read_text())
        manifest.pop("files")
        return manifest

    monkeypatch.setattr(export_mod, "_export_fp32", fake_export)
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "empty-cache"))
    notices: list[str] = []
    first = export_mod.ensure_exported(DEFAULT_MODEL, notice=notices.append)
    assert len(calls) == 1 and notices == ["Preparing the embedding model for ONNX Runtime (one time)…"]
    export_mod.ensure_exported(DEFAULT_MODEL, notice=notices.append)
    assert len(calls) == 1 and len(notices) == 1  # cached: no second export, no second notice
    (first.folder / "tokenizer.json").unlink()
    assert export_mod.verify(first.folder) == "tokenizer.json is missing"
    export_mod.ensure_exported(DEFAULT_MODEL, notice=notices.append)
    assert len(calls) == 2 and "damaged" in notices[-1]
    assert not [p for p in first.folder.parent.iterdir() if ".tmp-" in p.name]  # nothing half-written left


# ------------------------------------------------------------ backends kept apart


def test_an_index_of_one_backend_is_refused_by_another_with_the_fix(seeded):
    from qa.assistant import Assistant

    built = FakeEmbedder()
    built.backend = "torch"
    Assistant(seeded, embedder=built).rebuild()
    for other, quantization in (("onnx", "none"), ("torch", "int8")):
        emb = FakeEmbedder()
        emb.backend, emb.quantization = other, quantization
        with pytest.raises(IndexMismatch) as caught:
            Assistant(seeded, embedder=emb).ask(QUESTION)
        assert f"built with the {built.backend} backend" in caught.value.message and "qa index --full" in caught.value.hint
        with pytest.raises(IndexMismatch):
            Assistant(seeded, embedder=emb).rebuild()  # an update would mix vectors: refused too
        Assistant(seeded, embedder=emb).rebuild(full=True)  # the fix works
        built = emb
        assert Assistant(seeded, embedder=emb).ask(QUESTION).citations


def test_meta_from_before_backends_reads_as_torch(seeded):
    from qa.store import Meta

    assert Meta(format_version=3, model="m", dimension=4, splitter_version=1).backend == "torch"


@pytest.mark.slow
def test_cli_refuses_an_onnx_index_under_the_torch_backend_without_loading_a_model(seed_index):
    env = dict(os.environ, QA_ARTICLES_DIR=str(seed_index.articles_dir), QA_INDEX_DIR=str(seed_index.index_dir), QA_BACKEND="torch")
    done, _ = qa_process("ask", QUESTION, env=env)
    assert done.returncode == 1
    err = done.stderr.strip()
    assert err.count("\n") == 0 and "built with the onnx backend, but torch is configured" in err and "qa index --full" in err
    assert loaded_modules(done) == []


# ------------------------------------------------------------ the question path


@pytest.mark.slow
def test_qa_ask_imports_neither_torch_nor_sentence_transformers_nor_transformers(seed_index):
    env = dict(os.environ, QA_ARTICLES_DIR=str(seed_index.articles_dir), QA_INDEX_DIR=str(seed_index.index_dir))
    done, _ = qa_process("ask", QUESTION, env=env)
    assert done.returncode == 0, done.stderr
    assert "Antalya" in done.stdout
    assert loaded_modules(done) == ["onnxruntime"]
    # qa eval asks the same way.
    questions = ROOT / "tests" / "data" / "questions.jsonl"
    done, _ = qa_process("eval", "questions", str(questions), "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout[: done.stdout.index("MODULES ")])["questions"] > 0
    assert loaded_modules(done) == ["onnxruntime"]


@pytest.mark.slow
def test_another_model_folder_runs_on_sentence_transformers_and_is_recorded(seeded, torch_embedder):
    from qa.assistant import Assistant
    from qa.embedding.locate import packaged_model_path
    from qa.store import Index

    settings = seeded.with_(model=str(packaged_model_path()))  # a model folder given by path, as a user would
    assistant = Assistant(settings)
    assert isinstance(assistant.embedder, SentenceTransformerEmbedder)
    assistant.rebuild()
    meta = Index.open(settings.index_dir).meta
    assert (meta.model, meta.backend, meta.quantization) == (settings.model, "torch", "none")
    assert "Antalya" in assistant.ask(QUESTION).text


# ------------------------------------------------------------ nothing to do, no model


@pytest.mark.slow
def test_empty_unchanged_or_only_skipped_folders_never_load_a_model(tmp_path, seed_index):
    articles, index = tmp_path / "articles", tmp_path / "index"
    env = dict(os.environ, QA_ARTICLES_DIR=str(articles), QA_INDEX_DIR=str(index))
    done, _ = qa_process("index", env=env)  # empty: nothing to index, said in one line, and no model loaded for it
    assert done.returncode == 1 and "nothing to index" in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr
    assert loaded_modules(done) == []
    (articles / "scan.pdf").write_bytes(b"%PDF-1.4\x00\x01\x02" * 100)
    (articles / "blank.txt").write_text("   \n\n")
    done, _ = qa_process("index", env=env)  # only skipped files
    assert done.returncode == 0, done.stderr
    assert "skipped" in done.stdout and loaded_modules(done) == []
    env.update(QA_ARTICLES_DIR=str(seed_index.articles_dir), QA_INDEX_DIR=str(seed_index.index_dir))
    done, _ = qa_process("index", env=env)  # unchanged
    assert done.returncode == 0, done.stderr
    assert "5 unchanged" in done.stdout and loaded_modules(done) == []
    # The empty index answers (nothing found) and takes its first article later, now with a model.
    shutil.copy(SEEDS / "002_45dc96f4cd72d57e.txt", articles)
    env.update(QA_ARTICLES_DIR=str(articles), QA_INDEX_DIR=str(index))
    done, _ = qa_process("index", env=env)
    assert done.returncode == 0 and "1 added" in done.stdout, done.stderr
    done, _ = qa_process("ask", QUESTION, env=env)
    assert done.returncode == 0 and "Antalya" in done.stdout, done.stderr


# ------------------------------------------------------------ no network


SITECUSTOMIZE = '''
import os, socket

_LOG = os.environ["QA_TEST_NETLOG"]
_real_socket = socket.socket


def _refuse(what):
    with open(_LOG, "a") as fh:
        fh.write(f"{os.getpid()} {what}\\n")
    raise OSError(101, "network blocked by the test")


class _Guarded(_real_socket):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None and family in (socket.AF_INET, socket.AF_INET6):
            _refuse(f"socket family {family}")
        super().__init__(family, type, proto, fileno)


socket.socket = _Guarded
socket.create_connection = lambda *a, **k: _refuse(f"create_connection {a[:1]}")
socket.getaddrinfo = lambda *a, **k: _refuse(f"getaddrinfo {a[:2]}")
'''


@pytest.fixture
def no_network(tmp_path):
    """An environment whose Python processes record and refuse any internet socket or name lookup."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "network.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]), QA_TEST_NETLOG=str(log))
    env["HF_HOME"] = str(tmp_path / "hf-home")  # an empty hub cache: nothing to find there
    return env, log


def test_the_network_guard_itself_catches_a_connection(no_network):
    env, log = no_network
    done = subprocess.run([sys.executable, "-c", "import urllib.request; urllib.request.urlopen('http://example.org', timeout=2)"],
                          capture_output=True, text=True, env=env)
    assert done.returncode != 0 and log.read_text().strip()


def test_unknown_model_fails_fast_in_one_line_with_no_network(no_network, seeded):
    env, log = no_network
    done, _ = qa_process("index", "--full", "--model", "nonexistent-model", env=env)
    assert done.returncode == 1
    err = done.stderr.strip()
    assert err.count("\n") == 0, err
    assert "'nonexistent-model'" in err and "sentence-transformers/nonexistent-model" in err and "--model" in err and "folder" in err
    # Fast by construction, not by a timing assertion (make bench times it): no model library was imported
    # and no socket was tried, so nothing could wait on a hub.
    assert loaded_modules(done) == []
    assert not log.exists(), log.read_text()


@pytest.mark.slow
def test_index_ask_and_the_chat_app_open_no_socket(no_network, seeded, real_embedder):
    env, log = no_network
    env.update(QA_ARTICLES_DIR=str(seeded.articles_dir), QA_INDEX_DIR=str(seeded.index_dir))
    done, _ = qa_process("index", env=env)
    assert done.returncode == 0 and "5 added" in done.stdout, done.stderr
    done, _ = qa_process("ask", QUESTION, env=env)
    assert done.returncode == 0 and "Antalya" in done.stdout, done.stderr
    app = subprocess.run([sys.executable, "-m", "tui.measure", "--json", "--articles", str(seeded.articles_dir), "--index", str(seeded.index_dir)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert app.returncode == 0, app.stderr
    figures = json.loads(app.stdout.strip().splitlines()[-1])
    assert figures["answers"] >= 10 and figures["heavy_modules"] == []
    assert not log.exists(), log.read_text()
