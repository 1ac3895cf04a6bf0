"""Shared pieces of the chat-app tests: build an app over a folder, wait for its workers, read its widgets."""

from __future__ import annotations

from qa.assistant import Assistant

SPOKESPERSON = "Who is Turkey's presidential spokesperson?"
CHANNEL = "Which TV channel interviewed him?"
MARKUP_ARTICLE = (
    "Markup test article\n"
    "date 2022-05-01\n\n"
    "The mayor of Zembla wrote [bold red]x[/bold red] and [link=https://example.com]a link[/link] "
    "in the minutes of the harbour council meeting.\n\n"
    "An escape \x1b[31mred\x1b[0m sequence and a bell \x07 were in the harbour council file too.\n"
)


def make_app(settings, embedder, watch: bool = False):
    from tui.app import QAApp

    return QAApp(settings, watch=watch, assistant=Assistant(settings, embedder=embedder))


async def settle(app, pilot) -> None:
    """Let the UI catch up and every finite worker (load, answer, rebuild) finish."""
    await pilot.pause()
    for _ in range(3):
        workers = [w for w in app.workers if w.group != "watch"]
        if workers:
            await app.workers.wait_for_complete(workers)
        await pilot.pause()


async def ask(app, pilot, question: str) -> None:
    box = app.chat.query_one("#question")
    box.focus()
    box.value = question
    await pilot.press("enter")
    await settle(app, pilot)


def visible(renderable, width: int = 200) -> str:
    """What a rich renderable looks like as plain text (markup in the data must survive as written)."""
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue()


def conversation_shown(app) -> str:
    from tui.widgets import TurnView

    view = app.chat.query_one("#conversation")
    if not app.turns:
        return visible(view.query_one("#empty-hint").content)
    return "\n".join(visible(w.content) for w in view.query(TurnView))


def sources_shown(app) -> str:
    view = app.chat.query_one("#sources")
    return "\n".join(visible(o.prompt) for o in view.options)


def status_shown(app) -> str:
    return visible(app.chat.query_one("#status").content)
