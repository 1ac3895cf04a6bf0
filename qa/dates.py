"""Dates an article carries in its text: a date line ("date 2022-01-26", "19 Jan, 2022 16:34") and a
dateline opening the first paragraph ("Odesa, 8 August 2022 - ..."). Metadata dates come from the formats."""

from __future__ import annotations

import re
from datetime import date, datetime

_MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_MONTH = r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_TIME = r"(?:,?\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*(?:[AaPp]\.?[Mm]\.?|GMT|UTC|[A-Z]{2,4}))?)?"
# A date prefix such as "date 2022-01-26 " at the start of a line; the rest of the line is text.
_DATE_PREFIX = re.compile(r"^\s*(?:date|published|updated)\s*:?\s*(?P<iso>\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2})?\S*)?\s*", re.I)
# Lines that are only a date (and maybe a time).
_DATE_LINES = [
    re.compile(r"^\s*(?:(?:date|published|updated|posted)\s*:?\s*)?(?P<iso>\d{4}-\d{2}-\d{2})" + _TIME + r"\s*$", re.I),
    re.compile(r"^\s*(?:(?:date|published|updated|posted)\s*:?\s*)?(?P<day>\d{1,2})\s+" + _MONTH + r",?\s+(?P<year>\d{4})" + _TIME + r"\s*$", re.I),
    re.compile(r"^\s*(?:(?:date|published|updated|posted)\s*:?\s*)?(?:\w+day,?\s+)?" + _MONTH + r"\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})" + _TIME + r"\s*$", re.I),
]


def parse_date_line(line: str) -> tuple[str | None, int]:
    """(ISO date, characters consumed) if the line is, or starts with, a date marker; else (None, 0)."""
    for pattern in _DATE_LINES:
        m = pattern.match(line)
        if m:
            iso = _iso(m)
            if iso:
                return iso, len(line)
    m = _DATE_PREFIX.match(line)
    if m:
        iso = _iso(m)
        if iso:
            return iso, m.end()
    return None, 0


def _iso(m: re.Match) -> str | None:
    try:
        if m.groupdict().get("iso"):
            return datetime.strptime(m.group("iso"), "%Y-%m-%d").date().isoformat()
        month = _MONTHS[m.group("mon")[:3].lower()]
        return date(int(m.group("year")), month, int(m.group("day"))).isoformat()
    except ValueError:
        return None


_DATELINE_DATE = (
    r"(?:(?P<day>\d{1,2})\s+" + _MONTH + r",?\s+(?P<year>\d{4})"
    r"|" + _MONTH.replace("?P<mon>", "?P<mon2>") + r"\s+(?P<day2>\d{1,2}),?\s+(?P<year2>\d{4})"
    r"|(?P<iso>\d{4}-\d{2}-\d{2}))"
)
# "Odesa, 8 August 2022 -", "KYIV, Ukraine, March 3, 2022 (Reuters) -": a place of a few capitalised words,
# then the date, then the story. Only the opening of the first paragraph is read.
_DATELINE = re.compile(
    r"^[\"“]?(?:[A-ZÀ-ÖØ-Þ][\w'’.-]*(?:[ -][A-ZÀ-ÖØ-Þ][\w'’.-]*){0,3})(?:,\s*[A-ZÀ-ÖØ-Þ][\w'’.-]*(?:\s[A-ZÀ-ÖØ-Þ][\w'’.-]*){0,2})?"
    r"\s*[,(]\s*(?:\w+day,?\s+)?" + _DATELINE_DATE + r"\)?(?=\s*(?:\(|[-—–:,]|$))"
)


def dateline_date(line: str) -> str | None:
    """ISO date of a dateline at the start of `line`, else None."""
    m = _DATELINE.match(line)
    if not m:
        return None
    g = m.groupdict()
    if g.get("mon2"):
        g = {"mon": g["mon2"], "day": g["day2"], "year": g["year2"]}
    try:
        if g.get("iso"):
            return datetime.strptime(g["iso"], "%Y-%m-%d").date().isoformat()
        return date(int(g["year"]), _MONTHS[g["mon"][:3].lower()], int(g["day"])).isoformat()
    except (ValueError, KeyError, TypeError):
        return None
