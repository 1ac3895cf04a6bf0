"""The chat app's commands and actions: slash commands, the date filter, help, new chat, saving, the palette.

A mixin of `QAApp` (like `RebuildActions`): it needs the app's settings, chat screen, conversation, turns,
date filter state and the helpers `_refresh_status`, `_show_turns`, `_supersede_in_flight`, `open_citation`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from textual.app import SystemCommand
from textual.notifications import Notify
from textual.widgets._toast import ToastHolder, ToastRack  # not exported: see on_notify
from textual.screen import Screen

from .commands import Command
from .help import HelpScreen
from .render import conversation_markdown, date_filter_label, literal, save_path
from .widgets import QuestionInput

SAVE_DIR_ENV = "QA_SAVE_DIR"  # where ctrl+s writes (default: the current folder)
TOASTS_KEPT = 2  # toasts on screen at once (the newest), at 24 rows a pair of 3-line notices fits...
TOASTS_KEPT_FROM_HEIGHT = 20  # ...below this many rows, only one


class ChatActions:
    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None, markup: bool = False) -> None:
        """Notifications carry file names and user text: never parsed as markup unless asked for."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def on_notify(self, event: Notify) -> None:
        """Toasts do not pile up: a newer notice replaces an older one on the same subject (same title;
        untitled, the same text), and only the newest few stay, as many as fit above the question box
        (tui/screens.py caps their height). Runs before App's own handler adds the new one."""
        new = event.notification
        kept = [old for old in self._notifications if not (old.title == new.title and (new.title or old.message == new.message))]
        keep = TOASTS_KEPT if self.screen.size.height >= TOASTS_KEPT_FROM_HEIGHT else 1
        survivors = kept[len(kept) - (keep - 1):] if keep > 1 else []
        for old in list(self._notifications):
            if old not in survivors:
                self._unnotify(old, refresh=False)
                # Textual's rack would remove only the toast, leaving its (empty, 2-row) holder: each replaced
                # notice would push the next one down, towards the question box.
                for screen in self.screen_stack:
                    for rack in screen.query_children(ToastRack):
                        for holder in rack.query_children(ToastHolder):
                            if holder.id == ToastRack._toast_id(old):
                                holder.remove()

    def _run_command(self, command: Command) -> None:
        if command.name == "since":
            self.set_dates(command.value, self.until)
        elif command.name == "until":
            self.set_dates(self.since, command.value)
        elif command.name == "dates_off":
            self.set_dates(None, None)
        elif command.name == "new":
            self.action_new_chat()
        elif command.name == "save":
            self.action_save()
        elif command.name == "rebuild":
            self.action_rebuild()
        elif command.name == "undated":
            self.set_undated(command.value == "on")
        elif command.name == "help":
            self.action_help()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            self.push_screen(HelpScreen())

    def action_help_quit(self) -> None:
        """ctrl+c does not quit (it copies in the question box); say what does, as plain text."""
        self.notify("Press ctrl+q to quit.", title="Do you want to quit?", timeout=4)

    def set_dates(self, since: str | None, until: str | None) -> None:
        if since and until and since > until:
            self.notify(f"{since} is after {until}: nothing could match.\nMove the other end first, or clear it: /since off, /until off.",
                        title="Date filter", severity="warning")
            return
        changed = (since, until) != (self.since, self.until)
        self.since, self.until = since, until
        self._refresh_status()
        message = f"Questions now search {date_filter_label(since, until)}."
        if changed and self.conversation.turns:
            # Earlier answers came from other articles: a question under the new filter is answered on its own,
            # exactly as `qa ask --since/--until` answers it.
            self.conversation.clear()
            message += " Earlier questions no longer count as context."
        self.notify(message, title="Date filter", timeout=4)

    def set_undated(self, include: bool) -> None:
        self.include_undated = include
        self._refresh_status()
        if include:
            message = "Date filters now also search articles without a date."
        else:
            message = "Date filters now leave out articles without a date."
        self.notify(message, title="Date filter", timeout=4)

    def action_new_chat(self) -> None:
        self._supersede_in_flight()
        self.turns.clear()
        self.conversation.clear()
        self._show_turns(None)
        self._refresh_status()
        self.chat.query_one("#question").focus()
        self.notify("New chat: earlier questions no longer count as context.", timeout=3)

    def action_save(self) -> None:
        answered = [t for t in self.turns if t.answer is not None]
        if not answered:
            self.notify("Nothing to save yet: ask a question first.", severity="warning", timeout=3)
            return
        folder = Path(os.environ.get(SAVE_DIR_ENV) or ".").expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = save_path(folder)
            path.write_text(conversation_markdown(answered, self.settings.articles_dir), encoding="utf-8")
        except OSError as exc:
            self.notify(f"Cannot save in {folder}: {exc.strerror or exc}.\nSet {SAVE_DIR_ENV} to a folder you can write to.", title="Not saved", severity="error")
            return
        # The file name on a line of its own: a toast wraps a long path mid-name.
        self.notify(f"Saved {len(answered)} answer{'s' if len(answered) != 1 else ''} to\n{literal(path.name)}\nin {literal(str(path.resolve().parent))}",
                    title="Conversation saved")
        self.last_saved = path

    def action_focus_input(self, prefill: str = "") -> None:
        box = self.chat.query_one("#question", QuestionInput)
        if prefill:
            box.value = prefill
            box.cursor_position = len(prefill)
        box.focus()

    def action_open_first(self) -> None:
        self.open_citation(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Named by the words people type into the palette: "full", "rebuild", "index", "dates", "help", "keys".
        yield SystemCommand("Ask a question", "Move to the question box (Enter asks)", self.action_focus_input)
        yield SystemCommand("Open the first source", "Show the article of citation [1] (Enter on a source)", self.action_open_first)
        yield SystemCommand("New chat", "Forget the conversation context (ctrl+n)", self.action_new_chat)
        yield SystemCommand("Save the conversation", "Write it as Markdown with its citations (ctrl+s)", self.action_save)
        yield SystemCommand("Rebuild the index", "Update: index new and changed articles (ctrl+r)", self.action_rebuild)
        yield SystemCommand("Full rebuild of the index", "From scratch: re-read and re-embed every article", lambda: self.action_rebuild(full=True))
        yield SystemCommand("Dates: only articles since…", "Type /since YYYY-MM-DD", lambda: self.action_focus_input("/since "))
        yield SystemCommand("Dates: only articles until…", "Type /until YYYY-MM-DD", lambda: self.action_focus_input("/until "))
        yield SystemCommand("Dates: search all articles", "Clear the date filter (/dates off)", lambda: self.set_dates(None, None))
        yield SystemCommand(
            "Dates: leave out undated articles" if self.include_undated else "Dates: include undated articles",
            "With a date filter, whether articles without a date are searched (/undated on|off)",
            lambda: self.set_undated(not self.include_undated),
        )
        yield SystemCommand(
            "Stop watching the folder" if self.watching else "Watch the articles folder",
            "Index changes automatically, with a notification",
            self.action_toggle_watch,
        )
        yield SystemCommand("Help: keys and commands", "Every key and slash command (F1)", self.action_help)
        yield from super().get_system_commands(screen)
