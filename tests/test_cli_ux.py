"""What a first-time user of `qa` trips over (issue 14): pipes, date filters, `qa show` targets, empty or odd
folders, scores and -k, progress off a terminal, small words. Through the real CLI on real files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from qa.cli import cli
from qa.config import load_settings

SEED_002 = "002_45dc96f4cd72d57e.txt"
MINISTERS = "Where did the foreign ministers meet?"


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def env_for(settings, **extra):
    env = dict(os.environ, QA_ARTICLES_DIR=str(settings.articles_dir), QA_INDEX_DIR=str(settings.index_dir))
    env.update(extra)
    return env


def closed_pipe_run(args, env):
    """Run `qa ARGS` with stdout a pipe whose reader has already gone (as after `| head -1`)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "qa", *args], stdout=write, stderr=subprocess.PIPE, text=True, env=env, timeout=300)
    finally:
        os.close(write)


@pytest.fixture
def seed_cli(seed_index, real_embedder, tmp_path, monkeypatch):
    """The CLI over a private copy of the indexed seeds, sharing the session's loaded model."""
    from qa.assistant import Assistant

    shutil.copytree(seed_index.articles_dir, tmp_path / "s" / "articles")
    shutil.copytree(seed_index.index_dir, tmp_path / "s" / "index")
    monkeypatch.setenv("QA_ARTICLES_DIR", str(tmp_path / "s" / "articles"))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "s" / "index"))
    monkeypatch.setattr("qa.cli._assistant", lambda settings: Assistant(settings, embedder=real_embedder))
    return load_settings()


# 1. A reader that closes the pipe early ------------------------------------------------------------


def test_show_into_a_closed_pipe_exits_quietly(seeded):
    p = closed_pipe_run(["show", SEED_002], env_for(seeded))
    assert p.returncode == 0
    assert p.stderr == ""


@pytest.mark.slow
def test_ask_into_a_closed_pipe_exits_quietly(seed_index):
    p = closed_pipe_run(["ask", MINISTERS], env_for(seed_index))
    assert p.returncode == 0
    assert "BrokenPipe" not in p.stderr and "Error" not in p.stderr


# 2. Date filters -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_date_filter_says_what_it_searched_and_what_it_left_out(seed_cli):
    r = run("ask", MINISTERS, "--since", "2022-03-01")
    assert r.exit_code == 0
    out = r.stdout
    assert "0 of 5 articles are dated since 2022-03-01" in out
    assert "from 2022-01-19 to 2022-01-26" in out  # the dates there are
    assert "3 undated articles were left out" in out and "--include-undated" in out
    assert "Nearest passages" not in out  # no heading over an empty list
    assert "Read a source in full" not in r.stderr  # nothing was listed to read

    r = run("ask", MINISTERS, "--since", "2022-03-01", "--include-undated")
    assert r.exit_code == 0 and "Antalya" in r.stdout
    assert "the 3 articles without a date were searched too" in r.stdout

    r = run("ask", MINISTERS, "--since", "2022-01-01", "--json")
    data = json.loads(r.stdout)
    assert data["date_filter"] == {"since": "2022-01-01", "until": None, "include_undated": False, "articles": 5,
                                   "dated_in_range": 2, "undated": 3}
    assert all(c["date"] >= "2022-01-01" for c in data["citations"])


def test_a_reversed_date_range_is_a_usage_error(seeded):
    r = run("ask", MINISTERS, "--since", "2022-03-01", "--until", "2022-01-01")
    assert r.exit_code == 2
    assert "2022-03-01 is after --until 2022-01-01" in r.output


@pytest.mark.slow
def test_status_shows_dated_articles_and_their_span(seed_cli):
    r = run("status")
    assert r.exit_code == 0
    assert "Dates:    2 of 5 articles dated, 2022-01-19 to 2022-01-26" in r.stdout
    assert json.loads(run("status", "--json").stdout)["dated"] == 2


def test_status_names_files_the_last_build_skipped_instead_of_calling_them_new(seeded, fake):
    from qa.assistant import Assistant
    from qa.indexer import build_index

    (seeded.articles_dir / "blob.txt").write_bytes(b"\x00\x01binary\x00")
    (seeded.articles_dir / "blank.txt").write_text("   \n")
    build_index(seeded, fake)
    assistant = Assistant(seeded, embedder=fake)
    st = assistant.status()
    assert st.added == [] and [name for name, _ in st.skipped] == ["blank.txt", "blob.txt"]
    assert "binary" in dict(st.skipped)["blob.txt"]
    (seeded.articles_dir / "fresh.txt").write_text("A fresh article about the talks in Antalya.\n")
    st = assistant.status()
    assert st.added == ["fresh.txt"] and len(st.skipped) == 2
    assistant.close()


@pytest.mark.slow
def test_status_and_index_lines_say_what_happened_once(seed_cli, monkeypatch):
    """A running rebuild is named; a skip reason with its own remedy gets no second one; the parts of the index
    summary add up to its file count, the removed files said apart."""
    from .conftest import lock_held_by_another_process

    with lock_held_by_another_process(seed_cli.index_dir) as holder:
        out = run("status").stdout
        assert f"Rebuilding now: `qa index` (pid {holder.pid}) is running" in out
        assert json.loads(run("status", "--json").stdout)["rebuilding"] == str(holder.pid)
    assert "Rebuilding now" not in run("status").stdout

    big = seed_cli.articles_dir / "huge.txt"
    big.write_text("A long article about the talks. " * 40_000)
    (seed_cli.articles_dir / "blob.txt").write_bytes(b"\x00\x01binary\x00")
    next(seed_cli.articles_dir.glob("000_*.txt")).unlink()
    monkeypatch.setenv("QA_MAX_FILE_MB", "1")
    out = run("index").stdout
    assert "  files:    4 in the index (0 added, 0 changed, 0 renamed, 4 unchanged); 1 removed\n" in out
    out = run("status").stdout
    assert "huge.txt: larger than 1 MB (raise QA_MAX_FILE_MB to include it)\n" in out
    assert "blob.txt: binary file (contains NUL bytes) (not indexed; fix or remove the file)" in out


# 3. qa show targets --------------------------------------------------------------------------------


def test_show_opens_a_unique_prefix(seeded):
    r = run("show", "003")
    assert r.exit_code == 0
    assert r.stdout.startswith("003_80d590a6b506e82e.txt")
    r = run("show", "002:17")
    assert r.exit_code == 0 and any(line.startswith(">   17") for line in r.stdout.splitlines())


def test_show_lists_close_matches_of_an_ambiguous_or_unknown_name(seeded):
    r = run("show", "00")
    assert r.exit_code == 1
    assert "matches 5 articles" in r.output and "003_80d590a6b506e82e.txt" in r.output
    r = run("show", "02_45dc")  # a digit short
    assert r.exit_code == 1
    assert "No article '02_45dc'" in r.output and "Close matches: 002_45dc96f4cd72d57e.txt" in r.output


@pytest.mark.parametrize("target, said", [
    (f"{SEED_002}:abc", "'abc' is not a line spec"),
    (":9-7", "runs backwards"),
    (f"{SEED_002}:9-7", "runs backwards: write the first line first (7-9)"),
    (f"{SEED_002}:0", "numbered from 1"),
])
def test_show_bad_line_specs_say_so(seeded, target, said):
    r = run("show", target)
    assert r.exit_code == 2
    assert said in r.output and "No article" not in r.output


def test_show_negative_context_is_a_usage_error(seeded):
    r = run("show", f"{SEED_002}:17", "--context", "-1")
    assert r.exit_code == 2 and "--context" in r.output


# 4. Empty and odd folders --------------------------------------------------------------------------


def test_index_of_an_empty_folder_says_so_without_loading_a_model(settings):
    (settings.articles_dir / "notes.pdfx").write_text("not an article kind")
    code = (
        "import sys\nfrom qa.cli import main\nsys.argv=['qa','index']\n"
        "try:\n main()\nexcept SystemExit as e:\n print('EXIT', e.code)\n"
        "print('LOADED', [m for m in ('torch', 'sentence_transformers') if m in sys.modules])"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_for(settings), timeout=120)
    assert "EXIT 1" in p.stdout and "LOADED []" in p.stdout
    assert f"files found in {settings.articles_dir}" in p.stderr and ".txt" in p.stderr and "nothing to index" in p.stderr
    assert not (settings.index_dir / "CURRENT").exists()


@pytest.mark.slow
def test_asking_an_empty_index_says_it_is_empty(settings, real_embedder, monkeypatch):
    from qa.assistant import Assistant
    from qa.indexer import build_index

    build_index(settings, real_embedder)  # an empty folder still gives a valid, empty index (the app opens it)
    monkeypatch.setattr("qa.cli._assistant", lambda s: Assistant(s, embedder=real_embedder))
    r = run("ask", MINISTERS)
    assert r.exit_code == 1
    assert "index" in r.output and "is empty" in r.output and "do not contain" not in r.output


def test_articles_pointing_at_a_file_says_it_is_a_file(seeded):
    a_file = seeded.articles_dir / SEED_002
    for command in (["index"], ["chat"], ["show", "002"], ["status"]):
        r = run(*command, "--articles", str(a_file))
        assert r.exit_code == 1
        assert "is a file, not a folder" in r.output and "--articles DIR" in r.output


# 5. Scores and sources; -k ------------------------------------------------------------------------


@pytest.mark.slow
def test_k_lists_the_other_passages_and_json_adds_retrieved(seed_cli):
    r = run("ask", MINISTERS, "-k", "8")
    assert r.exit_code == 0
    out = r.stdout
    assert "Sources:" in out and "Also retrieved, closest first" in out
    also = out.split("Also retrieved")[1]
    scores = [float(line.split("(score ")[1].split(")")[0]) for line in also.splitlines() if "(score " in line]
    cited = out.split("Also retrieved")[0].count("(score ")
    assert scores == sorted(scores, reverse=True)
    assert "not a probability" in r.stderr and f"qa show {SEED_002}:17" in r.stderr

    data = json.loads(run("ask", MINISTERS, "-k", "8", "--json").stdout)
    assert {"question", "answer", "found", "citations"} <= set(data)
    assert [h["rank"] for h in data["retrieved"]] == list(range(1, len(data["retrieved"]) + 1))
    assert len(data["retrieved"]) == cited + len(scores) >= 6
    assert {"source", "line_start", "line_end", "score", "text"} <= set(data["retrieved"][0])

    default = run("ask", MINISTERS)
    assert "Also retrieved" not in default.stdout  # only when asked for with -k


@pytest.mark.slow
def test_nearest_passages_are_listed_closest_first(seed_cli):
    r = run("ask", "What is the price of bananas in Lisbon?")
    assert "Nearest passages (not an answer), closest first:" in r.stdout
    scores = [float(line.split("(score ")[1].split(")")[0]) for line in r.stdout.splitlines() if "(score " in line]
    assert len(scores) >= 2 and scores == sorted(scores, reverse=True)
    assert "not a probability" in r.stderr


# 6. Progress when stderr is not a terminal ---------------------------------------------------------


@pytest.mark.slow
def test_index_prints_plain_progress_lines_when_stderr_is_not_a_terminal(seeded):
    p = subprocess.run([sys.executable, "-m", "qa", "index"], capture_output=True, text=True,
                       env=env_for(seeded, QA_PROGRESS_SECONDS="0"), timeout=600)
    assert p.returncode == 0, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.startswith("Indexing:")]
    assert lines, p.stderr
    assert "\r" not in p.stderr
    assert any("files read" in line for line in lines)
    last = lines[-1]
    assert "passages embedded" in last and "passages/s" in last and "left" in last


def test_plain_progress_lines_come_every_few_seconds_not_every_event(monkeypatch):
    import io

    from qa.indexer import BuildProgress
    from qa.progress import PlainLines

    clock = [100.0]
    monkeypatch.setattr("qa.progress.time.monotonic", lambda: clock[0])
    out = io.StringIO()
    lines = PlainLines(out, every=5)
    lines(BuildProgress("read", 1, 1))
    clock[0] += 1.0
    lines(BuildProgress("embed", 0, 2560))
    for done in range(256, 2561, 256):
        clock[0] += 1.0
        lines(BuildProgress("embed", done, 2560))
    lines.close()
    shown = out.getvalue().splitlines()
    assert len(shown) == 2  # 10 s of events, a line every 5 s
    # At t=110: 2304 passages in the 10 s since reading ended.
    assert shown[-1] == "Indexing: 1/1 files read, 2304/2560 passages embedded, 230.4 passages/s, about 1 s left to embed"


def test_plain_progress_lines_keep_coming_while_a_batch_or_the_model_load_takes_long():
    import io
    import time

    from qa.indexer import BuildProgress
    from qa.progress import PlainLines

    out = io.StringIO()
    lines = PlainLines(out, every=0.05)
    lines(BuildProgress("read", 3, 3))  # all files read; then nothing for a while (the model loads)
    time.sleep(0.4)
    lines.close()
    shown = out.getvalue().splitlines()
    assert len(shown) >= 3
    assert all(line.startswith("Indexing: 3/3 files read, embedding starts") for line in shown)


# 7. Small words ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_copied_file_with_the_same_bytes_is_touched_not_changed(seed_cli):
    path = seed_cli.articles_dir / SEED_002
    backup = path.with_suffix(".bak")
    shutil.copy(path, backup)  # cp without -p: same bytes, new modification time
    data = path.read_bytes()
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    assert path.read_bytes() == data
    r = run("status")
    assert r.exit_code == 0
    assert f"touched  {SEED_002}" in r.stdout and "changed" not in r.stdout.replace("no article changed", "")
    assert "Up to date" in r.stdout
    # A rename is a rename, not one new and one removed article.
    path.rename(seed_cli.articles_dir / "renamed.txt")
    r = run("status")
    assert f"renamed  {SEED_002} → renamed.txt" in r.stdout


def test_report_counts_use_the_right_plural():
    from qa.cli import _plural

    assert _plural(1, "passage") == "1 passage" and _plural(2, "passage") == "2 passages" and _plural(0, "file") == "0 files"


def test_a_date_that_is_not_a_day_says_why(seeded):
    r = run("ask", MINISTERS, "--since", "2022-02-30")
    assert r.exit_code == 2 and "February 2022 has 28 days" in r.output
    r = run("ask", MINISTERS, "--until", "2022-13-01")
    assert r.exit_code == 2 and "no month 13" in r.output
    from tui.commands import CommandError, parse_date

    with pytest.raises(CommandError) as err:
        parse_date("2023-02-29")
    assert "February 2023 has 28 days" in err.value.message
    assert parse_date(" 2024-02-29 ") == "2024-02-29"
