"""The chat app with the fast fake embedder: commands, history, date filter, saving, literal text, start-up flows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from qa.assistant import Assistant
from tests.tui_helpers import MARKUP_ARTICLE, ask, conversation_shown, make_app, settle, sources_shown, status_shown, visible
from tui.commands import Command, CommandError, parse_command
from tui.render import ChatTurn, conversation_markdown, literal, markdown_text

SIZE = (100, 30)


@pytest.fixture
def indexed(seeded, fake):
    Assistant(seeded, embedder=fake).rebuild()
    return seeded


# ---------------------------------------------------------------- pure parts


def test_slash_commands_parse():
    assert parse_command("Where did they meet?") is None
    assert parse_command("/since 2022-01-20") == Command("since", "2022-01-20")
    assert parse_command("/until 2022-03-01") == Command("until", "2022-03-01")
    assert parse_command("/dates off") == Command("dates_off")
    assert parse_command("/since off") == Command("since", None)
    assert parse_command("/new") == Command("new")
    with pytest.raises(CommandError, match="not a date"):
        parse_command("/since yesterday")
    with pytest.raises(CommandError, match="Unknown command"):
        parse_command("/frobnicate")


def test_literal_drops_escapes_but_keeps_markup_text():
    assert literal("[bold red]x[/bold red]\x1b[31m!\x07") == "[bold red]x[/bold red]!"


def test_markdown_export_has_answers_and_citations(indexed, fake):
    assistant = Assistant(indexed, embedder=fake)
    answer = assistant.ask("Where did the foreign ministers meet?")
    turn = ChatTurn("Where did the foreign ministers meet? [b]x[/b]", answer=answer, state="done")
    md = conversation_markdown([turn, ChatTurn("never answered")], indexed.articles_dir)
    assert "## 1. Where did the foreign ministers meet? \\[b\\]x\\[/b\\]" in md
    assert "never answered" not in md
    first = answer.citations[0]
    assert f"1. `{first.passage.citation}`" in md
    assert markdown_text(answer.sentences[0].text) in md


def test_markdown_export_shows_article_text_literally_in_a_markdown_viewer():
    from markdown_it import MarkdownIt

    from qa.answer import Answer, AnswerSentence, Citation
    from qa.documents import Passage

    text = ("- Kalın said *nothing* <script>alert(1)</script> about [the talks](http://x.invalid) # 2.\n3. Done_now `ok`\n"
            "Talks in Antalya\n================\n---\n    indented &copy; &lt;b&gt;")
    passage = Passage("odd ``name``.txt", 1, 1, 2, 0, len(text), text, title="# Title *x*")
    answer = Answer("q", True, (AnswerSentence(text, 1),), (Citation(1, passage, 0.9),), ())
    md = conversation_markdown([ChatTurn("Is *this* <b>bold</b>?", answer=answer, state="done")], Path("/a"))
    html = MarkdownIt("commonmark").render(md)
    for tag in ("<em>", "<strong>", "<script>", "<b>", "<a ", "<ul>", "<h3>", "<hr", "<pre>", "©"):
        assert tag not in html, tag
    # Only the file's own structure: its title, the question's heading, the list of sources.
    assert html.count("<h1>") == 1 and html.count("<h2>") == 1 and html.count("<ol>") == 1
    assert "*nothing*" in html and "&lt;script&gt;" in html and "Done_now" in html
    assert "&amp;copy;" in html and "&amp;lt;b&amp;gt;" in html
    assert "<code>odd ``name``.txt:1-2</code>" in html


# ---------------------------------------------------------------- the app (fake embedder)


def run(scenario):
    asyncio.run(scenario())


def test_starts_ready_and_answers_with_sources(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert "ready" in status_shown(app) and "5 articles" in status_shown(app)
            await ask(app, pilot, "Where did the foreign ministers of Russia and Ukraine meet?")
            shown = conversation_shown(app)
            assert "1› Where did the foreign ministers" in shown and "[1]" in shown
            assert "[1] " in sources_shown(app) and "score" in sources_shown(app)

    run(scenario)


def test_tab_goes_to_first_citation_and_enter_opens_viewer(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, "Where did the foreign ministers of Russia and Ukraine meet?")
            await pilot.press("tab")
            sources = app.chat.query_one("#sources")
            assert app.focused is sources and sources.highlighted == 0
            await pilot.press("tab")
            assert app.focused is app.chat.query_one("#conversation")
            await pilot.press("tab")
            assert app.focused is app.chat.query_one("#question")
            await pilot.press("shift+tab")
            assert app.focused is app.chat.query_one("#conversation")
            await pilot.press("shift+tab")
            assert app.focused is sources
            await pilot.press("enter")
            await pilot.pause()
            from tui.viewer import SourceViewer

            assert isinstance(app.screen, SourceViewer)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is app.chat

    run(scenario)


def test_history_recalls_earlier_questions(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, "first question about Antalya")
            await ask(app, pilot, "second question about Kalın")
            box = app.chat.query_one("#question")
            box.value = "draft"
            await pilot.press("up")
            assert box.value == "second question about Kalın"
            await pilot.press("up", "up")
            assert box.value == "first question about Antalya"
            await pilot.press("down", "down")
            assert box.value == "draft"

    run(scenario)


def test_date_filter_restricts_search_and_is_shown(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, "/since 2022-01-20")
            assert "since 2022-01-20" in status_shown(app)
            await ask(app, pilot, "Turkey Russia Ukraine talks")
            answer = app.turns[-1].answer
            assert answer.citations and all(c.passage.date and c.passage.date >= "2022-01-20" for c in answer.citations)
            assert "(since 2022-01-20)" in conversation_shown(app)
            # Each citation shows its article's date.
            assert all(c.passage.date in sources_shown(app) for c in answer.citations)
            await ask(app, pilot, "/until 2022-01-19")  # after since: refused, filter unchanged
            assert "since 2022-01-20" in status_shown(app)
            await ask(app, pilot, "/dates off")
            assert "all dates" in status_shown(app)

    run(scenario)


def test_save_writes_markdown_and_says_where(indexed, fake, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_SAVE_DIR", str(tmp_path / "saved"))

    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("ctrl+s")  # nothing yet
            assert not (tmp_path / "saved").exists() or not list((tmp_path / "saved").iterdir())
            await ask(app, pilot, "Where did the foreign ministers of Russia and Ukraine meet?")
            await pilot.press("ctrl+s")
            await pilot.pause()
            files = list((tmp_path / "saved").glob("qa-chat-*.md"))
            assert len(files) == 1
            text = files[0].read_text(encoding="utf-8")
            assert "Where did the foreign ministers of Russia and Ukraine meet?" in text and "Sources:" in text
            assert any(files[0].name in n.message for n in app._notifications)

    run(scenario)


def test_new_chat_clears_context(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, "Who is Turkey's presidential spokesperson?")
            assert len(app.conversation.turns) == 1
            await pilot.press("ctrl+n")
            await pilot.pause()
            assert app.conversation.turns == [] and app.turns == []
            assert "Ask a question" in conversation_shown(app)

    run(scenario)


def test_markup_and_escapes_show_literally(indexed, fake):
    (indexed.articles_dir / "zz_markup.txt").write_text(MARKUP_ARTICLE, encoding="utf-8")
    Assistant(indexed, embedder=fake).rebuild()

    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, "What did the mayor of Zembla write in the harbour council minutes [i]really[/i]?")
            assert "[i]really[/i]" in conversation_shown(app)
            answer = app.turns[-1].answer
            n = next(i for i, c in enumerate(answer.citations) if c.passage.source == "zz_markup.txt")
            app.open_citation(n)
            await pilot.pause()
            view = app.screen.query_one("#article")
            shown = visible(view.render())
            assert "[bold red]x[/bold red]" in shown and "[link=https://example.com]a link[/link]" in shown
            assert "\x1b" not in shown and "\x07" not in shown and "An escape red sequence" in shown
            # No span of the rendered article carries a style named in the article's markup.
            assert not any("red" in str(span.style) or "link" in str(span.style) for span in view.render().spans)

    run(scenario)


def test_missing_index_offers_to_build_then_answers(seeded, fake):
    async def scenario():
        app = make_app(seeded, fake)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            from tui.app import BuildOffer

            assert isinstance(app.screen, BuildOffer)
            await pilot.press("enter")  # "Build now" has the focus
            await settle(app, pilot)
            assert app.screen is app.chat
            assert "5 articles" in status_shown(app)
            assert any("5 added" in n.message for n in app._notifications)
            await ask(app, pilot, "Where did the foreign ministers of Russia and Ukraine meet?")
            assert app.turns[-1].answer is not None

    run(scenario)


def test_missing_index_declined_then_question_says_how_to_build(seeded, fake):
    async def scenario():
        app = make_app(seeded, fake)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("escape")
            await settle(app, pilot)
            assert "ctrl+r" in status_shown(app)
            await ask(app, pilot, "Where did they meet?")
            assert "ctrl+r" in conversation_shown(app)

    run(scenario)


def test_damaged_index_is_a_notification_not_a_traceback(indexed, fake):
    (indexed.index_dir / "CURRENT").write_text("garbage!!\n")

    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            messages = [n.message for n in app._notifications]
            assert any("garbled" in m and "from scratch" in m for m in messages)
            await ask(app, pilot, "Where did they meet?")
            assert app.turns[-1].state == "error"

    run(scenario)


def test_question_typed_while_loading_is_answered_when_ready(indexed, fake):
    import threading

    gate = threading.Event()

    class SlowToLoad(type(fake)):
        def load(self):
            gate.wait(10)

    async def scenario():
        app = make_app(indexed, SlowToLoad())
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert "loading model" in status_shown(app)
            app.chat.query_one("#question").value = "Where did the foreign ministers meet?"
            await pilot.press("enter")
            await pilot.pause()
            assert app.turns[0].state == "waiting" and "waiting for the model" in conversation_shown(app)
            gate.set()
            await settle(app, pilot)
            assert app.turns[0].state == "done" and "ready" in status_shown(app)

    run(scenario)


def test_new_question_supersedes_a_stale_one(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            box = app.chat.query_one("#question")
            box.value = "Where did the foreign ministers meet?"
            await pilot.press("enter")
            box.value = "Who is Turkey's presidential spokesperson?"
            await pilot.press("enter")
            await settle(app, pilot)
            states = [t.state for t in app.turns]
            assert states[-1] == "done"
            # Only answered turns are context for follow-ups.
            assert len(app.conversation.turns) == states.count("done")

    run(scenario)


def test_rebuild_picks_up_a_new_article(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            (indexed.articles_dir / "zz_new.txt").write_text(
                "Quokka census\n\nRangers on Rottnest counted 12,000 quokkas in the island's first full quokka census this spring.\n",
                encoding="utf-8",
            )
            (indexed.articles_dir / "zz_binary.txt").write_bytes(b"\x00\x01binary\x00")
            await pilot.press("ctrl+r")
            await settle(app, pilot)
            assert "6 articles" in status_shown(app)
            assert any("1 added" in n.message for n in app._notifications)
            # An unreadable article is named, with the reason, in a warning (not a crash).
            assert any("skipped" in n.title and "zz_binary.txt" in n.message and "binary" in n.message for n in app._notifications)
            await ask(app, pilot, "How many quokkas did rangers count in the census?")
            assert app.turns[-1].answer.citations[0].passage.source == "zz_new.txt"

    run(scenario)


def test_watching_picks_up_changes_with_a_notification(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake, watch=True)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert "watching" in status_shown(app)
            (indexed.articles_dir / "zz_watch.txt").write_text(
                "Walrus count\n\nBiologists counted 300 walruses resting on the beach near the research station.\n", encoding="utf-8"
            )
            for _ in range(300):  # the watcher polls every half second; a loaded machine takes longer
                await pilot.pause(0.1)
                if any("Articles changed" in n.title for n in app._notifications):
                    break
            assert any("Articles changed" in n.title and "1 added" in n.message for n in app._notifications), [(n.title, n.message) for n in app._notifications]
            await settle(app, pilot)
            assert "6 articles" in status_shown(app)
            app.action_toggle_watch()
            assert "watching" not in status_shown(app)

    run(scenario)


def test_palette_lists_every_action(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for wanted in ("Ask a question", "New chat", "Save the conversation", "Rebuild the index", "Open the first source",
                           "Dates: only articles since…", "Dates: only articles until…", "Dates: search all articles", "Quit"):
                assert wanted in titles

    run(scenario)


def test_viewer_steps_through_citations_and_a_vanished_file_is_a_notification(indexed, fake):
    async def scenario():
        from tui.viewer import SourceViewer

        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, "What did Kalın say about the Antalya talks and the sanctions on Russia?")
            citations = app.turns[-1].answer.citations
            assert len(citations) >= 2
            app.open_citation(0)
            await pilot.pause()
            viewer = app.screen
            assert isinstance(viewer, SourceViewer)
            await pilot.press("n")
            assert viewer.index == 1
            head = visible(viewer.query_one("#viewer-head").content)
            assert citations[1].passage.source in head
            await pilot.press("p")
            assert viewer.index == 0
            await pilot.press("escape")
            await pilot.pause()
            (indexed.articles_dir / citations[0].passage.source).unlink()
            app.open_citation(0)
            await pilot.pause()
            assert app.screen is app.chat
            assert any("Cannot open the source" == n.title for n in app._notifications)

    run(scenario)


def test_answer_sentences_are_marked_more_strongly_than_their_passage(fake):
    from rich.console import Console
    from rich.style import Style

    from qa.answer import Citation
    from qa.documents import split_document
    from tui.render import article_rows, locate

    text = (
        "A title line for the test article\n\n"
        "First sentence of the passage is here and says little. Second sentence is the answer we used in the reply.\n\n"
        "Another paragraph follows with enough words to stand on its own as a passage."
    )
    doc = split_document("a.txt", text)
    passage = next(p for p in doc.passages if "Second sentence" in p.text)
    a = passage.text.index("Second")
    citation = Citation(1, passage, 0.5, ((a, len(passage.text)),))
    passage_style, sentence_style = Style(bgcolor="blue"), Style(bgcolor="red", bold=True)
    rows, row_of = article_rows(text.split("\n"), locate(text, citation, doc.passages), 200, Console(width=200), passage_style, sentence_style, Style(dim=True))
    row = rows[row_of[3]]
    assert row.get_style_at_offset(Console(), row.plain.index("Second")).bgcolor.name == "red"
    assert row.get_style_at_offset(Console(), row.plain.index("First")).bgcolor.name == "blue"
    after = rows[row_of[5]]
    assert after.get_style_at_offset(Console(), after.plain.index("Another")).bgcolor is None


def test_sentence_mark_stays_on_its_words_in_a_line_with_tabs():
    from rich.console import Console
    from rich.style import Style

    from tui.render import Highlight, article_rows

    line = "\t\tThe talks were inconclusive, officials said."
    start = line.index("talks")
    rows, row_of = article_rows([line], Highlight(1, 1, ((start, start + len("talks")),)), 200, Console(width=200),
                                Style(bgcolor="blue"), Style(bgcolor="red"), Style(dim=True))
    row = rows[row_of[1]]
    shown = row.plain.index("talks")
    assert all(row.get_style_at_offset(Console(), shown + i).bgcolor.name == "red" for i in range(len("talks")))
    assert row.get_style_at_offset(Console(), shown - 2).bgcolor.name == "blue"


def test_typing_in_a_panel_goes_to_the_question_box(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            app.chat.query_one("#conversation").focus()
            await pilot.press("W", "h", "o")
            box = app.chat.query_one("#question")
            assert app.focused is box and box.value == "Who"

    run(scenario)


def test_qa_core_never_imports_textual():
    import subprocess
    import sys

    code = "import sys, qa.assistant, qa.cli, qa.watch, qa.indexer; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_qa_and_qa_chat_open_the_app_with_the_watch_setting(monkeypatch, settings):
    from click.testing import CliRunner

    import tui.app
    from qa.cli import cli

    calls = []
    monkeypatch.setattr(tui.app, "run_app", lambda s, watch=None: calls.append((s.articles_dir, watch)))
    assert CliRunner().invoke(cli, []).exit_code == 0
    assert CliRunner().invoke(cli, ["chat", "--watch"]).exit_code == 0
    assert calls == [(settings.articles_dir, None), (settings.articles_dir, True)]
    monkeypatch.setenv("QA_WATCH", "1")
    assert tui.app.watch_enabled(None) is True and tui.app.watch_enabled(False) is False


def test_keys_typed_right_after_enter_start_a_new_question(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            box = app.chat.query_one("#question")
            box.focus()
            # As when the app is busy: the second line is typed before the first one's handler runs.
            box.value = "Where did they meet?"
            await box.action_submit()
            box.insert_text_at_cursor("Who is Kalın?")
            await box.action_submit()
            await settle(app, pilot)
            assert [t.question for t in app.turns] == ["Where did they meet?", "Who is Kalın?"]
            await pilot.press(*"/since nope", "enter")
            assert app.chat.query_one("#question").value == "/since nope"  # a bad command is given back

    run(scenario)
