"""The chat app: ask, read the cited passages, rebuild the index, all from the keyboard.

Long work (loading the model, answering, rebuilding, watching) runs in thread workers; widgets are
touched only on the UI thread (results come back through `call_from_thread`). Errors become
notifications that say what to do; `QA_DEBUG=1` lets them through with a traceback.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import OptionList
from textual.worker import get_current_worker

from qa.config import Settings, debug_enabled
from qa.datefilter import filter_note
from qa.errors import BadPath, IndexDamaged, IndexEmpty, IndexMismatch, IndexMissing, QAError

from .commands import CommandError, parse_command
from .actions import SAVE_DIR_ENV, ChatActions  # noqa: F401  (SAVE_DIR_ENV: its name stays importable here)
from .rebuilding import RebuildActions
from .render import ChatTurn, date_filter_label, literal
from .screens import BuildOffer, ChatScreen
from .viewer import SourceViewer
from .widgets import ConversationView, QuestionInput, SourcesView, StatusLine

if TYPE_CHECKING:
    # The answering core (qa.assistant and what it imports) is imported on first use, after the first
    # paint: the frame needs only Textual and these light modules (see `assistant` below).
    from qa.assistant import Assistant
    from qa.conversation import Conversation

WATCH_ENV = "QA_WATCH"  # 1/true/yes: pick up changes in the articles folder automatically


def app_hint(exc: QAError) -> str:
    """The fix as done from inside the app (the core's hints name CLI commands)."""
    if isinstance(exc, IndexMissing):
        return "Press ctrl+r to build it."
    if isinstance(exc, (IndexDamaged, IndexMismatch)):
        return "Rebuild it from scratch: ctrl+p, then “Full rebuild”."
    if isinstance(exc, IndexEmpty):
        return "Add articles to the folder, then press ctrl+r."
    return exc.hint


def source_gone(source: str) -> tuple[str, str]:
    """(message, hint) for a cited article that is no longer where the answer found it."""
    return (f"{literal(source)} was removed or renamed since this answer.",
            "Press ctrl+r to update the index, then ask again for current sources.")


def watch_enabled(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    return os.environ.get(WATCH_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class QAApp(ChatActions, RebuildActions, App):
    """The chat app over one `Assistant`."""

    CSS_PATH = "app.tcss"
    TITLE = "Article QA"
    BINDINGS = [
        Binding("f1", "help", "Help", show=False),  # named in the question box placeholder; the footer is full at 80 columns
        Binding("ctrl+r", "rebuild", "Rebuild"),
        Binding("ctrl+n", "new_chat", "New chat"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, settings: Settings, watch: bool = False, assistant: Assistant | None = None) -> None:
        super().__init__()
        self.settings = settings
        self._assistant = assistant
        self._assistant_lock = threading.Lock()
        self._conversation: Conversation | None = None  # context for follow-ups: answered turns only
        self.turns: list[ChatTurn] = []
        self.since: str | None = None
        self.until: str | None = None
        self.include_undated = False  # with a date filter, also search articles without a date (/undated on)
        self.state = "loading model…"
        self.ready = False
        self.pending: ChatTurn | None = None  # asked before the model was ready
        self.counts: tuple[int, int] | None = None  # (files, passages) in the index
        self.rebuilding = False
        self.watching = watch
        self._watch_stop = threading.Event()
        self._model_lock = threading.Lock()
        self._ask_lock = threading.Lock()  # one asker at a time, even when a stale one is finishing
        self._rebuild_lock = threading.Lock()
        self._last_progress = 0.0
        # Wall-clock timings for tui/measure.py (time.time(), comparable with the launching process).
        self.timings: dict[str, float] = {}
        self.answer_latencies: list[float] = []
        self.last_saved: Path | None = None
        self.chat = ChatScreen()

    # ------------------------------------------------------------ the core, on first use

    @property
    def assistant(self) -> Assistant:
        """The core's `Assistant`, made on first use: importing it costs more than the first frame."""
        if self._assistant is None:
            with self._assistant_lock:
                if self._assistant is None:
                    from qa.assistant import Assistant

                    self._assistant = Assistant(self.settings)
        return self._assistant

    @property
    def conversation(self) -> Conversation:
        if self._conversation is None:
            from qa.conversation import Conversation

            self._conversation = Conversation()
        return self._conversation

    @conversation.setter
    def conversation(self, value: Conversation) -> None:
        self._conversation = value

    # ------------------------------------------------------------ layout and start-up

    def get_default_screen(self) -> Screen:
        return self.chat

    def start(self) -> None:
        """Called once the chat screen exists: paint now, load in the background."""
        self.timings["mounted"] = time.time()
        self.call_after_refresh(self._painted)
        self._refresh_status()

    def _painted(self) -> None:
        self.timings.setdefault("first_paint", time.time())
        # Everything past the first frame starts only now: the core's imports (here, through
        # `self.assistant`), then in a worker the model's (onnxruntime, faiss), which hold the
        # interpreter while they initialise and would otherwise delay the first paint by as long.
        if not self.assistant.has_index():
            self.push_screen(BuildOffer(self.settings), self._offer_answered)
        if self.watching:
            self._start_watching()
        self._load()

    def _offer_answered(self, build: bool | None) -> None:
        if build:
            self.action_rebuild()
        else:
            self._refresh_status()
            self.notify("Press ctrl+r when you want to build the index.", title="No index yet")

    def _ensure_model(self) -> None:
        with self._model_lock:
            self.assistant.load_model()

    @work(thread=True, group="load", exit_on_error=False)
    def _load(self) -> None:
        try:
            self._ensure_model()
            counts = None
            if self.assistant.has_index():
                counts = self._index_counts()
                # The first pass through the model is slow; pay it while "loading" is on screen.
                self.assistant.search("warm up", k=1)
        except QAError as exc:
            self.call_from_thread(self._load_failed, exc)
        except Exception as exc:  # the edge: one notification, never a traceback
            self.call_from_thread(self._unexpected, exc)
            self.call_from_thread(self._loaded, None)
        else:
            self.call_from_thread(self._loaded, counts)

    def _index_counts(self) -> tuple[int, int]:
        meta = self.assistant.index().meta
        return meta.files, meta.passages

    def _loaded(self, counts: tuple[int, int] | None) -> None:
        self.ready = True
        self.counts = counts or self.counts  # a rebuild may have finished first
        self.timings.setdefault("ready", time.time())
        self._refresh_status()
        self._ask_pending()

    def _ask_pending(self) -> None:
        """A question typed during start-up is answered once the model (and a first index) are there."""
        if self.pending is None or not self.ready or (self.rebuilding and not self.assistant.has_index()):
            return
        turn, self.pending = self.pending, None
        self._start_answer(turn)

    def _load_failed(self, exc: QAError) -> None:
        self._error(exc, "Cannot start")
        self._loaded(None)

    # ------------------------------------------------------------ status line

    def _refresh_status(self) -> None:
        if self.rebuilding:
            state = "rebuilding…"
        elif not self.ready:
            state = "loading model…"
        elif any(t.state == "answering" for t in self.turns):
            state = "answering…"
        elif self.counts is None:
            state = "no index: ctrl+r builds it" if not self.assistant.has_index() else "index not open"
        else:
            state = "ready"
        self.state = state
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" QA ", style="bold reverse")
        text.append(f" {state}", style="bold" if state == "ready" else "italic")
        if self.counts is not None:
            files, passages = self.counts
            text.append(f" │ {files} article{'s' if files != 1 else ''}, {passages} passages", style="dim")
        text.append(" │ dates: ", style="dim")
        text.append(date_filter_label(self.since, self.until), style="bold" if (self.since or self.until) else "dim")
        if (self.since or self.until) and self.include_undated:
            text.append(" + undated", style="bold")
        if self.watching:
            text.append(" │ watching", style="dim")
        self.chat.query_one("#status", StatusLine).show(text)

    # ------------------------------------------------------------ asking

    @on(QuestionInput.Submitted, "#question")
    def _submitted(self, event: QuestionInput.Submitted) -> None:
        line = event.value.strip()
        box = self.chat.query_one("#question", QuestionInput)
        if not line:
            return
        try:
            command = parse_command(line)
        except CommandError as exc:
            self.notify(f"{exc.message}\n{exc.hint}".strip(), title="Command", severity="warning")
            box.give_back(event.value)
            return
        box.remember(line)
        if command is not None:
            self._run_command(command)
            return
        if not self.ask(line):
            box.give_back(event.value)

    def ask(self, line: str) -> bool:
        """Ask `line`; False (with a notice) when it is not a question that can be asked."""
        from qa.assistant import validate_question

        try:
            question = validate_question(line)
        except QAError as exc:
            self.notify(f"{exc.message}\n{exc.hint}".strip(), severity="warning")
            return False
        self._supersede_in_flight()
        turn = ChatTurn(line, self.since, self.until, started=time.time(),
                        include_undated=self.include_undated and bool(self.since or self.until))
        self.timings.setdefault("first_question", turn.started)
        self.turns.append(turn)
        # Before the model is loaded, or while the very first index is being built, the question waits.
        wait = not self.ready or (self.rebuilding and not self.assistant.has_index())
        if wait:
            self.pending = turn
        self._show_turns(len(self.turns) - 1)
        if not wait:
            self._start_answer(turn, question)
        return True

    def _supersede_in_flight(self) -> None:
        for t in self.turns:
            if t.state in ("waiting", "answering"):
                t.state = "superseded"
        self.pending = None
        self.workers.cancel_group(self, "answer")

    def _start_answer(self, turn: ChatTurn, question: str | None = None) -> None:
        if not self.assistant.has_index():
            turn.state = "error"
            turn.error = "There is no index yet: press ctrl+r to build it, then ask again."
            self._update_turn(turn)
            return
        turn.state = "answering"
        self._update_turn(turn)
        self._refresh_status()
        # The worker asks with a copy of the context (the core updates it); only a current answer's copy is kept.
        self._answer(turn, question or turn.question, copy.deepcopy(self.conversation))

    @work(thread=True, exclusive=True, group="answer", exit_on_error=False)
    def _answer(self, turn: ChatTurn, question: str, context: Conversation) -> None:
        worker = get_current_worker()
        with self._ask_lock:
            if worker.is_cancelled:
                return
            try:
                answer = self.assistant.ask(question, context, since=turn.since, until=turn.until, include_undated=turn.include_undated)
                note = ""
                if (turn.since or turn.until) and not answer.found:
                    # Why a filtered question found nothing: what the range holds, and how to widen it.
                    cov = self.assistant.date_coverage(turn.since, turn.until)
                    note = filter_note(cov, turn.since, turn.until, turn.include_undated, "type /undated on")
            except QAError as exc:
                self.call_from_thread(self._answer_failed, turn, exc)
                return
            except Exception as exc:
                if debug_enabled():
                    self.call_from_thread(self._unexpected, exc)
                self.call_from_thread(self._answer_failed, turn, QAError(f"Unexpected {type(exc).__name__}: {exc}".splitlines()[0], "Set QA_DEBUG=1 for details."))
                return
        if not worker.is_cancelled:
            self.call_from_thread(self._answer_ready, turn, answer, context, note)

    def _answer_ready(self, turn: ChatTurn, answer, context: Conversation, note: str = "") -> None:
        if turn.state != "answering" or not any(t is turn for t in self.turns):
            return  # superseded, or the chat was cleared meanwhile
        turn.state = "done"
        turn.answer = answer
        if note:
            turn.notes.append(note)
        self.conversation = context  # now holding this turn, as the core recorded it
        index = self._index_of(turn)
        self._show_turns(index)
        self._refresh_status()
        self.call_after_refresh(self._answer_shown, turn)

    def _answer_shown(self, turn: ChatTurn) -> None:
        now = time.time()
        self.answer_latencies.append(now - turn.started)
        self.timings.setdefault("first_answer", now)

    def _answer_failed(self, turn: ChatTurn, exc: QAError) -> None:
        if turn.state != "answering":
            return
        turn.state = "error"
        hint = app_hint(exc)
        turn.error = f"{exc.message} {hint}".strip()
        self._update_turn(turn)
        self._refresh_status()
        self.notify(f"{exc.message}\n{hint}".strip(), title="Cannot answer", severity="error")

    # ------------------------------------------------------------ conversation and sources

    def _index_of(self, turn: ChatTurn) -> int:
        return next(i for i, t in enumerate(self.turns) if t is turn)

    def _show_turns(self, select: int | None) -> None:
        self.chat.query_one("#conversation", ConversationView).sync(self.turns, select)
        if select is None:
            self._show_sources(None)

    def _update_turn(self, turn: ChatTurn) -> None:
        self.chat.query_one("#conversation", ConversationView).sync(self.turns)

    def _show_sources(self, index: int | None) -> None:
        sources = self.chat.query_one("#sources", SourcesView)
        if index is None or not (0 <= index < len(self.turns)) or self.turns[index].answer is None:
            if index is None or not self.turns:
                sources.show_answer(None, 0)
            return
        sources.show_answer(self.turns[index].answer, index + 1)

    @on(ConversationView.Selected)
    def _turn_highlighted(self, event: ConversationView.Selected) -> None:
        if self.turns:
            self._show_sources(event.index)

    @on(ConversationView.Opened)
    def _turn_selected(self, event: ConversationView.Opened) -> None:
        sources = self.chat.query_one("#sources", SourcesView)
        if sources.has_citations:
            sources.highlighted = 0
            sources.focus()

    @on(OptionList.OptionSelected, "#sources")
    def _source_selected(self, event: OptionList.OptionSelected) -> None:
        self.open_citation(event.option_index)

    def open_citation(self, index: int = 0) -> None:
        sources = self.chat.query_one("#sources", SourcesView)
        answer = sources.answer
        if answer is None or not answer.citations:
            self.notify("Ask a question first; its sources open here.", timeout=3)
            return
        source = answer.citations[index].passage.source
        try:
            self.assistant.article(source)  # readable? else say why, stay here
        except BadPath:
            message, hint = source_gone(source)
            self.notify(f"{message}\n{hint}", title="Cannot open the source", severity="error")
            return
        except QAError as exc:
            self.notify(f"{exc.message}\n{exc.hint}".strip(), title="Cannot open the source", severity="error")
            return
        self.push_screen(SourceViewer(self.assistant, answer.citations, index, found=answer.found))

    # ------------------------------------------------------------ errors

    def _error(self, exc: QAError, title: str) -> None:
        self.notify(f"{exc.message}\n{app_hint(exc)}".strip(), title=title, severity="error", timeout=10)
        self._refresh_status()

    def _unexpected(self, exc: Exception) -> None:
        """A bug, not a user error: one notification; with QA_DEBUG=1 the app stops with the traceback."""
        if debug_enabled():
            import traceback

            self.exit(return_code=1, message="".join(traceback.format_exception(exc)))
            return
        self.notify(f"Unexpected {type(exc).__name__}: {exc}".splitlines()[0] + "\nSet QA_DEBUG=1 for details.", title="Error", severity="error", timeout=10)


def run_app(settings: Settings, watch: bool | None = None) -> None:
    """Entry point of `qa chat` (and of `qa` with no command)."""
    # Idle OpenMP threads otherwise spin on the CPU the UI needs; set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app = QAApp(settings, watch=watch_enabled(watch))
    app.run()
    if app.return_code:
        raise SystemExit(app.return_code)
