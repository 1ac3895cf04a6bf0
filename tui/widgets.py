"""The main screen's widgets: question input with history, the conversation, the sources panel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from .render import ChatTurn, citation_renderable, turn_renderable

if TYPE_CHECKING:  # types only: the answering core loads after the first paint
    from qa.answer import Answer

EMPTY_HINT = (
    "Ask a question about your articles in the box below and press Enter.\n"
    "Tab moves to the sources, Enter on a source opens it; ctrl+p lists every action.\n"
    "Filter by date with /since 2022-01-01, /until …, /dates off.\n"
    "F1, or ? in the empty box, lists every key and command."
)


class QuestionInput(Input):
    """The question box; up and down recall earlier questions, like a shell."""

    BINDINGS = [
        Binding("enter", "submit", "Ask", show=True),
        Binding("up", "history(-1)", "Earlier question", show=False),
        Binding("down", "history(1)", "Later question", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: list[str] = []
        self._pos = 0  # == len(history) means "the line being typed"
        self._draft = ""

    async def action_submit(self) -> None:
        """Empty the box at once: keys typed while the app handles this line start a new one."""
        value = self.value
        if not value.strip():
            return
        self.value = ""
        self.post_message(self.Submitted(self, value))

    async def _on_key(self, event) -> None:
        """`?` in an empty box opens the help (no question starts with it); anywhere else it is typed."""
        if event.character == "?" and not self.value:
            event.stop()
            event.prevent_default()  # Input's own handler would type it
            self.app.action_help()  # type: ignore[attr-defined]

    def give_back(self, value: str) -> None:
        """A rejected line comes back selected: an edit corrects it, and the next line typed replaces it."""
        if not self.value:
            self.value = value
            self.select_all()

    def remember(self, line: str) -> None:
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
        self._pos = len(self.history)
        self._draft = ""

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._pos == len(self.history):
            self._draft = self.value
        pos = min(max(self._pos + step, 0), len(self.history))
        if pos == self._pos:
            return
        self._pos = pos
        self.value = self.history[pos] if pos < len(self.history) else self._draft
        self.cursor_position = len(self.value)


class StatusLine(Widget):
    """One line of state; redrawn in place (a Static would re-lay-out the whole screen on each update)."""

    DEFAULT_CSS = "StatusLine { height: 1; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.content = Text()

    def show(self, text: Text) -> None:
        if (text.plain, text.spans) != (self.content.plain, self.content.spans):
            self.content = text
            self.refresh()

    def render(self) -> Text:
        return self.content


class TurnView(Static, can_focus=False):
    """One question and its answer."""


class ConversationView(VerticalScroll, can_focus=True):
    """Questions and answers, one widget each (an answer redraws only itself).

    Up and down select a turn; its sources fill the panel. Enter moves to those sources.
    """

    BINDINGS = [
        Binding("up", "move(-1)", "Earlier answer", show=False),
        Binding("down", "move(1)", "Later answer", show=False),
        Binding("home", "move(-1000000)", show=False),
        Binding("end", "move(1000000)", show=False),
        Binding("enter", "open", "Its sources", show=True),
    ]

    @dataclass
    class Selected(Message):
        index: int

    @dataclass
    class Opened(Message):
        index: int

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Conversation"
        self.selected: int | None = None
        self._shown: list[tuple] = []  # what each TurnView shows, to redraw only what changed

    def compose(self):
        yield Static(Text(EMPTY_HINT, style="dim"), id="empty-hint", markup=False)

    def sync(self, turns: list[ChatTurn], select: int | None = None) -> None:
        """Bring the widgets in step with `turns`: add new turns, redraw changed ones, drop removed ones."""
        views = list(self.query(TurnView))
        if len(turns) < len(views):
            for view in views[len(turns):]:
                view.remove()
            views = views[: len(turns)]
            self._shown = self._shown[: len(turns)]
        for i, (turn, view) in enumerate(zip(turns, views)):
            if self._shown[i] != _signature(turn):
                view.update(turn_renderable(turn, i + 1))
                self._shown[i] = _signature(turn)
        new = [TurnView(turn_renderable(t, n), markup=False) for n, t in enumerate(turns[len(views):], start=len(views) + 1)]
        self._shown.extend(_signature(t) for t in turns[len(views):])
        if new:
            self.mount_all(new)
        self.query_one("#empty-hint").display = not turns
        if not turns:
            self.selected = None
        if select is not None:
            self.select(select)

    def select(self, index: int) -> None:
        views = list(self.query(TurnView))
        if not views:
            return
        index = max(0, min(index, len(views) - 1))
        for n, view in enumerate(views):
            view.set_class(n == index, "-selected")
        self.selected = index
        self.call_after_refresh(self._reveal, views[index])
        self.post_message(self.Selected(index))

    def _reveal(self, view: Widget, settle: bool = True) -> None:
        if view.is_attached:
            # The end of a long answer matters less than its start: show the top.
            self.scroll_to_widget(view, animate=False, top=view.outer_size.height > self.scrollable_content_region.height)
            if settle:
                # An answer that just replaced "… searching" may be laid out at its new height only after this
                # refresh; scrolling once more then keeps the newest answer in view, not its first lines.
                self.call_after_refresh(self._reveal, view, False)

    def action_move(self, step: int) -> None:
        if self.selected is None:
            self.select(len(self._shown) - 1)
        else:
            self.select(self.selected + step)

    def action_open(self) -> None:
        if self.selected is not None:
            self.post_message(self.Opened(self.selected))


def _signature(turn: ChatTurn) -> tuple:
    return (turn.state, id(turn.answer), turn.error, len(turn.notes))


class SourcesView(OptionList):
    """Citations of one answer: n, file:lines, title, date, score, snippet. Enter opens one."""

    BINDINGS = [Binding("enter", "select", "Open source", show=True)]

    def __init__(self, **kwargs) -> None:
        super().__init__(markup=False, **kwargs)
        self.answer: Answer | None = None
        self.turn_number = 0
        self.show_answer(None, 0)

    def show_answer(self, answer: Answer | None, turn_number: int) -> None:
        if self.option_count and answer is self.answer and turn_number == self.turn_number:
            return  # already shown: re-filling the list would only redraw it
        self.answer, self.turn_number = answer, turn_number
        self.clear_options()
        if answer is None:
            self.border_title = "Sources"
            self.add_option(Option(Text("Sources of an answer appear here.", style="dim"), disabled=True))
            return
        if not answer.citations:
            self.border_title = f"Sources of answer {turn_number}"
            # Nothing retrieved at all happens when a date filter leaves no article to search.
            said = "No passage to list: nothing was searched (see the note on the date filter)." if not answer.hits else "Nothing in the articles matched."
            self.add_option(Option(Text(said, style="dim"), disabled=True))
            return
        self.border_title = f"Sources of answer {turn_number}" if answer.found else f"Nearest passages, not an answer ({turn_number})"
        self.add_options([Option(citation_renderable(c, answer.found)) for c in answer.citations])

    @property
    def has_citations(self) -> bool:
        return bool(self.answer and self.answer.citations)
