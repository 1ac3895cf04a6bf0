"""The chat app driven by the Pilot with the real model on a copy of the seed articles (slow)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from qa.config import load_settings
from tests.tui_helpers import CHANNEL, MARKUP_ARTICLE, SPOKESPERSON, ask, conversation_shown, make_app, settle, sources_shown, visible
from tui.viewer import ArticleView, SourceViewer

pytestmark = pytest.mark.slow
SIZE = (100, 30)


@pytest.fixture
def seed_copy(seed_index, tmp_path):
    """A private copy of the indexed seeds: these tests add files and rebuild."""
    shutil.copytree(seed_index.articles_dir, tmp_path / "seed" / "articles")
    shutil.copytree(seed_index.index_dir, tmp_path / "seed" / "index")
    return load_settings(articles=tmp_path / "seed" / "articles", index=tmp_path / "seed" / "index")


def run(scenario):
    asyncio.run(scenario())


def test_seed_question_cites_the_right_file_and_the_viewer_shows_the_passage(seed_copy, real_embedder):
    async def scenario():
        app = make_app(seed_copy, real_embedder)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, "Where did the foreign ministers of Russia and Ukraine meet?")
            answer = app.turns[-1].answer
            assert answer.found and "Antalya" in answer.text
            first = answer.citations[0]
            assert first.passage.source == "002_45dc96f4cd72d57e.txt"
            assert "002_45dc96f4cd72d57e.txt" in sources_shown(app) and "Antalya" in conversation_shown(app)

            await pilot.press("tab", "enter")
            await pilot.pause()
            viewer = app.screen
            assert isinstance(viewer, SourceViewer)
            head = visible(viewer.query_one("#viewer-head").content)
            span = f"{first.passage.line_start}" if first.passage.line_start == first.passage.line_end else f"{first.passage.line_start}-{first.passage.line_end}"
            assert f"002_45dc96f4cd72d57e.txt:{span}" in head
            view = viewer.query_one(ArticleView)
            assert (view.highlight.first_line, view.highlight.last_line) == (first.passage.line_start, first.passage.line_end)
            # The passage's lines carry the passage marker; the lines of the file are numbered as in the file.
            rows = visible(view.render(), width=view.size.width).splitlines()
            gutter = len(str(len(view.lines))) + 3
            marked = [r for r in rows if "▌" in r[:gutter]]
            assert marked and marked[0].strip().startswith(str(first.passage.line_start))
            assert any("Antalya" in r for r in marked)
            # Scrolled so the passage is in view.
            body = viewer.query_one("#viewer-body")
            top = view.row_of_line(first.passage.line_start)
            assert body.scroll_y <= top < body.scroll_y + body.size.height
            # The answer's sentences are highlighted more strongly than the rest of the passage.
            strong = view.get_component_rich_style("article--sentence")
            text = view.render()
            assert any(span.style == strong for span in text.spans)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is app.chat

    run(scenario)


def test_follow_up_is_answered_with_context(seed_copy, real_embedder):
    async def scenario():
        app = make_app(seed_copy, real_embedder)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, SPOKESPERSON)
            assert "Kalın" in app.turns[-1].answer.text
            await ask(app, pilot, CHANNEL)
            answer = app.turns[-1].answer
            assert answer.found and "A Haber" in answer.text
            assert any(c.passage.source == "003_80d590a6b506e82e.txt" for c in answer.citations)
            assert "A Haber" in conversation_shown(app)

    run(scenario)


def test_new_article_is_answerable_after_ctrl_r(seed_copy, real_embedder):
    async def scenario():
        app = make_app(seed_copy, real_embedder)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            (seed_copy.articles_dir / "100_quokka.txt").write_text(
                "Quokka census on Rottnest Island\n\nRangers on Rottnest Island counted 12,000 quokkas in the first full census of the animals, "
                "the island authority said on Tuesday.\n",
                encoding="utf-8",
            )
            await pilot.press("ctrl+r")
            await settle(app, pilot)
            await ask(app, pilot, "How many quokkas did the rangers count on Rottnest Island?")
            answer = app.turns[-1].answer
            assert answer.found and "12,000" in answer.text
            assert answer.citations[0].passage.source == "100_quokka.txt"

    run(scenario)


def test_article_with_markup_shows_literally(seed_copy, real_embedder):
    (seed_copy.articles_dir / "101_markup.txt").write_text(MARKUP_ARTICLE, encoding="utf-8")

    async def scenario():
        app = make_app(seed_copy, real_embedder)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("ctrl+r")
            await settle(app, pilot)
            await ask(app, pilot, "What did the mayor of Zembla write in the harbour council minutes?")
            answer = app.turns[-1].answer
            assert answer.citations[0].passage.source == "101_markup.txt"
            assert "[bold red]x[/bold red]" in conversation_shown(app) or "[bold red]x[/bold red]" in sources_shown(app)
            app.open_citation(0)
            await pilot.pause()
            shown = visible(app.screen.query_one(ArticleView).render())
            assert "[bold red]x[/bold red]" in shown and "[link=https://example.com]a link[/link]" in shown
            assert "\x1b" not in shown

    run(scenario)


def test_missing_index_is_built_from_the_app(tmp_path, real_embedder):
    from tests.conftest import SEEDS

    shutil.copytree(SEEDS, tmp_path / "fresh" / "articles", ignore=shutil.ignore_patterns("*.md"))
    settings = load_settings(articles=tmp_path / "fresh" / "articles", index=tmp_path / "fresh" / "index")

    async def scenario():
        app = make_app(settings, real_embedder)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("enter")  # Build now
            await pilot.pause()
            # A question typed while the first index is built waits for it.
            await ask(app, pilot, "Where did the foreign ministers of Russia and Ukraine meet?")
            await settle(app, pilot)
            assert (settings.index_dir / "CURRENT").exists()
            answer = app.turns[-1].answer
            assert answer is not None and answer.citations[0].passage.source == "002_45dc96f4cd72d57e.txt"

    run(scenario)


def test_date_filter_with_the_real_model(seed_copy, real_embedder):
    async def scenario():
        app = make_app(seed_copy, real_embedder)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, "/until 2022-01-20")
            await ask(app, pilot, "Who is Turkey's presidential spokesperson?")
            answer = app.turns[-1].answer
            assert answer.citations and all(c.passage.date and c.passage.date <= "2022-01-20" for c in answer.citations)

    run(scenario)


FIRST_PAINT_PROBE = """
import asyncio, json, sys
from qa.config import load_settings
from tui.app import QAApp
from tui.screens import BuildOffer

HEAVY = ("qa.assistant", "qa.answer", "qa.retrieval", "qa.indexer", "numpy", "onnxruntime", "faiss")

async def main():
    app = QAApp(load_settings())  # as `qa chat` makes it: the app creates its own Assistant
    seen = {}
    painted = app._painted
    def probe():
        seen["loaded_at_first_paint"] = sorted(m for m in HEAVY if m in sys.modules)
        painted()
    app._painted = probe
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        seen["offer"] = isinstance(app.screen, BuildOffer)
        await app.workers.wait_for_complete()
        seen["ready"] = app.ready
        seen["loaded_after"] = sorted(m for m in HEAVY if m in sys.modules)
    print(json.dumps(seen))

asyncio.run(main())
"""


def test_first_paint_imports_no_core_and_the_app_then_loads(seeded, real_embedder):
    """The first frame waits for Textual only: the answering core and the model load after it is painted."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", FIRST_PAINT_PROBE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["loaded_at_first_paint"] == []
    assert seen["offer"], "with no index, the build offer still comes up at start"
    assert seen["ready"] and {"qa.assistant", "onnxruntime", "numpy"} <= set(seen["loaded_after"])
