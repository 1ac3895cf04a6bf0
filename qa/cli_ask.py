"""How `qa ask` prints an answer: text for a person (answer, sources, other passages, date filter) or JSON."""

from __future__ import annotations

import json

import click

from .answer import Answer
from .datefilter import DateCoverage, filter_note
from .text import strip_controls

SCORE_NOTE = "Scores: how close each passage is to the question in meaning (cosine similarity, at most 1.00); not a probability."


def _meta(p) -> str:
    meta = " · ".join(strip_controls(x) for x in (p.title, p.date) if x)
    return "  " + meta if meta else ""


def also_label(passage, other) -> str:
    """Near-duplicates are collapsed too: only identical text is called the same, so a reader who opens the other
    place is not promised the quoted words."""
    return "same text in" if other.key == passage.key else "nearly the same text in"


def retrieved(answer: Answer) -> list[dict]:
    """Every passage retrieved, best first, in the shape of a citation (plus its rank)."""
    out = []
    for rank, h in enumerate(answer.hits, start=1):
        p = h.passage
        out.append({
            "rank": rank, "source": p.source, "paragraph": p.paragraph, "line_start": p.line_start, "line_end": p.line_end,
            "score": round(h.dense, 4), "text": p.text, "title": p.title, "date": p.date, "page": p.page,
            "also_in": [f"{a.source}:{a.line_start}-{a.line_end}" for a in h.also],
        })
    return out


def print_answer(answer: Answer, as_json: bool, list_retrieved: bool, dates: DateCoverage | None,
                 since: str | None, until: str | None, include_undated: bool) -> None:
    note = filter_note(dates, since, until, include_undated, "add --include-undated") if dates else ""
    if as_json:
        data = answer.to_dict()
        data["retrieved"] = retrieved(answer)
        if dates:
            data["date_filter"] = {
                "since": since, "until": until, "include_undated": include_undated, "articles": dates.files,
                "dated_in_range": dates.in_range, "undated": dates.undated,
            }
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(answer.text)
    listed = bool(answer.citations)
    if answer.citations:
        click.echo()
        click.echo("Sources:" if answer.found else "Nearest passages (not an answer), closest first:")
        for c in answer.citations:
            click.echo(f"  [{c.n}] {c.passage.citation}  (score {c.score:.2f}){_meta(c.passage)}")
            for a in c.also:
                click.echo(f"       {also_label(c.passage, a)} {a.citation}")
    if list_retrieved:
        cited = {(c.passage.source, c.passage.paragraph) for c in answer.citations}
        others = sorted((h for h in answer.hits if (h.passage.source, h.passage.paragraph) not in cited), key=lambda h: -h.dense)
        if others:
            listed = True
            click.echo()
            click.echo(f"Also retrieved, closest first ({len(others)} more of the {len(answer.hits)} passages found, not quoted above):")
            for h in others:
                click.echo(f"  -   {h.passage.citation}  (score {h.dense:.2f}){_meta(h.passage)}")
    if note:
        click.echo()
        click.echo(note)
    elif not answer.hits:
        click.echo()
        click.echo("No passage came close to the question.")
    if listed:
        click.echo()
        first = (answer.citations[0].passage if answer.citations else answer.hits[0].passage).citation
        click.echo(SCORE_NOTE, err=True)
        click.echo(f"Read a source in full: qa show {first}", err=True)
