"""Pure helpers that turn core records into rich Text and Markdown (no Textual, easy to unit-test).

Every string from an article, a file name or the user goes through `literal()` and into a `Text`
object built piece by piece: rich never parses it as markup, and control characters never reach
the terminal.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.style import Style
from rich.table import Table
from rich.text import Text

from qa.text import strip_controls

if TYPE_CHECKING:  # types only: the answering core loads after the first paint
    from qa.answer import Answer, Citation

SNIPPET_CHARS = 110


def literal(text: str | None) -> str:
    """Text as written, minus terminal escapes and control characters (tabs become spaces)."""
    return strip_controls((text or "").replace("\t", "    "))


def clip(text: str, limit: int) -> str:
    text = " ".join(literal(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(eq=False)
class ChatTurn:
    """One question in the app, from typed to answered (or superseded)."""

    question: str
    since: str | None = None
    until: str | None = None
    state: str = "waiting"  # waiting (for the model), answering, done, superseded, error
    answer: Answer | None = None
    error: str = ""
    notes: list[str] = field(default_factory=list)
    started: float = 0.0  # monotonic time it was asked (for the latency figures)
    include_undated: bool = False  # the date filter also searched articles without a date


def date_filter_label(since: str | None, until: str | None) -> str:
    if not since and not until:
        return "all dates"
    if since and until:
        return f"{since} → {until}"
    return f"since {since}" if since else f"until {until}"


def turn_parts(turn: ChatTurn, number: int) -> tuple[Text, Text]:
    """(question line, answer body) of a turn as shown in the conversation; [n] markers stand out."""
    head = Text()
    head.append(literal(turn.question), style="bold")
    if turn.since or turn.until:
        head.append(f"  ({date_filter_label(turn.since, turn.until)}{' + undated' if turn.include_undated else ''})", style="italic dim")
    body = Text()
    if turn.state == "waiting":
        body.append("… waiting for the model and the index", style="italic dim")
    elif turn.state == "answering":
        body.append("… searching the articles", style="italic dim")
    elif turn.state == "superseded":
        body.append("(skipped: a newer question replaced it)", style="italic dim")
    elif turn.state == "error":
        body.append(literal(turn.error), style="italic")
    elif turn.answer is not None:
        answer = turn.answer
        if not answer.found:
            body.append(literal(answer.text), style="italic")
            if answer.citations:
                body.append("\nThe nearest passages are listed under Sources.", style="dim")
        else:
            for i, sentence in enumerate(answer.sentences):
                if i:
                    body.append(" ")
                body.append(literal(sentence.text))
                body.append(f" [{sentence.citation}]", style="bold")
    for note in turn.notes:
        body.append("\n" + literal(note), style="dim")
    return head, body


def turn_text(turn: ChatTurn, number: int) -> Text:
    """The whole turn as one plain Text (tests, and anywhere layout does not matter)."""
    head, body = turn_parts(turn, number)
    return Text("\n").join([Text(f"{number}› ") + head, body])


def turn_renderable(turn: ChatTurn, number: int) -> RenderableType:
    """Number, question, and the answer below, all wrapped lines keeping their indent."""
    head, body = turn_parts(turn, number)
    grid = Table.grid(padding=(0, 1, 0, 0))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(Text(f"{number}›", style="bold"), head)
    grid.add_row(Text(""), body)
    return Padding(grid, (0, 0, 1, 0))


def also_label(passage, other) -> str:
    # Near-duplicates are collapsed too: only identical text is "the same", so the other place is not promised the quote.
    return "same text in" if other.key == passage.key else "nearly the same text in"


def citation_parts(citation: Citation, found: bool, width_hint: int = SNIPPET_CHARS) -> tuple[Text, Text]:
    """(header, details) of a sources-panel entry: n, file:lines; title, date, score, snippet."""
    p = citation.passage
    head = Text()
    head.append(f"[{citation.n}] ", style="bold")
    head.append(literal(p.citation), style="bold")
    body = Text()
    body.append(clip(p.title or "(untitled)", 90), style="italic")
    body.append("\n")
    body.append(p.date or "no date", style="" if p.date else "dim")
    body.append(f" · score {citation.score:.2f}", style="dim")
    if not found:
        body.append(" · not an answer", style="dim")
    body.append("\n")
    body.append("“" + clip(_snippet(citation), width_hint) + "”", style="dim")
    for also in citation.also[:2]:
        body.append(f"\n{also_label(p, also)} " + literal(also.citation), style="dim")
    return head, body


def citation_text(citation: Citation, found: bool, width_hint: int = SNIPPET_CHARS) -> Text:
    head, body = citation_parts(citation, found, width_hint)
    return Text("\n").join([head, body])


def citation_renderable(citation: Citation, found: bool) -> RenderableType:
    head, body = citation_parts(citation, found)
    return Group(head, Padding(body, (0, 0, 0, 4)))


def _snippet(citation: Citation) -> str:
    """The first sentence used in the answer, else the passage's start."""
    text = citation.passage.text
    if citation.sentences:
        a, b = citation.sentences[0]
        return text[a:b]
    return text


def shown_path(path: Path) -> str:
    """A path to open the file elsewhere: relative to the working folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


# ---------------------------------------------------------------- the article viewer


@dataclass(frozen=True)
class Highlight:
    """What to mark in an article: whole lines of the passage, and character spans of the answer."""

    first_line: int
    last_line: int
    spans: tuple[tuple[int, int], ...] = ()  # offsets into the article text


def locate(article_text: str, citation: Citation, fresh_passages=()) -> Highlight:
    """Where the cited passage and the answer's sentences sit in the article as read now.

    The file may have changed since it was indexed: the passage is looked up by its text in the
    fresh split first, and only then by the indexed line numbers.
    """
    p = citation.passage
    match = next((q for q in fresh_passages if q.text == p.text), None)
    base = match or p
    spans = []
    contiguous = article_text[base.char_start : base.char_end] == p.text
    for a, b in citation.sentences:
        sentence = p.text[a:b]
        if contiguous:
            spans.append((base.char_start + a, base.char_start + b))
            continue
        found = article_text.find(sentence, base.char_start, max(base.char_end, base.char_start + len(sentence)))
        if found < 0:
            found = article_text.find(sentence)
        if found >= 0:
            spans.append((found, found + len(sentence)))
    return Highlight(base.line_start, base.line_end, tuple(spans))


def article_rows(
    lines: list[str],
    highlight: Highlight | None,
    width: int,
    console,
    passage_style: Style,
    sentence_style: Style,
    gutter_style: Style,
) -> tuple[list[Text], dict[int, int]]:
    """Wrap the article to `width` cells with a line-number gutter.

    Returns the rows and, for each source line, the row it starts on (to scroll to a passage).
    """
    digits = len(str(max(len(lines), 1)))
    gutter = digits + 3
    text_width = max(10, width - gutter)
    rows: list[Text] = []
    row_of: dict[int, int] = {}
    offset = 0
    for n, raw in enumerate(lines, start=1):
        line = Text(literal(raw), end="", no_wrap=False)
        marked = highlight is not None and highlight.first_line <= n <= highlight.last_line
        if marked:
            line.stylize(passage_style, 0, len(line))
        if highlight is not None:  # after the passage's style, so the sentences' style wins
            for a, b in highlight.spans:
                lo, hi = max(a, offset) - offset, min(b, offset + len(raw)) - offset
                if lo < hi:
                    # literal() widened each tab to four spaces: move the span by the tabs before it.
                    line.stylize(sentence_style, lo + 3 * raw[:lo].count("\t"), hi + 3 * raw[:hi].count("\t"))
        wrapped = line.wrap(console, text_width) if raw else [Text("")]
        row_of[n] = len(rows)
        for i, part in enumerate(wrapped):
            row = Text(no_wrap=True, end="")
            number = f"{n:>{digits}} " if i == 0 else " " * (digits + 1)
            row.append(number, style=gutter_style)
            row.append("▌ " if marked else "│ ", style=sentence_style if marked else gutter_style)
            part.rstrip()
            row.append_text(part)
            if marked:
                row.append(" " * max(0, text_width - part.cell_len), style=passage_style)
            rows.append(row)
        offset += len(raw) + 1
    return rows, row_of


# ---------------------------------------------------------------- saving


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!&])")
# At a line start "-", "+" and "=" can open a list, a rule or a heading underline; "3." or "3)" a numbered list.
_MD_LINE_MARK = re.compile(r"^(?:([-+=])|(\d+)([.)]))", re.M)


def _unmark(m: re.Match) -> str:
    mark, number, dot = m.groups()
    return f"\\{mark}" if mark else f"{number}\\{dot}"


def markdown_text(text: str | None) -> str:
    """Article or user text for a Markdown file: every character Markdown would act on is escaped,
    so '*' stays a star, '&copy;' stays as typed and '<script>' stays text in any viewer."""
    # Leading spaces are dropped: four of them would make an indented code block.
    text = "\n".join(line.lstrip() for line in literal(text).split("\n"))
    return _MD_LINE_MARK.sub(_unmark, _MD_SPECIAL.sub(r"\\\1", text))


def _code(text: str) -> str:
    """An inline code span that no run of backticks in the text can close early."""
    text = literal(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    if not longest:
        return f"`{text}`"
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}"


def conversation_markdown(turns: list[ChatTurn], articles_dir: Path, now: datetime | None = None) -> str:
    """The answered turns as Markdown, each with its numbered citations and the passages quoted."""
    now = now or datetime.now()
    out = [
        "# Questions to the articles",
        "",
        f"Saved {now:%Y-%m-%d %H:%M} from `{articles_dir}`.",
        "",
    ]
    n = 0
    for turn in turns:
        if turn.answer is None:
            continue
        n += 1
        answer = turn.answer
        out.append(f"## {n}. {markdown_text(turn.question)}")
        out.append("")
        if turn.since or turn.until:
            out.append(f"*Articles {date_filter_label(turn.since, turn.until)}.*")
            out.append("")
        if answer.found:
            out.append(" ".join(f"{markdown_text(s.text)} [{s.citation}]" for s in answer.sentences))
        else:
            out.append(markdown_text(answer.text))
        out.append("")
        if answer.citations:
            out.append("Sources:" if answer.found else "Nearest passages (not an answer):")
            out.append("")
            for c in answer.citations:
                p = c.passage
                meta = ", ".join(x for x in (markdown_text(p.title), p.date or "", f"score {c.score:.2f}") if x)
                out.append(f"{c.n}. {_code(p.citation)} ({meta})")
                for line in markdown_text(p.text).splitlines() or [""]:
                    out.append(f"   > {line}")
                out.append("")
    return "\n".join(out).rstrip() + "\n"


def save_path(folder: Path, now: datetime | None = None) -> Path:
    """A new file name in `folder` that does not overwrite an earlier save."""
    now = now or datetime.now()
    stem = f"qa-chat-{now:%Y%m%d-%H%M%S}"
    path = folder / f"{stem}.md"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}.md"
        n += 1
    return path
