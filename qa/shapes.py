"""Answer shapes: what kind of answer a question wants (a date, a number, a place, a name) and whether a
sentence holds one. Hand-written rules; the reader (qa/reader/) decides most of what these used to, and
docs/evaluation.md says which of them still earn their place.
"""

from __future__ import annotations

import re

from .lexicon import word_term


# What kind of answer a question wants, and what such an answer looks like in a sentence.
_MONTHS = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_ANSWER_SHAPES = {
    # An explicit date answers "when" better than "next week", which still beats nothing.
    "when": re.compile(
        _MONTHS + r"\s+\d{1,2}|\b\d{1,2}\s+" + _MONTHS + r"|\b(?:1[5-9]|20)\d{2}\b|\b\d{1,2}:\d{2}\b|\b(?:in|since|until|by) " + _MONTHS
    ),
    "when_relative": re.compile(
        r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|tomorrow|tonight|next (?:week|month|year)"
        r"|last (?:week|month|year)|earlier this (?:week|month|year)|\d+ (?:days|weeks|months|years) ago)\b",
        re.I,
    ),
    "number": re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|thousands?|millions?|billions?)\b", re.I),
    "where": re.compile(r"\b(?:in|at|near|from|to) (?:the )?[A-Z][\w\u00C0-\u024F-]+"),
    "who": re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z\u00C0-\u024F]+(?: [A-Z][\w\u00C0-\u024F]+)+"),
}


def shape_bonus(shape: str | None, sentence: str) -> float:
    """Reward a sentence holding the kind of thing asked for (a date, a number, a place, a name)."""
    if shape is None:
        return 0.0
    if _ANSWER_SHAPES[shape].search(sentence):
        return 0.3
    if shape == "when" and _ANSWER_SHAPES["when_relative"].search(sentence):
        return 0.15
    return 0.0


# "On what date", "which year": the question names the kind of date; an answer without one is no answer.
_DATE_REQUEST = re.compile(r"\b(?:what|which)(?: exact| precise| specific)? (date|day|year|month)\b(?!-)", re.I)
_CALENDAR_DATE = _MONTHS + r"\s+\d{1,2}\b|\b\d{1,2}\s+" + _MONTHS + r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
_REQUESTED_DATES = {
    "date": re.compile(_CALENDAR_DATE),
    "day": re.compile(_CALENDAR_DATE + r"|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|tomorrow)\b", re.I),
    "year": re.compile(r"\b(?:1[5-9]|20)\d{2}\b"),
    "month": re.compile(r"\b" + _MONTHS + r"(?!\w)"),
}


# A count is not a date: "March 5, 2022" does not say how many drones were sold.
_COUNT_REQUEST = re.compile(r"\bhow (?:many|much)\b", re.I)
# A year reads as one after a preposition or a date's comma ("in 2022", "March 5, 2022"), not in "2000 kilometers".
_DATES_AND_YEARS = re.compile(
    _CALENDAR_DATE + r"|(?:\b(?i:in|since|until|during|after|before|early|late|mid)\s+|,\s*)(?:1[5-9]|20)\d{2}\b"
)


def lacks_requested(question: str, sentences: list[str], terms: dict[str, float]) -> bool:
    """True when the question plainly asks for a quantity or a kind of date and no sentence gives one."""
    if answer_shape(question) == "number":
        if _COUNT_REQUEST.search(question):
            sentences = [_DATES_AND_YEARS.sub("_", s) for s in sentences]
        return not any(shape_bonus("number", _outside(s, terms)) for s in sentences)
    m = _DATE_REQUEST.search(question)
    if m:
        wanted = _REQUESTED_DATES[m.group(1).lower()]
        return not any(wanted.search(_outside(s, terms, keep_months=True)) for s in sentences)
    return False


def answer_shape(question: str) -> str | None:
    q = question.lower().replace("\u2019", "'")
    if re.search(r"\b(how (?:many|much|long|old|far)|what (?:number|percentage|share|amount))\b", q):
        return "number"
    if re.search(r"\b(when|what (?:date|day|time|year|month)|which (?:date|day|year|month))\b", q):
        return "when"
    if re.search(r"\bwhere\b", q):
        return "where"
    if re.search(r"\b(who|whom|whose)\b|\bwhat(?:'s| is| was| are| were) (?:the |his |her |their )?names?\b", q):
        return "who"
    return None


_MONTH_WORD = re.compile(r"^" + _MONTHS + r"$")


def _outside(sentence: str, terms: dict[str, float], keep_months: bool = False) -> str:
    """The sentence with the question's own words blanked, so 'When is the March vote?' needs another date.
    With keep_months, month names stay: for "On what date in March...", "March 11" is a date."""

    def blank(m: re.Match) -> str:
        word = m.group(0)
        keep = word_term(word) not in terms or (keep_months and _MONTH_WORD.match(word))
        return word if keep else "_"

    return re.sub(r"\w+", blank, sentence)
