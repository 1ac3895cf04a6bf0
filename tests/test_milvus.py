"""The Milvus store passes the local store's incremental and answer tests, on milvus-lite embedded (.db),
on `milvus-lite server` over the network code path a cluster uses, and on a real server when
QA_TEST_MILVUS_URI is set."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from qa.assistant import Assistant
from qa.indexer import build_index
from qa.stores import backend

from .conftest import ROOT
from .test_answers import SEED_QUESTIONS
from .test_indexer import ARTICLE, write

pytest.importorskip("pymilvus", reason="the Milvus store's tests need .[milvus] (make test installs it)")

TARGETS = ["lite", "server"] + (["remote"] if os.environ.get("QA_TEST_MILVUS_URI") else [])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lite_server(tmp_path_factory):
    """`milvus-lite server` on 127.0.0.1, reached through http:// like any Milvus server."""
    port = _free_port()
    data = tmp_path_factory.mktemp("milvus-server")
    exe = os.path.join(os.path.dirname(sys.executable), "milvus-lite")
    proc = subprocess.Popen([exe, "server", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"milvus-lite server exited: {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def _settings_for(base, target, request, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    if target == "lite":
        uri = str(tmp_path / "milvus.db")
    elif target == "server":
        uri = request.getfixturevalue("lite_server")
    else:
        uri = os.environ["QA_TEST_MILVUS_URI"]
    return base.with_(store="milvus", milvus_uri=uri, milvus_collection=prefix, milvus_token=os.environ.get("QA_TEST_MILVUS_TOKEN", ""))


@pytest.fixture(params=TARGETS)
def mseeded(request, seeded, tmp_path):
    s = _settings_for(seeded, request.param, request, tmp_path)
    yield s
    _drop_all(s)


def _drop_all(settings) -> None:
    from qa.stores.milvus import connect

    try:
        client = connect(settings)
    except Exception:
        return
    for name in client.list_collections():
        if name.startswith(settings.milvus_collection + "_"):
            client.drop_collection(name)
    client.close()


def rows_of(settings):
    store = backend(settings).open()
    try:
        files = store.files()
        passages = [p for source in files for p in store.passages_of(source)]
        return [(p.source, p.paragraph) for p in passages], store.vector_count(), store.meta.passages
    finally:
        store.close()


def test_incremental_counts_are_exact(mseeded, fake):
    first = build_index(mseeded, fake)
    assert len(first.added) == 5 and first.embedded == first.passages > 50
    again = build_index(mseeded, fake)
    assert (again.unchanged, again.embedded) == (5, 0)

    path = write(mseeded, "harbour.txt", ARTICLE)
    fake.calls.clear()
    added = build_index(mseeded, fake)
    assert added.added == ["harbour.txt"] and added.embedded == 3 == len(fake.calls)

    path.write_text(ARTICLE.replace("festival", "concert"), encoding="utf-8")
    fake.calls.clear()
    edited = build_index(mseeded, fake)
    assert edited.changed == ["harbour.txt"] and edited.embedded == 1 and "concert" in fake.calls[0]

    os.makedirs(mseeded.articles_dir / "moved")
    path.rename(mseeded.articles_dir / "moved" / "harbour.txt")
    fake.calls.clear()
    moved = build_index(mseeded, fake)
    assert moved.renamed == [("harbour.txt", "moved/harbour.txt")] and moved.embedded == 0 and not fake.calls

    rows, vectors, passages = rows_of(mseeded)
    assert len(rows) == len(set(rows)) == vectors == passages == moved.passages
    assert sum(1 for r in rows if r[0] == "moved/harbour.txt") == 3 and not any(r[0] == "harbour.txt" for r in rows)

    (mseeded.articles_dir / "moved" / "harbour.txt").unlink()
    deleted = build_index(mseeded, fake)
    assert deleted.removed == ["moved/harbour.txt"] and deleted.embedded == 0 and deleted.passages == first.passages
    full = build_index(mseeded, fake, full=True)
    assert full.passages == deleted.passages and full.embedded == full.passages
    rows, vectors, passages = rows_of(mseeded)
    assert len(rows) == vectors == passages == full.passages


def test_term_frequencies_follow_adds_and_deletes(mseeded, fake):
    write(mseeded, "harbour.txt", ARTICLE)
    build_index(mseeded, fake)
    store = backend(mseeded).open()
    assert store.document_frequencies(["quay", "festival", "nonexistentword"]) == {"quay": 1, "festival": 1, "nonexistentword": 0}
    store.close()
    (mseeded.articles_dir / "harbour.txt").unlink()
    build_index(mseeded, fake)
    store = backend(mseeded).open()
    assert store.document_frequencies(["quay"]) == {"quay": 0}
    store.close()


def test_a_question_sees_an_article_added_just_before(mseeded, fake):
    build_index(mseeded, fake)
    assistant = Assistant(mseeded, embedder=fake)
    assistant.ask("Where did the foreign ministers meet?")
    write(mseeded, "harbour.txt", ARTICLE)
    assistant.rebuild()
    answer = assistant.ask("harbour reopened sea wall repairs quay")
    assert any(c.passage.source == "harbour.txt" for c in answer.citations)
    assistant.close()


def test_killed_update_is_repaired_by_the_next_run(mseeded, fake, monkeypatch):
    import qa.stores.milvus_writer as milvus

    build_index(mseeded, fake)
    write(mseeded, "harbour.txt", ARTICLE)
    real = milvus._apply_terms

    def die(*a, **k):
        raise KeyboardInterrupt  # stands in for a kill after the new rows went in, before the terms and metadata

    monkeypatch.setattr(milvus, "_apply_terms", die)
    with pytest.raises(KeyboardInterrupt):
        build_index(mseeded, fake)
    monkeypatch.setattr(milvus, "_apply_terms", real)
    report = build_index(mseeded, fake)
    rows, vectors, passages = rows_of(mseeded)
    fresh = build_index(mseeded.with_(index_dir=mseeded.index_dir.parent / "fresh", store="faiss"), fake, full=True)
    assert len(rows) == len(set(rows)) == vectors == passages == report.passages == fresh.passages
    store = backend(mseeded).open()
    assert store.document_frequencies(["quay"]) == {"quay": 1}
    store.close()


def test_server_down_is_one_line_with_the_fix_and_quick(seeded):
    port = _free_port()
    env = dict(os.environ, QA_STORE="milvus", QA_MILVUS_URI=f"http://127.0.0.1:{port}")
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "qa", "ask", "Where did the ministers meet?"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 20
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "not reachable" in lines[0] and "QA_MILVUS_URI" in lines[0], r.stderr


# ---------------------------------------------------------------- answers through the real model


@pytest.fixture(scope="module", params=TARGETS)
def milvus_assistant(request, tmp_path_factory, real_embedder):
    import shutil

    from qa.config import load_settings

    from .conftest import SEEDS

    root = tmp_path_factory.mktemp("milvus-answers")
    (root / "articles").mkdir()
    for f in SEEDS.glob("*.txt"):
        shutil.copy(f, root / "articles" / f.name)
    s = _settings_for(load_settings(articles=root / "articles", index=root / "index"), request.param, request, root)
    build_index(s, real_embedder)
    a = Assistant(s, embedder=real_embedder)
    yield a
    a.close()
    _drop_all(s)


@pytest.mark.slow
@pytest.mark.parametrize("question,source,expected", SEED_QUESTIONS, ids=[s[1][:3] for s in SEED_QUESTIONS])
def test_each_seed_article_answers_through_milvus(milvus_assistant, question, source, expected):
    answer = milvus_assistant.ask(question)
    assert answer.found and expected in answer.text
    assert answer.citations[answer.sentences[0].citation - 1].passage.source == source


@pytest.mark.slow
def test_milvus_date_filter_and_collapse(milvus_assistant):
    answer = milvus_assistant.ask("What did Kalın say?", since="2022-01-20")
    assert {h.passage.source for h in answer.hits} <= {"000_c9eb9812ba506bbc.txt"}
    none = milvus_assistant.ask("What did Kalın say?", until="2021-01-01")
    assert not none.found and not none.hits
    hits = milvus_assistant.search("Which countries does Turkey border in the Black Sea?", k=5)
    merged = [h.sources for h in hits if len(h.sources) > 1]
    assert merged and set(merged[0]) == {"002_45dc96f4cd72d57e.txt", "004_e9b8d4ccd87ea6bc.txt"}


@pytest.mark.slow
def test_milvus_and_faiss_give_the_same_top_passages(milvus_assistant, seed_index, real_embedder):
    local = Assistant(seed_index, embedder=real_embedder)
    try:
        for question, _, _ in SEED_QUESTIONS:
            mine = [h.passage.citation for h in milvus_assistant.search(question, k=3)]
            theirs = [h.passage.citation for h in local.search(question, k=3)]
            assert mine[0] == theirs[0], question
    finally:
        local.close()


def test_non_ascii_paths_and_terms(mseeded, fake):
    """Filters carry article paths and terms literally: 'β' and 'café' are not JSON escapes to Milvus."""
    text = ('Notes from Zürich\n\nCafé owners in Zürich said on Monday that the "β-blocker" study from the city hospital changed '
            'nothing for them, a κρίση of 5 μg doses.\n\nThe naïve reading of the trial, one of the owners said, ignored the dose that patients were given.\n')
    write(mseeded, "Übersicht/über café.txt", text)
    build_index(mseeded, fake)
    store = backend(mseeded).open()
    found = store.passages_of("Übersicht/über café.txt")
    assert found and {p.source for p in found} == {"Übersicht/über café.txt"}
    assert store.document_frequencies(["κριση", "μg"]) == {"κριση": 1, "μg": 1}
    store.close()
    (mseeded.articles_dir / "Übersicht" / "über café.txt").rename(mseeded.articles_dir / "Übersicht" / "neu \"zitat\".txt")
    moved = build_index(mseeded, fake)
    assert moved.renamed and moved.embedded == 0
    (mseeded.articles_dir / "Übersicht" / "neu \"zitat\".txt").unlink()
    gone = build_index(mseeded, fake)
    store = backend(mseeded).open()
    assert gone.removed == ['Übersicht/neu "zitat".txt'] and store.document_frequencies(["κριση"]) == {"κριση": 0}
    assert store.vector_count() == gone.passages
    store.close()
