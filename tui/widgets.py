"""The main screen's widgets: question input with history, the conversation, the sources panel."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from qa.answer import Answer

from .render import ChatTurn, citation_renderable, turn_renderable

EMPTY_HINT = (
    "Ask a question about your articles in the box below and press Enter.\n"
    "Tab moves to the sources, Enter on a source opens it; ctrl+p lists every action.\n"
    "Filter by date with /since 2022-01-01, /until …, /dates off."
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


class ConversationView(OptionList):
    """Questions and answers, one option each; the highlighted answer's sources fill the panel."""

    def __init__(self, **kwargs) -> None:
        super().__init__(markup=False, **kwargs)
        self.border_title = "Conversation"
        self.show_turns([])

    def show_turns(self, turns: list[ChatTurn], highlight: int | None = None) -> None:
        self.clear_options()
        if not turns:
            self.add_option(Option(Text(EMPTY_HINT, style="dim"), disabled=True))
            return
        self.add_options([Option(turn_renderable(t, n)) for n, t in enumerate(turns, start=1)])
        if highlight is not None:
            self.highlighted = highlight
            self.scroll_to_highlight()

    def update_turn(self, turns: list[ChatTurn], index: int) -> None:
        self.replace_option_prompt_at_index(index, turn_renderable(turns[index], index + 1))


class SourcesView(OptionList):
    """Citations of one answer: n, file:lines, title, date, score, snippet. Enter opens one."""

    BINDINGS = [Binding("enter", "select", "Open source", show=True)]

    def __init__(self, **kwargs) -> None:
        super().__init__(markup=False, **kwargs)
        self.answer: Answer | None = None
        self.turn_number = 0
        self.show_answer(None, 0)

    def show_answer(self, answer: Answer | None, turn_number: int) -> None:
        self.answer, self.turn_number = answer, turn_number
        self.clear_options()
        if answer is None:
            self.border_title = "Sources"
            self.add_option(Option(Text("Sources of an answer appear here.", style="dim"), disabled=True))
            return
        if not answer.citations:
            self.border_title = f"Sources of {turn_number}"
            self.add_option(Option(Text("Nothing in the articles matched.", style="dim"), disabled=True))
            return
        self.border_title = f"Sources of {turn_number}" if answer.found else f"Nearest passages, not an answer ({turn_number})"
        self.add_options([Option(citation_renderable(c, answer.found)) for c in answer.citations])

    @property
    def has_citations(self) -> bool:
        return bool(self.answer and self.answer.citations)
