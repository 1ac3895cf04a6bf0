"""What a new-user trial of the chat app found: "?" ending a question typed from a panel, the layout at
narrow widths, toasts over the question box. Driven through the real app by its Pilot."""

from __future__ import annotations

import asyncio

import pytest

from qa.assistant import Assistant
from tests.tui_helpers import SPOKESPERSON, ask, make_app, settle
from tui.help import HelpScreen

QUESTION = "Who is Kalin?"


@pytest.fixture
def indexed(seeded, fake):
    Assistant(seeded, embedder=fake).rebuild()
    return seeded


def run(scenario):
    asyncio.run(scenario())


async def burst(app, pilot, keys) -> None:
    """Keys as a terminal delivers a line typed fast (or tmux send-keys): all queued before the first is
    handled. `pilot.press` waits after each key, which hides what happens to keys already queued."""
    from textual import events
    from textual.keys import _character_to_key

    for key in keys:
        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        char = key if len(key) == 1 else ("\r" if key == "enter" else None)
        event = events.Key(name, char)
        event.set_sender(app)
        app._driver.send_message(event)
    await pilot.pause()


# 1. A question ending in "?" typed while a panel has focus is asked --------------------------------


@pytest.mark.parametrize("tabs", [1, 2], ids=["from-sources", "from-conversation"])
@pytest.mark.parametrize("fast", [True, False], ids=["burst", "key-by-key"])
def test_a_question_ending_in_a_question_mark_typed_from_a_panel_is_asked(indexed, fake, tabs, fast):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, SPOKESPERSON)
            await pilot.press(*["tab"] * tabs)
            await pilot.pause()
            panel = app.focused
            assert panel is app.chat.query_one("#sources" if tabs == 1 else "#conversation")
            keys = [*QUESTION, "enter"]
            if fast:
                await burst(app, pilot, keys)
            else:
                await pilot.press(*keys)
            await settle(app, pilot)
            assert not isinstance(app.screen, HelpScreen)
            assert app.screen is app.chat
            assert [t.question for t in app.turns] == [SPOKESPERSON, QUESTION]
            assert app.chat.query_one("#question").value == ""

    run(scenario)


def test_question_mark_from_a_panel_is_typed_when_the_box_holds_text(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            box = app.chat.query_one("#question")
            await pilot.press(*"Who is Kalin")
            app.chat.query_one("#sources").focus()
            await pilot.pause()
            await pilot.press("?")
            await pilot.pause()
            assert app.screen is app.chat and box.value == QUESTION and app.focused is box

    run(scenario)


# 2. At narrow widths the conversation keeps the width ----------------------------------------------


@pytest.mark.parametrize("size", [(50, 16), (60, 24), (75, 24)])
def test_at_narrow_widths_the_conversation_keeps_most_of_the_width(indexed, fake, size):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, SPOKESPERSON)
            conversation, sources = app.chat.query_one("#conversation"), app.chat.query_one("#sources")
            assert conversation.outer_size.width >= 0.6 * size[0]
            # The sources are still there, below the conversation, and Tab still reaches them.
            assert sources.region.height >= 4 and sources.region.y >= conversation.region.bottom
            await pilot.press("tab")
            await pilot.pause()
            assert app.focused is sources

    run(scenario)


def test_at_80_columns_conversation_and_sources_stay_side_by_side(indexed, fake):
    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            conversation, sources = app.chat.query_one("#conversation"), app.chat.query_one("#sources")
            assert conversation.region.y == sources.region.y and sources.region.x >= conversation.region.right
            await pilot.resize_terminal(50, 16)
            await pilot.pause()
            assert conversation.outer_size.width == 50  # resizing switches the layout too
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            assert conversation.region.y == sources.region.y

    run(scenario)


# 3. Toasts never cover the question box, and do not pile up -----------------------------------------


def toasts(app):
    from textual.widgets._toast import Toast

    return [t for t in app.chat.query(Toast) if t.region]


@pytest.mark.parametrize("size", [(80, 24), (50, 16), (100, 30)])
def test_toasts_never_cover_the_question_box(indexed, fake, size, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_SAVE_DIR", str(tmp_path / "a-folder-with-a-rather-long-name" / "saved-chats"))

    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=size, notifications=True) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, SPOKESPERSON)
            box, footer = app.chat.query_one("#question"), app.chat.query_one("Footer")
            for keys in (["/since 2022-01-01"], ["/undated on"], ["/foo"], ["ctrl+u", "ctrl+s"], ["ctrl+r"], ["/until 2021-01-01"]):
                await pilot.press(*(k for key in keys for k in ([key] if key.startswith("ctrl") else [*key, "enter"])))
                await settle(app, pilot)
                await pilot.pause(0.2)
                shown = toasts(app)
                assert shown, keys
                for toast in shown:
                    assert not toast.region.overlaps(box.region), (keys, toast.region, box.region)
                    assert not toast.region.overlaps(footer.region), keys
                    assert toast.region.y >= 1  # the status line stays readable
                assert len(shown) <= 2, keys

    run(scenario)


def test_the_save_notice_keeps_the_file_name_whole(indexed, fake, tmp_path, monkeypatch):
    from textual.geometry import Region

    monkeypatch.setenv("QA_SAVE_DIR", str(tmp_path / "saved"))

    async def scenario():
        app = make_app(indexed, fake)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, SPOKESPERSON)
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            await pilot.pause(0.2)
            (toast,) = [t for t in toasts(app) if "saved" in t._notification.title.lower()]
            shown = [strip.text.strip(" ▌") for strip in toast.render_lines(Region(0, 0, *toast.region.size))]
            assert app.last_saved.name in shown, shown  # on a line of its own, whole
            assert str(app.last_saved.resolve().parent) in "".join(shown)


    run(scenario)
