"""Measure the assistant: question sets asked through the chat's own path, and BEIR retrieval benchmarks.

The metric functions at the top are pure (lists and dicts in, numbers out), so tests can check them
against cases computed by hand. Everything heavy (the model, FAISS) is reached through `Assistant`
and `Retriever`, imported when a run starts.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import QAError

if TYPE_CHECKING:
    from .assistant import Assistant
    from .config import Settings
    from .embedding import Embedder
    from .retrieval import Hit

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


# ---------------------------------------------------------------- BEIR benchmarks


@dataclass
class BeirSet:
    name: str
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]  # only the queries judged in the split, in file order
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> grade
    answers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # query id -> gold answers
    impossible: frozenset[str] = frozenset()  # queries whose answer is not in the corpus (SQuAD 2.0)


def _jsonl(path: Path) -> Iterable[dict]:
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise BadEvalData(f"{path} line {number} is not JSON ({exc.msg}).", "Check the file.") from None
                    if not isinstance(row, dict) or "_id" not in row:
                        raise BadEvalData(f"{path} line {number} is not an object with an \"_id\".", "Check the file.")
                    yield row
    except FileNotFoundError:
        raise BadEvalData(f"{path} is missing.", "A BEIR folder holds corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv.") from None
    except UnicodeDecodeError:
        raise BadEvalData(f"{path} is not UTF-8 text.", "BEIR files are UTF-8 JSON Lines.") from None


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    try:
        return _read_qrels(path)
    except UnicodeDecodeError:
        raise BadEvalData(f"{path} is not UTF-8 text.", "Qrels are tab-separated UTF-8: query-id, corpus-id, score.") from None


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            parts = line.rstrip("\n").split("\t")
            if number == 1 and parts[0] == "query-id" or not line.strip():
                continue
            if len(parts) < 3:
                raise BadEvalData(f"{path} line {number} does not have query-id, corpus-id and score.", "Check the file.")
            try:
                grade = int(float(parts[2]))
            except ValueError:
                raise BadEvalData(f"{path} line {number}: the score {parts[2]!r} is not a number.", "Check the file.") from None
            qrels.setdefault(parts[0], {})[parts[1]] = grade
    return qrels


def load_beir(folder: Path, split: str = "test", with_answers: bool = False) -> BeirSet:
    if not folder.is_dir():
        raise BadEvalData(f"No benchmark folder at {folder}.", "Pass a folder in BEIR layout (corpus.jsonl, queries.jsonl, qrels/).")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
        raise BadEvalData(f"{folder} has no qrels/{split}.tsv.", f"Splits there: {', '.join(splits) or 'none'}.")
    qrels = read_qrels(qrels_path)
    corpus = {str(d["_id"]): (str(d.get("title") or ""), str(d.get("text") or "")) for d in _jsonl(folder / "corpus.jsonl")}
    queries = {str(q["_id"]): str(q.get("text") or "") for q in _jsonl(folder / "queries.jsonl")}
    judged = {qid: text for qid, text in queries.items() if qid in qrels and _askable(text)}
    answers: dict[str, tuple[str, ...]] = {}
    impossible: set[str] = set()
    if with_answers:
        path = folder / "answers.jsonl"
        if not path.is_file():
            raise BadEvalData(f"{folder} has no answers.jsonl.", "--answers needs gold answers (SQuAD-style answers.jsonl).")
        for row in _jsonl(path):
            qid = str(row["_id"])
            if qid not in judged:
                continue
            gold = tuple(a for a in row.get("answers") or () if isinstance(a, str) and a.strip())
            if row.get("is_impossible"):
                impossible.add(qid)
            elif gold:
                answers[qid] = gold
    return BeirSet(folder.name, corpus, judged, {q: qrels[q] for q in judged}, answers, frozenset(impossible))


def _askable(text: str) -> bool:
    """Queries the chat would reject (no words, too long) are left out rather than stopping the run."""
    from .assistant import validate_question

    try:
        validate_question(text)
    except QAError:
        return False
    return True


_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")


def write_corpus(beir: BeirSet, articles_dir: Path) -> dict[str, str]:
    """Each document becomes one article file, "title\\n\\ntext", split like any article.

    Returns source -> doc id. Files whose content is already there are left alone, so a kept
    work folder is re-indexed by a stat-only rescan.
    """
    articles_dir.mkdir(parents=True, exist_ok=True)
    source_to_doc: dict[str, str] = {}
    for n, (doc_id, (title, text)) in enumerate(beir.corpus.items()):
        # Ids that are not safe file names go in a subfolder, which no safe id can name: no collisions.
        name = f"{doc_id}.txt" if _SAFE_NAME.match(doc_id) and not doc_id.startswith(".") else f"other-ids/doc{n:07d}.txt"
        body = f"{title.strip()}\n\n{text.strip()}\n" if title.strip() else f"{text.strip()}\n"
        path = articles_dir / name
        data = body.encode("utf-8")
        if not (path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data):
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
        source_to_doc[name] = doc_id
    # A kept work folder may hold another corpus's files: they must not be indexed with this one.
    for path in articles_dir.rglob("*.txt"):
        if path.relative_to(articles_dir).as_posix() not in source_to_doc:
            path.unlink()
    return source_to_doc


def rank_documents(hits: Sequence["Hit"], source_to_doc: Mapping[str, str]) -> list[str]:
    """Documents in the order of their best passage (a collapsed hit ranks every place its text is in)."""
    ranked: list[str] = []
    seen: set[str] = set()
    for hit in hits:
        for source in hit.sources:
            doc = source_to_doc.get(source)
            if doc is not None and doc not in seen:
                seen.add(doc)
                ranked.append(doc)
    return ranked


@dataclass(frozen=True)
class RetrievalConfig:
    mode: str = "hybrid"
    fusion: str | None = None  # None: the Retriever's default
    alpha: float | None = None

    def options(self) -> dict:
        return {k: v for k, v in (("fusion", self.fusion), ("alpha", self.alpha)) if v is not None}


# Passages retrieved per query for document-level ranking: documents span a few passages each,
# and recall@100 needs a hundred distinct documents.
DEEP_K = 300


def score_rankings(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, recall@10, recall@100 and MRR@10 over the queries ranked."""
    n = max(len(rankings), 1)
    return {
        "ndcg@10": sum(ndcg_at_k(r, qrels[q], 10) for q, r in rankings.items()) / n,
        "recall@10": sum(recall_at_k(r, qrels[q], 10) for q, r in rankings.items()) / n,
        "recall@100": sum(recall_at_k(r, qrels[q], 100) for q, r in rankings.items()) / n,
        "mrr@10": sum(reciprocal_rank(r, qrels[q], 10) for q, r in rankings.items()) / n,
    }


def build_beir_index(beir: BeirSet, settings: "Settings", embedder: "Embedder", progress: Progress | None = None) -> tuple[dict[str, str], float]:
    """Write the corpus into settings.articles_dir and index it with the normal indexer.

    Returns (source -> doc id, seconds taken, writing included).
    """
    from .indexer import build_index

    started = time.perf_counter()
    source_to_doc = write_corpus(beir, settings.articles_dir)

    def on_progress(p) -> None:
        if progress and p.phase == "embed":
            progress(p.done, p.total)

    build_index(settings, embedder, progress=on_progress)
    return source_to_doc, time.perf_counter() - started


def retrieve_beir(
    beir: BeirSet,
    index,
    embedder: "Embedder",
    source_to_doc: Mapping[str, str],
    config: RetrievalConfig,
    query_ids: Sequence[str],
    progress: Progress | None = None,
) -> tuple[dict[str, list[str]], list[float]]:
    """(query id -> ranked doc ids, per-query milliseconds) with the Retriever the chat uses."""
    from .retrieval import Retriever

    retriever = Retriever(index, embedder, config.mode, **config.options())
    rankings: dict[str, list[str]] = {}
    times: list[float] = []
    for n, qid in enumerate(query_ids, start=1):
        started = time.perf_counter()
        hits = retriever.search(beir.queries[qid], DEEP_K, candidates=DEEP_K)
        times.append((time.perf_counter() - started) * 1000)
        rankings[qid] = rank_documents(hits, source_to_doc)
        if progress:
            progress(n, len(query_ids))
    return rankings, times


def beir_answers(assistant: "Assistant", beir: BeirSet, query_ids: Sequence[str], progress: Progress | None = None) -> dict:
    """Ask each query with gold answers (or known to be unanswerable) the way the chat would.

    answer_contains: the shown answer holds a gold answer; refusals are scored as in `qa eval questions`.
    """
    asked = [q for q in query_ids if q in beir.answers or q in beir.impossible]
    contains: list[bool] = []
    outcomes: list[tuple[bool, bool]] = []  # (answerable, refused)
    for n, qid in enumerate(asked, start=1):
        answer = assistant.ask(beir.queries[qid])
        if qid in beir.answers:
            contains.append(contains_answer(answer.text, beir.answers[qid], not answer.found))
        outcomes.append((qid in beir.answers, not answer.found))
        if progress:
            progress(n, len(asked))
    refusal = refusal_scores(outcomes)
    return {
        "answer_questions": len(contains),
        "unanswerable_questions": len(outcomes) - len(contains),
        "answer_contains": _round(_mean(contains)),
        "refusal_recall": _round(refusal.recall),
        "refusal_precision": _round(refusal.precision),
        "false_refusal_rate": _round(refusal.false_rate),
    }


def beir_report(beir: BeirSet, docs: int, rankings: Mapping[str, Sequence[str]], times: Sequence[float], index_seconds: float) -> dict:
    scores = score_rankings(rankings, beir.qrels)
    return {
        "dataset": beir.name,
        "docs": docs,
        "queries": len(rankings),
        "ndcg@10": round(scores["ndcg@10"], 4),
        "recall@10": round(scores["recall@10"], 4),
        "recall@100": round(scores["recall@100"], 4),
        "mrr@10": round(scores["mrr@10"], 4),
        "index_seconds": round(index_seconds, 2),
        "query_ms_p50": round(statistics.median(times), 2) if times else None,
    }


def make_assistant(settings: "Settings", embedder: "Embedder", config: RetrievalConfig) -> "Assistant":
    """The chat's Assistant; with a fusion or alpha given, one whose Retriever uses them."""
    from .assistant import Assistant
    from .retrieval import Retriever

    options = config.options()
    if not options:
        return Assistant(settings, embedder=embedder, mode=config.mode)

    class Configured(Assistant):
        def retriever(self, index=None) -> Retriever:
            return Retriever(index if index is not None else self.index(), self.embedder, self.mode, **options)

    return Configured(settings, embedder=embedder, mode=config.mode)
