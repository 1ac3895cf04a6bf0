"""BEIR retrieval benchmarks (SciFact, SQuAD 2.0 in BEIR layout): load a set, index its corpus with the normal
indexer, retrieve with the chat's Retriever, score rankings and, for SQuAD, the answers. The metrics themselves are
in qa/evaluation.py.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .evaluation import BadEvalData, Progress, _mean, _round, contains_answer, ndcg_at_k, recall_at_k, reciprocal_rank, refusal_scores

if TYPE_CHECKING:
    from .assistant import Assistant
    from .config import Settings
    from .embedding import Embedder
    from .retrieval import Hit


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
