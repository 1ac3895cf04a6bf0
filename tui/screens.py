"""The app's screens: the chat screen (the main layout) and the offer to build a missing index."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Label, ProgressBar, Static
from textual.widgets._toast import ToastRack  # not exported; the screen mounts one, its height is set here

from qa.config import Settings

from .render import literal, shown_path
from .widgets import ConversationView, QuestionInput, SourcesView, StatusLine

NARROW_BELOW = 76  # columns


class BuildOffer(ModalScreen[bool]):
    """Shown at start when there is no index yet."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Not now")]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        with Vertical(id="offer"):
            text = Text()
            text.append("There is no index yet.\n\n", style="bold")
            text.append("Build it now from ")
            text.append(literal(shown_path(self.settings.articles_dir)), style="bold")
            text.append("? Every article is read once; later rebuilds (ctrl+r) only read what changed.")
            yield Static(text, markup=False, id="offer-text")
            with Horizontal(id="offer-buttons"):
                yield Button("Build now", id="build", variant="primary")
                yield Button("Not now", id="later")

    def on_mount(self) -> None:
        self.query_one("#build", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "build")


class ChatScreen(Screen):
    """Status line, conversation and sources side by side, rebuild progress, question box, footer."""

    # Below 76 columns the conversation would be narrower than the sources panel (38 at least): the
    # "-narrow" class (app.tcss) puts the sources below it instead.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_BELOW, "-wide")]
    BINDINGS = [
        Binding("tab", "cycle(1)", "Next panel"),
        Binding("shift+tab", "cycle(-1)", "Previous panel", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with Horizontal(id="main"):
            yield ConversationView(id="conversation")
            yield SourcesView(id="sources")
        with Horizontal(id="progress"):
            yield Label("", id="progress-label", markup=False)
            yield ProgressBar(id="progress-bar", show_eta=False)
        yield QuestionInput(id="question", select_on_focus=False, placeholder="Ask a question and press Enter  (F1 or ?: help)")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#question").focus()
        self._fit_toasts()
        self.app.start()  # type: ignore[attr-defined]

    def on_resize(self) -> None:
        self._fit_toasts()

    def _fit_toasts(self) -> None:
        """Toasts (under the status line, app.tcss) stop above the progress row, the question box and the footer;
        when more pile up, the rack shows the newest."""
        for rack in self.query_children(ToastRack):  # none when notifications are off (tests)
            rack.styles.max_height = max(1, self.size.height - 6)

    def on_key(self, event) -> None:
        """Typing while the sources or the conversation have focus goes to the question box.

        `?` opens the help only when nothing is being typed (the box is empty), as in the box itself.
        """
        # No check of the focus here: the box consumes its own printable keys, so one that gets here came
        # through a panel, possibly queued there before the focus moved (fast typing, a paste).
        if not (event.is_printable and event.character):
            return
        event.stop()
        box = self.query_one("#question", QuestionInput)
        if event.character == "?" and not box.value:
            self.app.action_help()  # type: ignore[attr-defined]
            return
        # Focus now, not after a refresh (`box.focus()`): keys still to come then reach the box, and Enter
        # asks instead of acting on the panel.
        self.set_focus(box)
        if box.selection.is_empty:
            box.insert_text_at_cursor(event.character)
        else:  # a rejected line given back selected: typing replaces it, as in the box itself
            box.replace(event.character, *box.selection)

    def action_cycle(self, step: int) -> None:
        """Tab cycles question box → sources → conversation; from the box, the first citation is selected."""
        order = [self.query_one("#question"), self.query_one("#sources", SourcesView), self.query_one("#conversation")]
        current = self.focused
        i = next((n for n, w in enumerate(order) if w is current), -1)
        target = order[(i + step) % len(order)]
        if isinstance(target, SourcesView) and target.has_citations and (current is order[0] or target.highlighted is None):
            target.highlighted = 0
        target.focus()
