"""Small things a first-time user meets: singular wording, JSON keys that match the README, a near-duplicate not
promised as the same text, one blank line too many. Through the real CLI on real files and the real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import shutil

import pytest

from qa.config import load_settings
from tests.test_cli_ux import MINISTERS, SEED_002, run, seed_cli  # noqa: F401  (a fixture)

KALIN = "003_80d590a6b506e82e.txt"


@pytest.fixture
def two_articles(tmp_path, real_embedder, monkeypatch):
    """One dated and one undated article, indexed with the real model."""
    from qa.assistant import Assistant
    from qa.indexer import build_index
    from tests.conftest import SEEDS

    articles = tmp_path / "articles"
    articles.mkdir(exist_ok=True)
    shutil.copy(SEEDS / "001_8cc1a95700f228bc.txt", articles)  # dated 2022-01-19
    shutil.copy(SEEDS / SEED_002, articles)  # undated
    monkeypatch.setenv("QA_ARTICLES_DIR", str(articles))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setattr("qa.cli._assistant", lambda settings: Assistant(settings, embedder=real_embedder))
    settings = load_settings()
    build_index(settings, real_embedder)
    return settings


@pytest.mark.slow
def test_one_undated_article_and_one_date_are_said_in_the_singular(two_articles):
    r = run("ask", MINISTERS, "--since", "2022-03-01", "--include-undated")
    assert r.exit_code == 0
    assert "the 1 article without a date was searched too" in r.stdout
    assert "the only article date is 2022-01-19" in r.stdout  # not "run from 2022-01-19 to 2022-01-19"
    r = run("ask", MINISTERS, "--since", "2022-03-01")
    assert "1 undated article was left out" in r.stdout
    r = run("status")
    assert "Dates:    1 of 2 articles dated, 2022-01-19" in r.stdout


@pytest.mark.slow
def test_every_retrieved_passage_has_the_keys_of_a_citation(seed_cli):
    data = json.loads(run("ask", MINISTERS, "--json", "-k", "7").stdout)
    citation_keys = set(data["citations"][0]) - {"n"}
    assert len(data["retrieved"]) == 7
    for r in data["retrieved"]:
        assert citation_keys <= set(r), citation_keys - set(r)
        assert r["page"] is None  # text articles have no page


@pytest.mark.slow
def test_a_near_duplicate_is_not_called_the_same_text(seed_cli):
    articles = seed_cli.articles_dir
    text = (articles / KALIN).read_text(encoding="utf-8")
    edited = text.replace("Kalın said in an interview", "Kalın said in a long interview with the Qwertyvision team")
    assert edited != text
    (articles / "005_copy.txt").write_text(edited, encoding="utf-8")
    (articles / "006_exact.txt").write_text(text, encoding="utf-8")
    assert run("index").exit_code == 0
    r = run("ask", "Which channel interviewed Kalın?", "-k", "10")
    assert r.exit_code == 0
    out = r.stdout
    lines = [line.strip() for line in out.splitlines() if " text in " in line]
    # The exact copy is the same text; the edited one only nearly, whichever of the three leads.
    assert any(line.startswith("same text in") for line in lines), out
    assert any(line.startswith("nearly the same text in") for line in lines), out


@pytest.mark.slow
def test_nothing_listed_ends_without_a_blank_line(seed_cli):
    r = run("ask", MINISTERS, "--since", "2022-03-01")
    assert r.exit_code == 0
    assert r.stdout.endswith("search them too).\n"), repr(r.stdout[-80:])


def test_show_beyond_the_end_names_one_line_as_one_line(seeded):
    r = run("show", f"{SEED_002}:999")
    assert r.exit_code == 1
    assert "line 999 is not among them" in r.output and "999-999" not in r.output
    r = run("show", f"{SEED_002}:20-999")
    assert r.exit_code == 1 and "lines 20-999 are not among them" in r.output


@pytest.mark.slow
def test_the_chat_app_calls_a_near_duplicate_nearly_the_same(seed_index, real_embedder, tmp_path):
    """After ctrl+r takes an edited copy of an article, its sources panel does not promise the same words elsewhere."""
    import asyncio

    from tests.tui_helpers import ask, make_app, settle, sources_shown

    shutil.copytree(seed_index.articles_dir, tmp_path / "c" / "articles")
    shutil.copytree(seed_index.index_dir, tmp_path / "c" / "index")
    settings = load_settings(articles=tmp_path / "c" / "articles", index=tmp_path / "c" / "index")
    text = (settings.articles_dir / KALIN).read_text(encoding="utf-8")

    async def scenario():
        app = make_app(settings, real_embedder)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            (settings.articles_dir / "005_copy.txt").write_text(
                text.replace("Kalın said in an interview", "Kalın said in a long interview with the Qwertyvision team"),
                encoding="utf-8")
            await pilot.press("ctrl+r")
            await settle(app, pilot)
            await ask(app, pilot, "Which Qwertyvision team interviewed Kalın?")
            cited = app.turns[-1].answer.citations[0]
            assert cited.passage.source == "005_copy.txt" and cited.also, app.turns[-1].answer.text
            shown = " ".join(sources_shown(app).split())
            assert f"nearly the same text in {KALIN}:7" in shown, shown

    asyncio.run(scenario())


def test_a_rejected_question_in_the_chat_stays_in_the_box_selected(seeded, fake):
    """Only punctuation, or a paste far over the limit: the notice says why and the text is not thrown away."""
    import asyncio

    from qa.assistant import Assistant
    from tests.tui_helpers import make_app, settle

    Assistant(seeded, embedder=fake).rebuild()

    async def scenario():
        app = make_app(seeded, fake)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            box = app.chat.query_one("#question")
            await pilot.press(*"!?!?...", "enter")
            await pilot.pause()
            assert box.value == "!?!?..." and box.selected_text == "!?!?..."
            assert any("no words" in n.message for n in app._notifications)
            assert app.turns == []
            box.value = ""
            long = "x" * 10_000
            box.value = long
            await pilot.press("enter")
            await pilot.pause()
            assert box.value == long and any("limit is 2000" in n.message for n in app._notifications)
            await pilot.press(*"Where did the foreign ministers meet?", "enter")  # typing replaces the selection
            await settle(app, pilot)
            assert box.value == "" and [t.question for t in app.turns] == ["Where did the foreign ministers meet?"]

    asyncio.run(scenario())


def test_a_reversed_range_in_the_chat_says_how_to_get_out_of_it(seeded, fake):
    import asyncio

    from qa.assistant import Assistant
    from tests.tui_helpers import make_app, settle, status_shown

    Assistant(seeded, embedder=fake).rebuild()

    async def scenario():
        app = make_app(seeded, fake)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await pilot.press(*"/until 2022-01-20", "enter")
            await pilot.press(*"/since 2022-02-01", "enter")
            await pilot.pause()
            note = next(n.message for n in app._notifications if "nothing could match" in n.message)
            assert "/until off" in note, note
            assert (app.since, app.until) == (None, "2022-01-20")  # the filter in force is unchanged
            await pilot.press(*"/until off", "enter")
            await pilot.press(*"/since 2022-02-01", "enter")
            await pilot.pause()
            assert (app.since, app.until) == ("2022-02-01", None) and "since 2022-02-01" in status_shown(app)

    asyncio.run(scenario())


@pytest.mark.parametrize("name, value", [("QA_K", "abc"), ("QA_K", "0"), ("QA_MAX_FILE_MB", "x"), ("QA_LOCK_WAIT", "-1")])
def test_a_bad_numeric_setting_is_one_line_naming_it(tmp_path, name, value):
    env = {**os.environ, name: value, "QA_ARTICLES_DIR": str(tmp_path), "QA_INDEX_DIR": str(tmp_path / "index")}
    r = subprocess.run([sys.executable, "-m", "qa", "ask", "Where did they meet?"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1
    assert name in r.stderr and "Traceback" not in r.stderr and "unexpected" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2
