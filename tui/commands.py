"""Slash commands typed in the chat input (`/since 2022-01-01`, `/dates off`, …): parsed here, run by the app."""

from __future__ import annotations

from dataclasses import dataclass

COMMANDS: tuple[tuple[str, str], ...] = (
    ("/since DATE", "only articles dated on or after DATE (YYYY-MM-DD)"),
    ("/until DATE", "only articles dated on or before DATE"),
    ("/dates off", "search all articles again"),
    ("/undated on|off", "with a date filter: search articles without a date too, or not"),
    ("/new", "new chat (ctrl+n)"),
    ("/save", "save the conversation as Markdown (ctrl+s)"),
    ("/rebuild", "update the index (ctrl+r)"),
    ("/help", "keys and commands (F1)"),
)
HELP = "\n".join(f"{usage}  {does}" for usage, does in COMMANDS)


@dataclass(frozen=True)
class Command:
    name: str  # since, until, dates_off, undated, new, save, rebuild, help
    value: str | None = None


class CommandError(ValueError):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def parse_date(value: str) -> str:
    from qa.datefilter import parse_day

    try:
        return parse_day(value)
    except ValueError as e:
        raise CommandError(str(e), "Write a day of the calendar as YYYY-MM-DD, e.g. /since 2022-03-01.") from None


def parse_command(line: str) -> Command | None:
    """None when the line is a question, not a command."""
    line = line.strip()
    if not line.startswith("/") or len(line) < 2 or not line[1].isalpha():
        return None
    name, _, rest = line[1:].partition(" ")
    name, rest = name.lower(), rest.strip()
    if name in ("since", "from", "after", "until", "to", "before"):
        key = "since" if name in ("since", "from", "after") else "until"
        if not rest:
            raise CommandError(f"/{name} needs a date.", f"For example: /{name} 2022-03-01")
        if rest.lower() in ("off", "none", "any", "-"):
            return Command(key, None)
        return Command(key, parse_date(rest))
    if name == "dates":
        if rest.lower() in ("off", "none", "all", "any", "clear", "reset"):
            return Command("dates_off")
        raise CommandError("Use /dates off to search all articles again.", "/since DATE and /until DATE set a filter.")
    if name == "undated":
        if rest.lower() in ("on", "yes", "include", "in"):
            return Command("undated", "on")
        if rest.lower() in ("off", "no", "exclude", "out"):
            return Command("undated", "off")
        raise CommandError("Use /undated on or /undated off.", "With a date filter, on also searches articles without a date.")
    if name in ("new", "clear"):
        return Command("new")
    if name == "save":
        return Command("save")
    if name in ("rebuild", "index"):
        return Command("rebuild")
    if name in ("help", "?"):
        return Command("help")
    raise CommandError(f"Unknown command /{name}.", "Type /help for the list.")
