"""What a first-time user of the chat app tripped over (issue 14), driven through the real app by its Pilot."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from qa.assistant import Assistant
from tests.tui_helpers import SPOKESPERSON, ask, conversation_shown, make_app, settle, sources_shown, status_shown, visible
from tui.help import HelpScreen

SIZE = (100, 30)
MINISTERS = "Where did the foreign ministers meet?"


@pytest.fixture
def indexed(seeded, fake):
    Assistant(seeded, embedder=fake).rebuild()
    return seeded


def run(scenario):
    asyncio.run(scenario())


def notes(app) -> list[tuple[str, str]]:
    return [(n.title, n.message) for n in app._notifications]


# 8. A wrong --articles is said before anything loads ------------------------------------------------


def test_chat_with_a_missing_articles_folder_says_so_before_loading(settings, tmp_path):
    code = (
        "import sys\nfrom qa.cli import main\nsys.argv=['qa','chat','--articles',sys.argv[1]]\n"
        "try:\n main()\nexcept SystemExit as e:\n print('EXIT', e.code)\n"
        "print('LOADED', [m for m in ('textual', 'torch', 'sentence_transformers') if m in sys.modules])"
    )
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "no" / "such")], capture_output=True, text=True, timeout=120)
    assert "EXIT 1" in p.stdout and "LOADED []" in p.stdout
    assert f"The articles folder {tmp_path / 'no' / 'such'} does not exist" in p.stderr
    assert "--articles DIR" in p.stderr


# 9. ctrl+c ------------------------------------------------------------------------------------------


def test_ctrl_c_says_how_to_quit_in_plain_words(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            app.chat.query_one("#conversation").focus()
            await pilot.press("ctrl+c")
            await pilot.pause()
            said = [m for _, m in notes(app) if "quit" in m]
            assert said == ["Press ctrl+q to quit."]  # no markup to be shown raw

    run(scenario)


# 10. A cited article deleted since the answer ------------------------------------------------------


def test_opening_a_source_deleted_since_the_answer_says_so_in_the_apps_terms(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, MINISTERS)
            source = app.turns[-1].answer.citations[0].passage.source
            (indexed.articles_dir / source).unlink()
            await pilot.press("tab", "enter")
            await pilot.pause()
            assert app.screen is app.chat
            title, message = notes(app)[-1]
            assert title == "Cannot open the source"
            assert f"{source} was removed or renamed since this answer." in message and "ctrl+r" in message
            assert "qa show" not in message

    run(scenario)


# 11. Help that stays until closed ------------------------------------------------------------------


def help_shown(app) -> str:
    return visible(app.screen.query_one("#help-text").content, width=90)


def test_f1_opens_a_help_screen_with_every_key_and_command_until_it_is_closed(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("f1")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            text = help_shown(app)
            for key in ("Tab", "↑ / ↓", "n / p", "Escape", "ctrl+r", "ctrl+n", "ctrl+s", "ctrl+p", "ctrl+q", "F1"):
                assert key in text, key
            for command in ("/since DATE", "/until DATE", "/dates off", "/undated on|off", "/new", "/save", "/rebuild", "/help"):
                assert command in text, command
            await asyncio.sleep(1.5)  # a toast would be fading; the help stays
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is app.chat

    run(scenario)


def test_question_mark_opens_help_but_is_typed_inside_a_question(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            box = app.chat.query_one("#question")
            assert app.focused is box
            await pilot.press("?")  # empty box: help
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press(*"Who", "?")
            await pilot.pause()
            assert app.screen is app.chat and box.value == "Who?"
            box.value = ""
            app.chat.query_one("#conversation").focus()
            await pilot.press("?")  # from a panel: help, not a "?" in the box
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen) and box.value == ""
            await pilot.press("escape")
            await pilot.pause()
            await ask(app, pilot, "/help")
            assert isinstance(app.screen, HelpScreen)

    run(scenario)


# 12. Palette entries found by the words people type ------------------------------------------------


def test_palette_finds_the_full_rebuild_by_typing_full(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"full")
            await asyncio.sleep(0.5)
            await pilot.pause()
            await pilot.press("enter")
            await settle(app, pilot)
            assert ("Index rebuilt", ) == tuple(t for t, _ in notes(app) if t == "Index rebuilt")

    run(scenario)


# 13. A rejected command is not glued to the next one -----------------------------------------------


def test_a_rejected_command_is_replaced_by_the_next_one_typed(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            box = app.chat.query_one("#question")
            await pilot.press(*"/frob", "enter")
            await pilot.pause()
            assert box.value == "/frob"  # given back, to be corrected
            assert any("Unknown command /frob" in m for _, m in notes(app))
            await pilot.press(*"/since 2022-01-20", "enter")
            await pilot.pause()
            assert box.value == "" and app.since == "2022-01-20"

    run(scenario)


# 14. The newest answer stays in view at 80x24 ------------------------------------------------------


def test_newest_answer_stays_in_view_at_80x24(indexed, fake):
    from tui.widgets import TurnView

    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            for q in (MINISTERS, "What did Kalın say about the sanctions on Russia?", SPOKESPERSON,
                      "Which TV channel interviewed Kalın?", "What is the price of bananas in Lisbon?"):
                await ask(app, pilot, q)
                await pilot.pause()
                conv = app.chat.query_one("#conversation")
                newest = list(conv.query(TurnView))[-1]
                top, height = conv.scroll_offset.y, conv.scrollable_content_region.height
                region = newest.virtual_region
                assert region.height <= height  # these answers fit: all of the newest must be on screen
                assert top <= region.y and region.bottom <= top + height, (q, top, height, region)

    run(scenario)


# 2 in the chat: a filtered question that finds nothing says why -----------------------------------


def test_chat_date_filter_says_what_it_left_out_and_undated_on_brings_them_back(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, "/since 2022-03-01")
            await ask(app, pilot, MINISTERS)
            shown = conversation_shown(app)
            assert "0 of 5 articles are dated since 2022-03-01" in " ".join(shown.split())
            assert "/undated on" in shown
            assert "nothing was searched" in sources_shown(app)
            await ask(app, pilot, "/undated on")
            assert "+ undated" in status_shown(app)
            await ask(app, pilot, MINISTERS)
            answer = app.turns[-1].answer
            assert answer.citations and all(c.passage.date is None for c in answer.citations)

    run(scenario)


# 7 in the chat: "1 passage embedded" ---------------------------------------------------------------


def test_rebuild_summary_says_one_passage(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            (indexed.articles_dir / "ferry.txt").write_text("The harbour master said the new ferry to the island sails every morning at seven.\n")
            await pilot.press("ctrl+r")
            await settle(app, pilot)
            summary = [m for t, m in notes(app) if t == "Index updated"][-1]
            assert "1 added" in summary and "; 1 passage embedded," in summary

    run(scenario)


# 15. The same question, filter and index give the same answer in the chat and the CLI -------------


@pytest.mark.slow
def test_chat_and_cli_give_the_same_answer_under_a_date_filter(seed_index, real_embedder, monkeypatch):
    monkeypatch.setattr("qa.cli._assistant", lambda s: Assistant(s, embedder=real_embedder))
    env = {"QA_ARTICLES_DIR": str(seed_index.articles_dir), "QA_INDEX_DIR": str(seed_index.index_dir)}
    questions = ("Which TV channel interviewed him?", "Who is ready to host Zelenskyy and Putin?")

    def cli_answer(question):
        r = CliRunner().invoke(__import__("qa.cli", fromlist=["cli"]).cli, ["ask", question, "--since", "2022-01-19", "--json"],
                               env=env, catch_exceptions=False)
        assert r.exit_code == 0, r.output
        data = json.loads(r.stdout)
        return data["answer"], [(c["source"], c["line_start"]) for c in data["citations"]]

    async def scenario():
        app = make_app(seed_index, real_embedder)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            # Earlier questions without a filter, then the filter: the filtered questions stand on their own.
            await ask(app, pilot, SPOKESPERSON)
            await ask(app, pilot, "/since 2022-01-19")
            for question in questions:
                await ask(app, pilot, question)
                answer = app.turns[-1].answer
                chat = answer.text, [(c.passage.source, c.passage.line_start) for c in answer.citations]
                assert chat == cli_answer(question), question

    run(scenario)
