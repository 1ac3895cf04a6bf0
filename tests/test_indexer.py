"""Incremental rebuilds with the fake embedder: exact counts, content-keyed reuse, safe generations."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from qa.errors import IndexDamaged, IndexMismatch, IndexMissing
from qa.indexer import build_index
from qa.stores.local import LocalStore as Index
from qa.stores.local import read_meta

ARTICLE = """The Harbour Reopens

The harbour in the old town reopened on Monday after two years of repairs to the sea wall.

Fishermen said the new quay is longer and safer, and the ferry to the island will run daily again.

The mayor thanked the engineers and promised a festival on the waterfront in June.
"""


def write(settings, name, text):
    path = settings.articles_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def open_index(settings):
    return Index.open(settings.index_dir)


def all_passages(settings):
    idx = open_index(settings)
    try:
        rows = idx._query("SELECT source, paragraph, key FROM passages ORDER BY source, paragraph")
        return rows, idx.vector_count()
    finally:
        idx.close()


def test_first_build_then_unchanged_rescan_embeds_nothing(seeded, fake):
    first = build_index(seeded, fake)
    assert len(first.added) == 5 and first.embedded == first.passages > 50
    again = build_index(seeded, fake)
    assert (again.unchanged, again.embedded, len(again.added)) == (5, 0, 0)
    assert again.passages == first.passages
    assert again.generation == first.generation  # no new generation for nothing


def test_add_one_article_embeds_only_its_passages(seeded, fake):
    build_index(seeded, fake)
    write(seeded, "new/harbour.txt", ARTICLE)
    fake.calls.clear()
    report = build_index(seeded, fake)
    assert report.added == ["new/harbour.txt"]
    assert report.embedded == 3 == len(fake.calls)
    rows, ntotal = all_passages(seeded)
    assert ntotal == len(rows) == report.passages


def test_edit_one_paragraph_embeds_only_that_passage(seeded, fake):
    path = write(seeded, "harbour.txt", ARTICLE)
    build_index(seeded, fake)
    path.write_text(ARTICLE.replace("festival", "concert"), encoding="utf-8")
    fake.calls.clear()
    report = build_index(seeded, fake)
    assert report.changed == ["harbour.txt"]
    assert report.embedded == 1
    assert "concert" in fake.calls[0]
    rows, ntotal = all_passages(seeded)
    assert ntotal == len(rows)
    assert len(rows) == len(set((r[0], r[1]) for r in rows))  # no duplicates


def test_delete_removes_the_articles_passages(seeded, fake):
    write(seeded, "harbour.txt", ARTICLE)
    before = build_index(seeded, fake)
    (seeded.articles_dir / "harbour.txt").unlink()
    report = build_index(seeded, fake)
    assert report.removed == ["harbour.txt"] and report.embedded == 0
    assert report.passages == before.passages - 3
    rows, ntotal = all_passages(seeded)
    assert ntotal == len(rows) and all(r[0] != "harbour.txt" for r in rows)


def test_rename_and_move_embed_nothing(seeded, fake):
    build_index(seeded, fake)
    os.makedirs(seeded.articles_dir / "moved")
    for i, f in enumerate(sorted(seeded.articles_dir.glob("*.txt"))):
        f.rename(seeded.articles_dir / "moved" / f"renamed-{i}.txt")
    fake.calls.clear()
    report = build_index(seeded, fake)
    assert len(report.renamed) == 5 and report.embedded == 0 and not fake.calls
    assert not report.added and not report.removed
    idx = open_index(seeded)
    assert all(s.startswith("moved/") for s in idx.sources())
    assert {p.source for p in idx.passages_of("moved/renamed-0.txt")} == {"moved/renamed-0.txt"}
    idx.close()


def test_touch_without_change_costs_no_embedding(seeded, fake):
    build_index(seeded, fake)
    f = next(seeded.articles_dir.glob("*.txt"))
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    report = build_index(seeded, fake)
    assert report.embedded == 0 and report.unchanged == 5 and not report.changed_anything


def test_full_rebuild_matches_incremental_counts(seeded, fake):
    build_index(seeded, fake)
    write(seeded, "harbour.txt", ARTICLE)
    inc = build_index(seeded, fake)
    full = build_index(seeded, fake, full=True)
    assert full.passages == inc.passages
    assert full.embedded == full.passages


def test_identical_paragraph_in_two_articles_is_embedded_once(seeded, fake):
    write(seeded, "a.txt", ARTICLE)
    write(seeded, "b.txt", ARTICLE.replace("The Harbour Reopens", "Harbour news in brief today"))
    report = build_index(seeded, fake)
    keys = [p for p in fake.calls if "festival" in p]
    assert len(keys) == 1
    rows, ntotal = all_passages(seeded)
    assert ntotal == len(rows) == report.passages


def test_model_change_is_refused_until_full(seeded, fake):
    build_index(seeded, fake)

    class Other(type(fake)):
        name = "another-model"

    with pytest.raises(IndexMismatch) as err:
        build_index(seeded, Other())
    assert "qa index --full" in str(err.value)
    report = build_index(seeded, Other(), full=True)
    assert report.embedded == report.passages
    assert read_meta(seeded.index_dir / report.generation).model == "another-model"


def test_metadata_records_the_build(seeded, fake):
    report = build_index(seeded, fake)
    meta = json.loads(read_meta(seeded.index_dir / report.generation).to_json())
    for key in ("format_version", "model", "dimension", "splitter_version", "files", "passages", "built_at"):
        assert key in meta
    assert meta["passages"] == report.passages and meta["dimension"] == 64


def test_updates_stay_in_one_generation_and_full_rebuilds_keep_only_the_previous(seeded, fake):
    first = build_index(seeded, fake)
    for i in range(4):
        write(seeded, f"extra{i}.txt", ARTICLE.replace("Monday", f"day {i}"))
        assert build_index(seeded, fake).generation == first.generation  # in place: no copy of the index
    for _ in range(3):
        build_index(seeded, fake, full=True)
    gens = sorted(p.name for p in seeded.index_dir.iterdir() if p.name.startswith("gen-"))
    assert len(gens) == 2


# ---------------------------------------------------------------- damage


def _damage_cases():
    def segment(gen, ext):
        return sorted(gen.glob(f"seg-*.{ext}"))[0]

    def truncate_vectors(gen):
        p = segment(gen, "vec")
        p.write_bytes(p.read_bytes()[:100])

    def remove_vectors(gen):
        segment(gen, "vec").unlink()

    def remove_ids(gen):
        segment(gen, "ids").unlink()

    def corrupt_sqlite(gen):
        p = gen / "rows.sqlite"
        data = bytearray(p.read_bytes())
        data[:100] = b"\x00garbage" * 12 + b"\x00\x00\x00\x00"
        p.write_bytes(bytes(data))

    def remove_sqlite(gen):
        (gen / "rows.sqlite").unlink()

    def garble_meta(gen):
        import sqlite3

        db = sqlite3.connect(gen / "rows.sqlite")
        with db:
            db.execute("UPDATE state SET value = '{not json' WHERE key = 'meta'")
        db.close()

    def garble_pointer(gen):
        (gen.parent / "CURRENT").write_text("../../etc\n")

    return [truncate_vectors, remove_vectors, remove_ids, corrupt_sqlite, remove_sqlite, garble_meta, garble_pointer]


@pytest.mark.parametrize("damage", _damage_cases(), ids=lambda f: f.__name__)
def test_damage_is_reported_and_full_rebuild_fixes_it(seeded, fake, damage):
    report = build_index(seeded, fake)
    damage(seeded.index_dir / report.generation)
    with pytest.raises(IndexDamaged) as err:
        Index.open(seeded.index_dir)
    assert "qa index --full" in str(err.value)
    with pytest.raises(IndexDamaged):
        build_index(seeded, fake)
    fixed = build_index(seeded, fake, full=True)
    assert fixed.passages == report.passages
    Index.open(seeded.index_dir).close()
    assert sorted(f.name for f in seeded.articles_dir.iterdir())  # articles untouched


def test_missing_index_is_its_own_error(settings):
    with pytest.raises(IndexMissing):
        Index.open(settings.index_dir)


def test_reader_keeps_its_state_while_updates_commit(seeded, fake):
    build_index(seeded, fake)
    reader = Index.open(seeded.index_dir)
    n = reader.vector_count()
    assert reader.is_current()
    first = sorted(seeded.articles_dir.glob("*.txt"))[0]
    first.unlink()  # its passages become tombstones for new readers, not for this one
    for i in range(3):
        write(seeded, f"x{i}.txt", ARTICLE.replace("Monday", f"weekday {i}"))
        build_index(seeded, fake)
    assert not reader.is_current()
    assert len(reader.passages(list(range(1, 6)))) == 5
    assert reader.vector_count() == n == reader.meta.passages
    assert reader.passages_of("x0.txt") == [] and reader.passages_of(first.name)  # one committed state, not a mix
    assert all(pid <= n for pid, _ in reader.dense_search(fake.embed_query("harbour quay festival"), 10))
    reader.close()
    fresh = Index.open(seeded.index_dir)
    assert fresh.passages_of("x0.txt") and not fresh.passages_of(first.name) and fresh.is_current()
    fresh.close()


def test_reader_keeps_working_after_full_rebuilds_prune_its_folder(seeded, fake):
    build_index(seeded, fake)
    reader = Index.open(seeded.index_dir)
    n = reader.vector_count()
    for _ in range(3):  # enough generations that the reader's is pruned from disk
        build_index(seeded, fake, full=True)
    assert not reader.is_current()
    assert len(reader.passages(list(range(1, 6)))) == 5
    assert reader.vector_count() == n and len(reader.get_vectors([1, 2])) == 2
    reader.close()


def test_a_rebuild_finishing_during_an_answer_does_not_break_it(seeded, fake):
    """The chat app answers and rebuilds on two threads: the switch must wait for the answer in flight."""
    import threading
    import time

    from qa.assistant import Assistant

    entered, release = threading.Event(), threading.Event()

    class Slow(type(fake)):
        def embed_query(self, text):
            entered.set()
            release.wait(10)
            return super().embed_query(text)

    assistant = Assistant(seeded, embedder=Slow())
    assistant.rebuild()
    results, errors = [], []

    def ask():
        try:
            results.append(assistant.ask("Where did the foreign ministers of Russia and Ukraine meet?"))
        except Exception as exc:  # the assertion below reports it
            errors.append(exc)

    asker = threading.Thread(target=ask)
    asker.start()
    assert entered.wait(10)
    write(seeded, "harbour.txt", ARTICLE)
    before = (seeded.index_dir / "CURRENT").read_text()
    rebuilder = threading.Thread(target=assistant.rebuild)
    rebuilder.start()
    deadline = time.monotonic() + 10
    while (seeded.index_dir / "CURRENT").read_text() == before and time.monotonic() < deadline:
        time.sleep(0.02)  # the new generation is live; the old one is still being read
    release.set()
    asker.join(10)
    rebuilder.join(10)
    assert not errors, errors
    assert results and results[0].citations
    assert any(c.passage.source == "harbour.txt" for c in assistant.ask("When does the harbour reopen?").citations)


def test_articles_folder_missing_is_a_clear_error(settings, fake):
    from qa.errors import BadPath

    shutil.rmtree(settings.articles_dir)
    with pytest.raises(BadPath):
        build_index(settings, fake)


def test_large_sets_search_through_an_ivf_index_kept_in_step(seeded, fake, monkeypatch):
    import qa.stores.segments as segments
    from qa.retrieval import Retriever

    monkeypatch.setattr(segments, "IVF_THRESHOLD", 50)
    for i in range(40):
        write(seeded, f"bulk/{i:03d}.txt", ARTICLE.replace("Monday", f"weekday{i}").replace("festival", f"fair{i} parade{i}"))
    first = build_index(seeded, fake)
    idx = open_index(seeded)
    assert idx.describe() == {"segments": 1, "ivf_segments": 1, "tombstones": 0}
    hits = Retriever(idx, fake, mode="dense").search("fair7 parade7 waterfront mayor", k=1)
    assert hits[0].passage.source == "bulk/007.txt"
    idx.close()
    ivf_file = next(seeded.index_dir.glob("gen-*/seg-*.ivf"))
    stamp = ivf_file.stat().st_mtime_ns

    (seeded.articles_dir / "bulk/007.txt").unlink()
    write(seeded, "late.txt", ARTICLE.replace("festival", "regatta carnival"))
    second = build_index(seeded, fake)
    idx = open_index(seeded)
    # The large segment and its IVF file are untouched: the deletion is a tombstone, the new article a small flat segment.
    assert idx.describe() == {"segments": 2, "ivf_segments": 1, "tombstones": 3}
    assert ivf_file.stat().st_mtime_ns == stamp and idx.vector_count() == second.passages == first.passages
    dense = Retriever(idx, fake, mode="dense")
    assert all(h.passage.source != "bulk/007.txt" for h in dense.search("fair7 parade7 waterfront mayor", k=5))
    assert dense.search("regatta carnival waterfront mayor", k=1)[0].passage.source == "late.txt"
    idx.close()


def test_compaction_merges_segments_and_drops_tombstones(seeded, fake):
    from qa.indexer import compact_index
    from qa.retrieval import Retriever

    build_index(seeded, fake)
    for i in range(3):
        write(seeded, f"more{i}.txt", ARTICLE.replace("festival", f"market{i} stall{i}"))
        build_index(seeded, fake)
    (seeded.articles_dir / "more1.txt").unlink()
    report = build_index(seeded, fake)
    idx = open_index(seeded)
    assert idx.describe() == {"segments": 4, "ivf_segments": 0, "tombstones": 3}
    before = [h.passage.citation for h in Retriever(idx, fake).search("market2 stall2 waterfront", k=5)]
    idx.close()
    done = compact_index(seeded)
    assert done["segments_before"] == 4
    idx = open_index(seeded)
    assert idx.describe() == {"segments": 1, "ivf_segments": 0, "tombstones": 0}
    assert idx.vector_count() == report.passages == idx.meta.passages
    assert [h.passage.citation for h in Retriever(idx, fake).search("market2 stall2 waterfront", k=5)] == before
    idx.close()
    assert len(list(seeded.index_dir.glob("gen-*/seg-*.vec"))) == 1  # the merged-away files are gone


def test_many_updates_keep_the_segment_count_bounded(seeded, fake, monkeypatch):
    import qa.stores.local_writer as local

    monkeypatch.setattr(local, "MAX_SEGMENTS", 3)
    build_index(seeded, fake)
    for i in range(6):
        write(seeded, f"day{i}.txt", ARTICLE.replace("festival", f"event{i}"))
        report = build_index(seeded, fake)
        idx = open_index(seeded)
        assert idx.describe()["segments"] <= 3 and idx.vector_count() == report.passages
        idx.close()
    assert len(list(seeded.index_dir.glob("gen-*/seg-*.vec"))) <= 3


def test_term_frequencies_follow_adds_and_deletes(seeded, fake):
    write(seeded, "harbour.txt", ARTICLE)
    build_index(seeded, fake)
    idx = open_index(seeded)
    assert idx.document_frequencies(["quay", "festival", "nonexistentword"]) == {"quay": 1, "festival": 1, "nonexistentword": 0}
    idx.close()
    (seeded.articles_dir / "harbour.txt").unlink()
    build_index(seeded, fake)
    idx = open_index(seeded)
    assert idx.document_frequencies(["quay"]) == {"quay": 0}
    idx.close()
