"""SQuAD 2.0 dev (BEIR layout) as reader training data: (question, sentence, label) pairs, split by article.

The split is by Wikipedia article (doc id ``squad20dev_AAA_PP``: article AAA, paragraph PP), so no held-out
question shares an article with a training one. Held out: articles whose number is 2 mod 3 (11 of 35).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..text import sentence_spans

_DOC_ID = re.compile(r"_(\d{3})_(\d{2,})$")


def article_of(doc_id: str) -> int:
    m = _DOC_ID.search(doc_id)
    if not m:
        raise ValueError(f"not a SQuAD doc id: {doc_id!r}")
    return int(m.group(1))


def is_held_out(doc_id: str) -> bool:
    """Never trained on; the figures in docs/evaluation.md come from these articles."""
    return article_of(doc_id) % 3 == 2


@dataclass(frozen=True)
class Question:
    qid: str
    doc_id: str
    text: str
    answers: tuple[str, ...]
    starts: tuple[int, ...]
    impossible: bool


@dataclass(frozen=True)
class Paragraph:
    doc_id: str
    title: str
    text: str
    spans: tuple[tuple[int, int], ...]


def load(root: Path) -> tuple[dict[str, Paragraph], list[Question]]:
    root = Path(root)
    paragraphs: dict[str, Paragraph] = {}
    with open(root / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            paragraphs[d["_id"]] = Paragraph(d["_id"], d.get("title", ""), d["text"], tuple(sentence_spans(d["text"])))
    texts: dict[str, str] = {}
    with open(root / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            texts[d["_id"]] = d["text"]
    questions: list[Question] = []
    with open(root / "answers.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            questions.append(Question(d["_id"], d["doc_id"], texts[d["_id"]], tuple(d["answers"]), tuple(d["answer_starts"]), bool(d["is_impossible"])))
    return paragraphs, questions


def answer_sentences(p: Paragraph, q: Question) -> set[int]:
    """Indexes of the sentences holding a gold answer (by its character offset)."""
    out = set()
    for start, ans in zip(q.starts, q.answers):
        end = start + len(ans)
        for i, (a, b) in enumerate(p.spans):
            if a <= start < b or a < end <= b:
                out.add(i)
    return out


PARTS = ("all", "train", "held-out", "dev", "test")


def part_of(doc_id: str) -> str:
    """train, or the held-out articles' halves: dev (thresholds are chosen here) and test (figures only)."""
    if not is_held_out(doc_id):
        return "train"
    return "dev" if article_of(doc_id) % 2 == 0 else "test"


def in_part(doc_id: str, part: str) -> bool:
    if part == "all":
        return True
    if part == "held-out":
        return is_held_out(doc_id)
    return part_of(doc_id) == part


def query_docs(folder: Path) -> dict[str, str]:
    """Query id -> the doc id its answers.jsonl row names."""
    out = {}
    with open(Path(folder) / "answers.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            out[d["_id"]] = d["doc_id"]
    return out
