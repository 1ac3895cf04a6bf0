"""Measure the assistant: metrics, and question sets asked through the chat's own path (BEIR: qa/beir.py).

The metric functions at the top are pure (lists and dicts in, numbers out), so tests can check them
against cases computed by hand. Everything heavy (the model, FAISS) is reached through `Assistant`
and `Retriever`, imported when a run starts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import QAError

if TYPE_CHECKING:
    from .assistant import Assistant

Progress = Callable[[int, int], None]


class BadEvalData(QAError):
    """A question set or benchmark folder that cannot be read."""


# ---------------------------------------------------------------- metrics (pure)


def _dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with graded relevance and linear gain (trec_eval's ndcg_cut, as BEIR and MTEB report it)."""
    gains = [relevance.get(doc, 0) for doc in ranked[:k]]
    ideal = _dcg(sorted((g for g in relevance.values() if g > 0), reverse=True)[:k])
    return _dcg(gains) / ideal if ideal > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents (grade > 0) found in the first k."""
    relevant = {doc for doc, grade in relevance.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], relevance: Mapping[str, int], k: int | None = None) -> float:
    """1 / rank of the first relevant document within the first k (0 when there is none)."""
    for rank, doc in enumerate(ranked[:k] if k else ranked, start=1):
        if relevance.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def source_matches(source: str, gold: Iterable[str]) -> bool:
    """A retrieved source matches a gold file name when its path ends with it (at a path boundary)."""
    return any(source == g or source.endswith("/" + g.lstrip("/")) for g in gold if g)


def source_rank(retrieved: Sequence[Sequence[str]], gold: Sequence[str]) -> int | None:
    """1-based rank of the first retrieved hit with a gold source (a hit lists every place its text is in)."""
    for rank, sources in enumerate(retrieved, start=1):
        if any(source_matches(s, gold) for s in sources):
            return rank
    return None


def contains_answer(answer: str, gold: Sequence[str], refused: bool) -> bool:
    """The shown answer holds one of the gold strings (case-insensitively) and was not a refusal."""
    if refused:
        return False
    text = answer.casefold()
    return any(g.casefold() in text for g in gold if g)


@dataclass(frozen=True)
class RefusalScores:
    recall: float | None  # unanswerable questions refused / unanswerable questions
    precision: float | None  # refusals that were right / all refusals
    false_rate: float | None  # answerable questions refused / answerable questions


def refusal_scores(outcomes: Sequence[tuple[bool, bool]]) -> RefusalScores:
    """From (answerable, refused) pairs. A rate with nothing to count is None, not a made-up 0 or 1."""
    unanswerable = [refused for answerable, refused in outcomes if not answerable]
    answerable = [refused for answerable, refused in outcomes if answerable]
    refusals = [not answerable_ for answerable_, refused in outcomes if refused]
    return RefusalScores(
        recall=_mean(unanswerable),
        precision=_mean(refusals),
        false_rate=_mean(answerable),
    )


def _mean(values: Sequence[float | bool]) -> float | None:
    return sum(values) / len(values) if values else None


# ---------------------------------------------------------------- question sets


@dataclass(frozen=True)
class Question:
    question: str
    id: str
    answerable: bool = True
    answer_contains: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    scored: bool = True  # a conversation's unscored turns only set the scene


@dataclass(frozen=True)
class Item:
    """One line of a question set: a single question, or a conversation's turns in order."""

    id: str
    turns: tuple[Question, ...]
    conversation: bool = False


def _strings(value, what: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadEvalData(f"{where}: {what} must be a list of strings.", "See the question-set format in the README.")
    return tuple(value)


def _question(raw, qid: str, where: str, in_conversation: bool) -> Question:
    if not isinstance(raw, dict) or not isinstance(raw.get("question"), str) or not raw["question"].strip():
        raise BadEvalData(f"{where}: each question needs a non-empty \"question\" string.", "See the question-set format in the README.")
    answer_contains = _strings(raw.get("answer_contains"), "answer_contains", where)
    sources = _strings(raw.get("sources"), "sources", where)
    answerable = raw.get("answerable", True)
    if not isinstance(answerable, bool):
        raise BadEvalData(f"{where}: \"answerable\" must be true or false.", "See the question-set format in the README.")
    # In a conversation only turns that say what to expect are scored; a single question always is.
    scored = not in_conversation or bool(answer_contains or sources or "answerable" in raw)
    from .assistant import validate_question

    try:
        validate_question(raw["question"])  # a question the chat would reject stops the run before it starts
    except QAError as exc:
        raise BadEvalData(f"{where}: {exc.message}", "Fix or remove that question.") from None
    return Question(raw["question"], qid, answerable, answer_contains, sources, scored)


def parse_question_set(lines: Iterable[str], name: str = "question set") -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadEvalData(f"{where} is not JSON ({exc.msg}).", "Each line must be one JSON object.") from None
        if not isinstance(raw, dict):
            raise BadEvalData(f"{where} is not a JSON object.", "Each line must be one JSON object.")
        item_id = str(raw.get("id") or f"line{number}")
        if item_id in seen:
            raise BadEvalData(f"{where}: the id {item_id!r} is used twice.", "Give every item its own id.")
        seen.add(item_id)
        if "turns" in raw:
            turns = raw["turns"]
            if not isinstance(turns, list) or not turns:
                raise BadEvalData(f"{where}: \"turns\" must be a non-empty list.", "See the question-set format in the README.")
            parsed = tuple(_question(t, f"{item_id}#{n}", where, True) for n, t in enumerate(turns, start=1))
            items.append(Item(item_id, parsed, conversation=True))
        else:
            items.append(Item(item_id, (_question(raw, item_id, where, False),)))
    if not items:
        raise BadEvalData(f"The {name} holds no questions.", "Add one JSON object per line.")
    return items


def with_typos(items: Sequence[Item], seed: int) -> list[Item]:
    """Every question with one typo (qa/reader/typos.py), seeded: the typo-robustness figures."""
    import random
    from dataclasses import replace

    from .reader.typos import add_typo

    rng = random.Random(seed)
    return [replace(item, turns=tuple(replace(q, question=add_typo(q.question, rng)) for q in item.turns)) for item in items]


def load_question_set(path: Path) -> list[Item]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadEvalData(f"No question set at {path}.", "Pass the path of a .jsonl file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadEvalData(f"Cannot read {path} ({exc}).", "Pass a UTF-8 .jsonl file.") from None
    return parse_question_set(text.splitlines(), path.name)


@dataclass(frozen=True)
class Outcome:
    """What happened to one scored question."""

    question: Question
    answer: str
    refused: bool
    retrieved: tuple[tuple[str, ...], ...]  # the sources of each hit, best first
    rank: int | None  # of the first hit with a gold source
    contains: bool | None  # None when the question names no answer strings

    @property
    def failed(self) -> bool:
        q = self.question
        if not q.answerable:
            return not self.refused
        return self.refused or self.contains is False or (bool(q.sources) and self.rank is None)


def score_answer(question: Question, answer_text: str, refused: bool, retrieved: Sequence[Sequence[str]]) -> Outcome:
    rank = source_rank(retrieved, question.sources) if question.sources else None
    contains = contains_answer(answer_text, question.answer_contains, refused) if question.answer_contains else None
    return Outcome(question, answer_text, refused, tuple(tuple(s) for s in retrieved), rank, contains)


def ask_items(assistant: "Assistant", items: Sequence[Item], progress: Progress | None = None) -> list[Outcome]:
    """Every question through Assistant.ask, as the chat asks it: one conversation per item."""
    from .conversation import Conversation

    outcomes: list[Outcome] = []
    total = sum(len(item.turns) for item in items)
    done = 0
    for item in items:
        conversation = Conversation()
        for question in item.turns:
            answer = assistant.ask(question.question, conversation)
            done += 1
            if progress:
                progress(done, total)
            if question.scored:
                retrieved = [hit.sources for hit in answer.hits]
                outcomes.append(score_answer(question, answer.text, not answer.found, retrieved))
    return outcomes


def _quote(strings: Sequence[str]) -> str:
    return " or ".join(repr(s) for s in strings)


def failure(outcome: Outcome) -> dict:
    q = outcome.question
    if not q.answerable:
        expected = "a refusal (not in the articles)"
    else:
        parts = []
        if q.answer_contains:
            parts.append(f"an answer containing {_quote(q.answer_contains)}")
        if q.sources:
            parts.append(f"a passage from {_quote(q.sources)} among the hits")
        expected = "; ".join(parts) or "an answer"
    firsts = [s[0] for s in outcome.retrieved if s]
    got = "refused" if outcome.refused else outcome.answer
    got += f" (hits: {', '.join(firsts) or 'none'})"
    return {"id": q.id, "question": q.question, "expected": expected, "got": got}


def summarize_questions(outcomes: Sequence[Outcome]) -> dict:
    """The report of `qa eval questions --json`, keys exactly as documented."""
    answerable = [o for o in outcomes if o.question.answerable]
    with_sources = [o for o in answerable if o.question.sources]
    with_strings = [o for o in answerable if o.question.answer_contains]
    refusal = refusal_scores([(o.question.answerable, o.refused) for o in outcomes])

    def hit_at(k: int) -> float | None:
        return _round(_mean([o.rank is not None and o.rank <= k for o in with_sources]))

    return {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(outcomes) - len(answerable),
        "source_hit@1": hit_at(1),
        "source_hit@3": hit_at(3),
        "source_hit@5": hit_at(5),
        "mrr": _round(_mean([1.0 / o.rank if o.rank else 0.0 for o in with_sources])),
        "answer_contains": _round(_mean([bool(o.contains) for o in with_strings])),
        "refusal_recall": _round(refusal.recall),
        "refusal_precision": _round(refusal.precision),
        "false_refusal_rate": _round(refusal.false_rate),
        "failures": [failure(o) for o in outcomes if o.failed],
    }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# BEIR benchmarks live in qa/beir.py; their names stay importable from here (lazily: qa.beir imports this module).
_BEIR_NAMES = frozenset(
    "DEEP_K BeirSet RetrievalConfig beir_answers beir_report build_beir_index load_beir make_assistant rank_documents "
    "read_qrels retrieve_beir score_rankings write_corpus".split()
)


def __getattr__(name: str):
    if name in _BEIR_NAMES:
        from . import beir

        return getattr(beir, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
