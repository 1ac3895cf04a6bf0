"""The help screen (F1, or ? outside the question box): every key and command, until it is closed."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from .commands import COMMANDS

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Question box", (
        ("Enter", "ask the question (or run a /command)"),
        ("↑ / ↓", "earlier / later questions"),
        ("Tab / Shift+Tab", "next / previous panel: sources (first citation), conversation"),
    )),
    ("Conversation", (
        ("↑ / ↓, Home / End", "select an answer; its sources fill the panel"),
        ("Enter", "go to the selected answer's sources"),
    )),
    ("Sources", (
        ("↑ / ↓", "choose a citation"),
        ("Enter", "open it in the source viewer"),
    )),
    ("Source viewer", (
        ("n / p", "next / previous citation of the answer"),
        ("↑ / ↓, PgUp / PgDn", "scroll the article"),
        ("Escape", "back to the chat"),
    )),
    ("Anywhere", (
        ("F1, ?", "this help (? types itself in a question that is under way)"),
        ("ctrl+r", "update the index: read new and changed articles"),
        ("ctrl+n", "new chat: earlier questions no longer count as context"),
        ("ctrl+s", "save the conversation as Markdown, with its citations"),
        ("ctrl+p", "every action by name: full rebuild, watching, dates…"),
        ("ctrl+q", "quit"),
    )),
)


KEY_WIDTH = 20


def _section(title: str, rows) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, style="bold", width=KEY_WIDTH)
    grid.add_column(ratio=1)
    for key, does in rows:
        grid.add_row(key, does)
    return Group(Text(title, style="bold underline"), grid, Text(""))


def help_text() -> Group:
    sections = [_section(title, rows) for title, rows in KEYS]
    sections.append(_section("Commands (type them in the question box)", COMMANDS))
    return Group(*sections)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("f1", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help { width: 90; max-width: 100%; height: auto; max-height: 100%; border: thick $primary;
            background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as box:
            box.border_title = "Help: keys and commands"
            box.border_subtitle = "Escape closes"
            yield Static(help_text(), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help").focus()
