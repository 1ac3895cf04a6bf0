"""The `qa` command: exit codes, one-line messages, JSON shape, and a lazy start."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from qa.cli import cli


def run(*args, env=None):
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result


def test_help_does_not_import_torch():
    code = "import sys; from qa.cli import main; sys.argv=['qa','--help']\ntry:\n main()\nexcept SystemExit: pass\nprint('HEAVY', [m for m in ('torch','sentence_transformers','faiss','numpy','textual') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    assert "ask" in out and "index" in out


def test_missing_index_says_what_to_do(settings):
    r = run("ask", "Where did they meet?")
    assert r.exit_code == 1
    assert "No index" in r.output and "qa index" in r.output
    assert "Traceback" not in r.output
    r = run("status")
    assert r.exit_code == 1 and "qa index" in r.output


@pytest.mark.parametrize("question", ["", "   ", "?!?"])
def test_empty_question_is_exit_1(settings, question):
    r = run("ask", question)
    assert r.exit_code == 1
    assert r.output.count("\n") == 1 and r.output.startswith("Error:")


def test_bad_usage_is_exit_2(settings):
    assert run("ask").exit_code == 2
    assert run("ask", "x", "-k", "0").exit_code == 2
    assert run("ask", "x", "--since", "yesterday").exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_show_marks_the_cited_lines(seeded):
    r = run("show", "002_45dc96f4cd72d57e.txt:1-2")
    assert r.exit_code == 0
    lines = r.output.splitlines()
    marked = [l for l in lines if l.startswith(">")]
    assert len(marked) == 2 and "Erdoğan, Zelenskyy discuss" in marked[0]
    assert any(l.startswith("     5  President Recep") for l in lines)


def test_show_bad_targets(seeded):
    assert run("show", "nope.txt").exit_code == 1
    assert run("show", "../etc/passwd").exit_code == 1
    r = run("show", "002_45dc96f4cd72d57e.txt:500")
    assert r.exit_code == 1 and "lines" in r.output


def test_debug_shows_the_traceback(settings):
    r = CliRunner().invoke(cli, ["ask", "x"], env={"QA_DEBUG": "1"})
    assert r.exit_code != 0 and r.exception is not None


@pytest.mark.slow
def test_index_ask_json_status_through_the_real_model(seeded):
    r = run("index")
    assert r.exit_code == 0, r.output
    assert "5 added" in r.output and "passages:" in r.output
    r = run("ask", "Which TV channel interviewed Kalın?", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert set(data) == {"question", "answer", "found", "citations", "retrieved"}  # retrieved: added by -k work, keys kept
    assert data["found"] is True and "A Haber" in data["answer"]
    c = data["citations"][0]
    for key in ("n", "source", "paragraph", "line_start", "line_end", "score", "text"):
        assert key in c
    assert c["source"] == "003_80d590a6b506e82e.txt" and c["line_start"] == 7
    assert "[1]" in data["answer"]
    r = run("status")
    assert r.exit_code == 0 and "Up to date" in r.output
    (seeded.articles_dir / "new.txt").write_text("A new article paragraph about harbours and ferries and the town.")
    r = run("status")
    assert "new.txt" in r.output and "qa index" in r.output
    r = run("index", "--json")
    report = json.loads(r.stdout)
    # The keys stay; new ones are additions ("warnings": files indexed with a caveat).
    assert {"added", "changed", "removed", "renamed", "unchanged", "skipped", "passages", "embedded", "seconds"} <= set(report)
    assert report["added"] == 1 and report["embedded"] == 1


@pytest.mark.slow
def test_cli_process_end_to_end(seed_index):
    env = dict(os.environ, QA_ARTICLES_DIR=str(seed_index.articles_dir), QA_INDEX_DIR=str(seed_index.index_dir))
    p = subprocess.run([sys.executable, "-m", "qa", "ask", "Where did the foreign ministers meet?"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert "Antalya" in p.stdout and "002_45dc96f4cd72d57e.txt:17" in p.stdout
    p = subprocess.run([sys.executable, "-m", "qa", "ask", ""], capture_output=True, text=True, env=env)
    assert p.returncode == 1 and "Traceback" not in p.stderr and p.stderr.startswith("Error:")
