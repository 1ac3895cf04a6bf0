#!/usr/bin/env python3
"""Choose the reader's answer settings on development data only: the development half of the held-out SQuAD
articles (`--part dev`) and tests/data/questions_dev.jsonl. Prints one line per setting; docs/evaluation.md
("Reader") says which was kept and why.

    .venv/bin/python bench/reader_sweep.py [--squad ../shared/bench/squad_v2.0_dev] [--work /tmp/qa-sweep]

Retrieval runs once per question; reader scores are cached, so each setting costs only the composition.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class CachedReader:
    def __init__(self, reader) -> None:
        self.reader = reader
        self.memo: dict = {}

    def scores(self, question, candidates):
        missing = [c for c in candidates if (question, c) not in self.memo]
        if missing:
            for c, s in zip(missing, self.reader.scores(question, missing)):
                self.memo[(question, c)] = s
        return [self.memo[(question, c)] for c in candidates]


def squad_cases(squad: Path, work: Path, part: str, limit: int | None):
    """(question, gold answers or None, hits) for the part's questions, retrieved like the chat retrieves."""
    from qa.assistant import Assistant, _idf
    from qa.cli_eval import _squad_part
    from qa.config import load_settings
    from qa.embedding import make_embedder
    from qa.beir import build_beir_index, load_beir
    from qa.text import words

    data = _squad_part(load_beir(squad, "test_incl_unanswerable", with_answers=True), squad, part)
    settings = load_settings().with_(articles_dir=(work / "articles").resolve(), index_dir=(work / "index").resolve())
    embedder = make_embedder()
    build_beir_index(data, settings, embedder)
    assistant = Assistant(settings, embedder=embedder)
    index = assistant.index()
    cases = []
    for qid in list(data.queries)[:limit]:
        q = data.queries[qid]
        hits = assistant.retriever(index).search(q, settings.k)
        idf = _idf(index, tuple(sorted(set(words(q)))))
        cases.append((q, data.answers.get(qid), hits, idf))
    return cases


def squad_outcomes(answerer, cases) -> list[tuple[bool, bool, bool, float]]:
    """(answerable, contains gold, found, confidence) per question."""
    from qa.evaluation import contains_answer

    out = []
    for q, gold, hits, idf in cases:
        answerer.idf = idf
        a = answerer.compose(q, hits)
        out.append((gold is not None, bool(gold) and contains_answer(a.text, gold, not a.found), a.found, a.confidence))
    return out


def question_outcomes(assistant, path: Path) -> list[tuple[bool, bool, bool, float]]:
    """The same for a question set, every question through Assistant.ask (conversations in one chat)."""
    from qa.conversation import Conversation
    from qa.evaluation import contains_answer, load_question_set

    out = []
    for item in load_question_set(path):
        chat = Conversation()
        for q in item.turns:
            a = assistant.ask(q.question, chat)
            if q.scored:
                ok = bool(q.answer_contains) and contains_answer(a.text, q.answer_contains, not a.found)
                out.append((q.answerable, ok or (q.answerable and not q.answer_contains and a.found), a.found, a.confidence))
    return out


def at_threshold(outcomes, t: float) -> dict:
    """answer_contains over answerable, refusal precision/recall, false refusals, refusing below t."""
    ans = [o for o in outcomes if o[0]]
    una = [o for o in outcomes if not o[0]]
    refused = lambda o: (not o[2]) or o[3] < t  # noqa: E731
    ac = sum(1 for o in ans if o[1] and not refused(o)) / max(1, len(ans))
    rr = sum(1 for o in una if refused(o)) / max(1, len(una))
    fr = sum(1 for o in ans if refused(o)) / max(1, len(ans))
    n_ref = sum(1 for o in outcomes if refused(o))
    rp = sum(1 for o in una if refused(o)) / n_ref if n_ref else 0.0
    return {"ac": ac, "rp": rp, "rr": rr, "fr": fr}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--squad", type=Path, default=ROOT.parent / "shared" / "bench" / "squad_v2.0_dev")
    ap.add_argument("--work", type=Path, default=Path("/tmp/qa-sweep"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--questions", type=Path, default=ROOT / "tests" / "data" / "questions_dev.jsonl")
    ap.add_argument("--reader", type=Path, default=None, help="a trained reader folder (default: the shipped one)")
    ap.add_argument("--part", default="dev", help="SQuAD held-out half: dev (choose here) or test (report only)")
    ap.add_argument("--weights", default="0,0.5,1,2", help="rule weights to try")
    args = ap.parse_args()

    from qa.answer import Answerer
    from qa.assistant import Assistant
    from qa.config import load_settings
    from qa.reader.runtime import Reader

    reader = CachedReader(Reader(args.reader))
    cases = squad_cases(args.squad, args.work, args.part, args.limit)
    print(f"SQuAD {args.part} half: {len(cases)} questions, {sum(1 for c in cases if c[1])} answerable", flush=True)
    print("rules alone, squad:", _fmt(at_threshold(squad_outcomes(Answerer(), cases), -1e9)), flush=True)
    assistant = Assistant(load_settings())
    assistant.answerer = Answerer()
    print("rules alone, questions_dev:", _fmt(at_threshold(question_outcomes(assistant, args.questions), -1e9)), flush=True)
    grid = {
        "use_coverage": [False, True],
        "require_shape": [True, False],
        "rule_weight": [float(w) for w in args.weights.split(",")],
    }
    thresholds = [-3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values))
        sq = squad_outcomes(Answerer(reader=reader, min_logit=-1e9, **params), cases)
        assistant.answerer = Answerer(reader=reader, min_logit=-1e9, **params)
        qd = question_outcomes(assistant, args.questions)
        for t in thresholds:
            print(params, f"t={t}", "squad", _fmt(at_threshold(sq, t)), "| dev", _fmt(at_threshold(qd, t)), flush=True)
    return 0


def _fmt(d: dict) -> str:
    return " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


if __name__ == "__main__":
    sys.exit(main())
