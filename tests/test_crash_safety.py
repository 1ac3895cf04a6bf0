"""A rebuild killed at any point leaves the old index answering; concurrent writers are kept out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from qa.assistant import Assistant
from qa.config import load_settings
from qa.errors import IndexBusy
from qa.indexer import build_index
from qa.locking import writer_lock
from qa.stores.local import LocalStore as Index

from .conftest import ROOT, lock_held_by_another_process
from .test_indexer import ARTICLE, write

# A child process that runs a rebuild (or a compaction) and SIGKILLs itself at a chosen point.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import qa.stores.local_writer as local
    import qa.stores.segments as segments
    from qa.config import load_settings
    from qa.indexer import build_index, compact_index
    from tests.conftest import FakeEmbedder

    point = sys.argv[1]
    def die(*a, **k):
        os.kill(os.getpid(), signal.SIGKILL)

    def then_die(real):
        def wrapped(*a, **k):
            real(*a, **k)
            die()
        return wrapped

    progress = None
    full = point.startswith("full-")
    if point.startswith("merge-"):
        local.MAX_SEGMENTS = 1  # this update also merges segments
    if point == "embedding":
        progress = lambda p: die() if p.phase == "embed" else None
    elif point == "writing-rows":
        local.LocalWriter.add_passages = die
    elif point in ("after-segment-written", "full-after-segment-written"):
        segments.SegmentBuilder.finish = then_die(segments.SegmentBuilder.finish)
    elif point in ("before-commit", "merge-before-commit", "compact-before-commit"):
        local._sqlite_commit = die
    elif point in ("after-commit", "merge-after-commit", "compact-after-commit"):
        local._sqlite_commit = then_die(local._sqlite_commit)
    elif point == "full-before-switch":
        local.os.replace = die
    elif point == "full-after-switch":
        local.prune_generations = die
    if point.startswith("compact-"):
        compact_index(load_settings())
    else:
        build_index(load_settings(), FakeEmbedder(), progress=progress, full=full)
    print("finished without dying")
    """
)

POINTS = ["embedding", "writing-rows", "after-segment-written", "before-commit", "after-commit", "merge-before-commit",
          "merge-after-commit", "compact-before-commit", "compact-after-commit", "full-after-segment-written",
          "full-before-switch", "full-after-switch"]
# Killed at these points, the update had committed: the new state answers.
COMMITTED = {"after-commit", "merge-after-commit", "full-after-switch"}


def answers(settings, fake) -> str:
    a = Assistant(settings, embedder=fake)
    try:
        return a.ask("harbour sea wall repairs reopened quay").text
    finally:
        a.close()


def count_passages(settings):
    idx = Index.open(settings.index_dir)
    try:
        rows = idx._query("SELECT source, paragraph FROM passages")
        listed = {s.info.name for s in idx.segments}
        on_disk = {p.name.split(".")[0] for p in idx.gen_dir.glob("seg-*")}
        assert on_disk == listed, (on_disk, listed)  # no orphan segment files left behind
        return len(rows), len(set(rows)), idx.vector_count()
    finally:
        idx.close()


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_mid_rebuild_leaves_old_index_and_next_rebuild_is_exact(seeded, fake, point, tmp_path):
    write(seeded, "harbour.txt", ARTICLE)
    build_index(seeded, fake)
    for i in range(2):  # a few segments, so that merges and compactions have work
        write(seeded, f"older/o-{i}.txt", ARTICLE.replace("festival", f"market {i}"))
        build_index(seeded, fake)
    before = answers(seeded, fake)
    for i in range(3):
        write(seeded, f"more/new-{i}.txt", ARTICLE.replace("Monday", f"the {i}th day").replace("festival", f"fair number {i}"))
    (seeded.articles_dir / "harbour.txt").unlink()

    child = subprocess.run([sys.executable, "-c", CHILD, point], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr

    # The index on disk still loads and answers: the old one, or (killed after the switch) the new one.
    after_crash = answers(seeded, fake)
    if point not in COMMITTED:
        assert after_crash == before

    report = build_index(seeded, fake)
    n, unique, vectors = count_passages(seeded)
    fresh = load_settings(articles=seeded.articles_dir, index=tmp_path / "fresh")
    full = build_index(fresh, fake, full=True)
    assert n == unique == vectors == full.passages == report.passages
    leftovers = [p.name for p in seeded.index_dir.iterdir() if ".tmp-" in p.name]
    assert not leftovers


def test_second_writer_waits_then_gives_up_with_the_pid(seeded, fake):
    with lock_held_by_another_process(seeded.index_dir) as holder:
        with pytest.raises(IndexBusy) as err:
            build_index(seeded.with_(lock_wait=0.3), fake)
        assert f"another rebuild is running (pid {holder.pid})" in str(err.value)
    # The holder died without unlocking: its stale lock does not block the next rebuild.
    assert build_index(seeded.with_(lock_wait=0.3), fake).passages > 0


def test_second_writer_in_process_waits_for_the_first(seeded, fake):
    order = []

    def slow_holder():
        with writer_lock(seeded.index_dir, 1):
            order.append("holder")
            time.sleep(0.5)

    t = threading.Thread(target=slow_holder)
    t.start()
    time.sleep(0.1)
    report = build_index(seeded.with_(lock_wait=5), fake)
    order.append("builder")
    t.join()
    assert order == ["holder", "builder"] and report.passages > 0


def test_stale_lock_file_with_dead_pid_is_recovered(seeded, fake):
    seeded.index_dir.mkdir(parents=True, exist_ok=True)
    (seeded.index_dir / ".lock").write_text("999999\n")
    assert build_index(seeded.with_(lock_wait=0), fake).passages > 0


def test_cli_reports_busy_index_in_one_line(seeded):
    from click.testing import CliRunner

    from qa.cli import cli

    with writer_lock(seeded.index_dir, 0):
        # flock is per open file, so the same process can be kept out by a second open.
        r = CliRunner().invoke(cli, ["index"], env={"QA_LOCK_WAIT": "0.2"})
    assert r.exit_code == 1
    assert "another rebuild is running" in r.output and "Traceback" not in r.output


def test_unchanged_rescan_reads_no_file_contents(seeded, fake, monkeypatch):
    for i in range(200):
        write(seeded, f"bulk/{i:04d}.txt", ARTICLE.replace("Monday", f"day {i}"))
    build_index(seeded, fake)
    import qa.indexer as indexer

    def forbidden(*a, **k):
        raise AssertionError("a file was read during an unchanged rescan")

    monkeypatch.setattr(indexer, "read_document", forbidden)
    monkeypatch.setattr(indexer, "_sha256", forbidden)
    report = build_index(seeded, fake)
    assert report.unchanged == 205 and report.embedded == 0


def test_watch_picks_up_a_new_file(seeded, fake):
    from qa.watch import watch_folder

    build_index(seeded, fake)
    assistant = Assistant(seeded, embedder=fake)
    reports = []
    stop = threading.Event()
    t = threading.Thread(target=watch_folder, args=(assistant, reports.append), kwargs={"stop": stop, "interval": 0.2, "settle": 0.2})
    t.start()
    try:
        time.sleep(0.5)
        write(seeded, "fresh.txt", ARTICLE)
        deadline = time.monotonic() + 10
        while not reports and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        t.join()
    assert reports and reports[0].added == ["fresh.txt"] and reports[0].embedded == 3
    assert "sea wall" in assistant.ask("harbour reopened sea wall repairs quay").text
    assistant.close()


def test_watch_leaves_a_missing_index_for_the_user_to_build(seeded, fake):
    from qa.watch import watch_folder

    assistant = Assistant(seeded, embedder=fake)
    stop = threading.Event()
    t = threading.Thread(target=watch_folder, args=(assistant, lambda r: None), kwargs={"stop": stop, "interval": 0.1, "settle": 0.1})
    t.start()
    try:
        write(seeded, "fresh.txt", ARTICLE)
        time.sleep(1.5)
    finally:
        stop.set()
        t.join()
    assert not assistant.has_index() and not fake.calls


def test_cli_watch_prints_one_line_per_update_and_stops_on_ctrl_c(seeded):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    code = "from tests.conftest import FakeEmbedder; import qa.assistant as a; a.embedder_for = lambda *x, **k: FakeEmbedder(); from qa.cli import main; main()"
    # A suite started as a background job (`make test &`) inherits SIGINT ignored, and a Python started so never
    # turns Ctrl-C into KeyboardInterrupt: give the watcher the default a terminal user has.
    proc = subprocess.Popen([sys.executable, "-c", code, "index", "--watch"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines = []
        while not any("time:" in l for l in lines):
            lines.append(proc.stdout.readline())
            # EOF means the watcher died: fail with what it said rather than loop forever.
            assert lines[-1], proc.stderr.read()
        write(seeded, "watched.txt", ARTICLE)
        line = proc.stdout.readline()
        assert line.startswith("Index updated: 1 added") and "3 passages embedded" in line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "Stopped watching" in err and "Traceback" not in err
