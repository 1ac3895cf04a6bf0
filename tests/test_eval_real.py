"""Quality floors with the real model: the shipped question sets, and a small SciFact run.

Each floor sits about 0.03 below the figure measured when it was set (docs/evaluation.md), so
quality cannot fall silently; raise them when the figures rise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import cli_eval
from qa.cli import cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"
DEV_QUESTIONS = ROOT / "tests" / "data" / "questions_dev.jsonl"

# Measured (hybrid, the defaults: convex fusion, alpha 0.5) -> floor. The refusal figures are held at
# the targets themselves (recall 0.8, false refusals 0.05): one more unanswerable question answered fails CI.
FLOORS = {
    QUESTIONS: {
        "source_hit@1": 0.90,  # 0.931
        "source_hit@5": 0.97,  # 1.000
        "mrr": 0.93,  # 0.966
        "answer_contains": 0.90,  # 0.932; 0.915 since typo correction leaves real words alone
        "refusal_recall": 0.80,  # 0.824
        "refusal_precision": 0.90,  # 0.933; 1.000 now
    },
    # The set the refusal thresholds were chosen on; below target on recall, and held where it is.
    DEV_QUESTIONS: {
        "source_hit@1": 0.91,  # 0.944
        "source_hit@5": 0.97,  # 1.000
        "mrr": 0.94,  # 0.972
        "answer_contains": 0.87,  # 0.907; 0.926; 0.907 since typo correction leaves real words alone
        "refusal_recall": 0.63,  # 0.636
        "refusal_precision": 0.84,  # 0.875
    },
}
CEILINGS = {QUESTIONS: {"false_refusal_rate": 0.05}, DEV_QUESTIONS: {"false_refusal_rate": 0.05}}  # 0.017, 0.037
# Hybrid on the first 30 SciFact test queries over their judged documents and the first 300 others.
HYBRID_NDCG_FLOOR = 0.88  # 0.912


@pytest.fixture
def real_model(monkeypatch, real_embedder):
    monkeypatch.setattr(cli_eval, "_embedder", lambda settings: real_embedder)


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("questions", [QUESTIONS, DEV_QUESTIONS], ids=["scored", "dev"])
def test_question_set_holds_its_floors(seed_index, real_model, questions):
    r = run("eval", "questions", str(questions), "--articles", str(seed_index.articles_dir),
            "--index", str(seed_index.index_dir), "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["answerable"] >= 35 and report["unanswerable"] >= 12
    for key, floor in FLOORS[questions].items():
        assert report[key] >= floor, (key, report[key], report["failures"])
    for key, ceiling in CEILINGS[questions].items():
        assert report[key] <= ceiling, (key, report[key], report["failures"])


SHIPPED_SCIFACT30 = ROOT / "tests" / "data" / "scifact30"


def test_small_scifact_hybrid_beats_its_floor(real_model):
    # The slice ships with the tests: a clean CI machine has no ../shared.
    r = run("eval", "beir", str(SHIPPED_SCIFACT30), "--retriever", "hybrid", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["queries"] == 30
    assert report["ndcg@10"] >= HYBRID_NDCG_FLOOR, report
