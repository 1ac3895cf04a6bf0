"""What a date filter covers: how many articles are dated in the range and how many undated ones it leaves out.

The CLI and the chat app say the same thing in their own terms (`--include-undated` vs `/undated on`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_YMD = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_day(value: str) -> str:
    """A filter date as YYYY-MM-DD; ValueError says what is wrong with it ("February 2022 has 28 days")."""
    text = value.strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    m = _YMD.match(text)
    if m:
        year, month, day = (int(g) for g in m.groups())
        if not 1 <= month <= 12:
            raise ValueError(f"{text} has no month {month}: months run 01 to 12.")
        days = calendar.monthrange(year, month)[1]
        raise ValueError(f"{text} is not a day: {calendar.month_name[month]} {year} has {days} days.")
    raise ValueError(f"{text!r} is not a date like 2022-03-01.")


@dataclass(frozen=True)
class DateCoverage:
    files: int  # articles in the index
    dated: int  # of them, articles with a date
    in_range: int  # dated articles inside the filter's range
    first: str | None = None  # earliest and latest article date in the index
    last: str | None = None

    @property
    def undated(self) -> int:
        return self.files - self.dated


def coverage(dates: list[str | None], since: str | None = None, until: str | None = None) -> DateCoverage:
    """`dates`: one entry per indexed article (None when undated)."""
    known = sorted(d for d in dates if d)
    in_range = sum(1 for d in known if (not since or d >= since) and (not until or d <= until))
    return DateCoverage(len(dates), len(known), in_range, known[0] if known else None, known[-1] if known else None)


def range_label(since: str | None, until: str | None) -> str:
    if since and until:
        return f"from {since} to {until}"
    return f"since {since}" if since else f"until {until}"


def _articles(n: int) -> str:
    return f"{n} article{'' if n == 1 else 's'}"


def filter_note(cov: DateCoverage, since: str | None, until: str | None, include_undated: bool, how_to_include: str) -> str:
    """One or two sentences: what the filter searched, and what it left out and how to bring it back."""
    dated = f"{cov.in_range} of {_articles(cov.files)} {'is' if cov.in_range == 1 else 'are'} dated {range_label(since, until)}"
    if cov.dated and cov.in_range == 0:
        dated += f" ({_span_note(cov)})"
    if include_undated:
        if not cov.undated:
            return f"Date filter: {dated}; every article has a date."
        if cov.undated == 1:
            return f"Date filter: {dated}; the 1 article without a date was searched too."
        return f"Date filter: {dated}; the {_articles(cov.undated)} without a date were searched too."
    if not cov.undated:
        return f"Date filter: {dated}."
    left = f"{cov.undated} undated article{' was' if cov.undated == 1 else 's were'} left out"
    return f"Date filter: {dated}; {left} ({how_to_include} to search them too)."


def _span_note(cov: DateCoverage) -> str:
    if cov.first == cov.last:
        return f"the only article date is {cov.first}" if cov.dated == 1 else f"every dated article is from {cov.first}"
    return f"the articles' dates run from {cov.first} to {cov.last}"


def status_line(cov: DateCoverage) -> str:
    if not cov.dated:
        if not cov.files:
            return "no articles"
        return "the 1 article has no date" if cov.files == 1 else f"none of the {cov.files} articles has a date"
    span = cov.first if cov.first == cov.last else f"{cov.first} to {cov.last}"
    return f"{cov.dated} of {_articles(cov.files)} dated, {span}"
