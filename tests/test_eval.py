"""`qa eval`: the metric functions against hand-computed cases, and both commands with the fake embedder."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from qa import cli_eval
from qa.cli import cli
from qa.conversation import Conversation
from qa.evaluation import (
    Question,
    ask_items,
    contains_answer,
    ndcg_at_k,
    parse_question_set,
    recall_at_k,
    reciprocal_rank,
    refusal_scores,
    score_answer,
    source_rank,
    summarize_questions,
)

QUESTION_KEYS = {"questions", "answerable", "unanswerable", "source_hit@1", "source_hit@3", "source_hit@5", "mrr",
                 "answer_contains", "refusal_recall", "refusal_precision", "false_refusal_rate", "failures"}
BEIR_KEYS = {"dataset", "docs", "queries", "ndcg@10", "recall@10", "recall@100", "mrr@10", "index_seconds", "query_ms_p50"}


# ---------------------------------------------------------------- metrics by hand


def test_ndcg_with_graded_relevance():
    relevance = {"d1": 0, "d2": 2, "d3": 1, "d4": 2}
    # ranked d1 d2 d3: gains 0, 2, 1 at ranks 1..3; the ideal order has gains 2, 2, 1.
    dcg = 0 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    ideal = 2 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(["d1", "d2", "d3"], relevance, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["d1", "d2", "d3"], relevance, 10) == pytest.approx(0.46835, abs=1e-5)
    # The cut-off applies to the ranking and to the ideal alike.
    assert ndcg_at_k(["d2", "d4", "d3"], relevance, 2) == pytest.approx(1.0)
    assert ndcg_at_k(["d1", "d2"], relevance, 1) == 0.0
    assert ndcg_at_k(["d4", "d2", "d3"], relevance, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], {"d1": 0}, 10) == 0.0  # nothing relevant: 0, not a division by zero


def test_recall_counts_only_relevant_grades():
    relevance = {"d1": 0, "d2": 2, "d3": 1, "d4": 2}
    assert recall_at_k(["d1", "d2"], relevance, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["d1", "d2", "d3", "d4"], relevance, 10) == pytest.approx(1.0)
    assert recall_at_k(["d1", "d2", "d3", "d4"], relevance, 1) == 0.0


def test_reciprocal_rank():
    relevance = {"d2": 1, "d3": 1}
    assert reciprocal_rank(["d1", "d2", "d3"], relevance) == 0.5
    assert reciprocal_rank(["d1", "d2", "d3"], relevance, 1) == 0.0
    assert reciprocal_rank(["d3"], relevance, 10) == 1.0
    assert reciprocal_rank(["d9"], relevance, 10) == 0.0


def test_refusal_precision_recall_and_false_refusals():
    # (answerable, refused)
    outcomes = [(True, False), (True, True), (False, True), (False, False), (False, True)]
    scores = refusal_scores(outcomes)
    assert scores.recall == pytest.approx(2 / 3)  # 2 of 3 unanswerable refused
    assert scores.precision == pytest.approx(2 / 3)  # 2 of 3 refusals were right
    assert scores.false_rate == pytest.approx(1 / 2)  # 1 of 2 answerable refused
    none = refusal_scores([(True, False)])
    assert none.precision is None and none.recall is None and none.false_rate == 0.0


def test_source_hit_matches_file_names_at_a_path_boundary():
    retrieved = [["news/x.txt"], ["b.txt", "archive/002.txt"], ["002.txt"]]
    assert source_rank(retrieved, ["002.txt"]) == 2  # a collapsed hit counts for every place its text is in
    assert source_rank(retrieved, ["x.txt"]) == 1
    assert source_rank([["x002.txt"]], ["002.txt"]) is None
    assert source_rank(retrieved, ["nope.txt"]) is None


def test_answer_contains_is_case_insensitive_and_refusals_never_count():
    assert contains_answer("They met in ANTALYA. [1]", ["antalya"], refused=False)
    assert not contains_answer("They met in Antalya.", ["antalya"], refused=True)
    assert not contains_answer("They met in Geneva.", ["Antalya", "Istanbul"], refused=False)


def test_summary_over_answerable_and_unanswerable():
    a = Question("Where?", "a", True, ("Antalya",), ("002.txt",))
    b = Question("When?", "b", True, ("March",), ("004.txt",))
    u = Question("Who won?", "u", False)
    outcomes = [
        score_answer(a, "In Antalya [1]", False, [["001.txt"], ["002.txt"]]),  # rank 2
        score_answer(b, "", True, [["004.txt"]]),  # rank 1 but refused
        score_answer(u, "", True, [["003.txt"]]),
    ]
    report = summarize_questions(outcomes)
    assert set(report) == QUESTION_KEYS
    assert (report["questions"], report["answerable"], report["unanswerable"]) == (3, 2, 1)
    assert report["source_hit@1"] == 0.5 and report["source_hit@3"] == 1.0
    assert report["mrr"] == pytest.approx(0.75)
    assert report["answer_contains"] == 0.5
    assert report["refusal_recall"] == 1.0 and report["refusal_precision"] == 0.5 and report["false_refusal_rate"] == 0.5
    assert [f["id"] for f in report["failures"]] == ["b"]
    assert set(report["failures"][0]) == {"id", "question", "expected", "got"}


# ---------------------------------------------------------------- question sets


def test_question_set_format():
    items = parse_question_set([
        '{"id": "s01", "question": "Where did they meet?", "answer_contains": ["Antalya"], "sources": ["002.txt"]}',
        "",
        '{"id": "u01", "question": "Who won the World Cup?", "answerable": false}',
        '{"id": "c01", "turns": [{"question": "Who is the spokesperson?"}, {"question": "Which channel interviewed him?", "answer_contains": ["A Haber"]}]}',
    ])
    assert [i.id for i in items] == ["s01", "u01", "c01"]
    assert items[0].turns[0].answerable and not items[1].turns[0].answerable
    c = items[2]
    assert c.conversation and [t.scored for t in c.turns] == [False, True]
    assert c.turns[1].id == "c01#2"


@pytest.mark.parametrize("line,message", [
    ("{not json", "line 1 is not JSON"),
    ('{"id": "x"}', "non-empty \"question\""),
    ('{"question": "q", "sources": 3}', "sources must be a list"),
    ('{"turns": []}', "non-empty list"),
    ('{"id": "x", "question": "???"}', "no words in it"),
])
def test_question_set_errors_name_the_line(line, message):
    from qa.evaluation import BadEvalData

    with pytest.raises(BadEvalData, match=message):
        parse_question_set([line])


class SpyAssistant:
    """Records which conversation each question was asked in, and what it held at that moment."""

    def __init__(self):
        self.calls = []

    def ask(self, question, conversation=None):
        from qa.answer import Answer
        from qa.conversation import Turn

        self.calls.append((question, id(conversation), len(conversation.turns) if conversation else None))
        if conversation is not None:
            conversation.add(Turn(question, question, "x", True))
        return Answer(question, True, (), (), ())


def test_conversation_turns_share_one_chat_and_single_questions_get_a_fresh_one():
    items = parse_question_set([
        '{"id": "s1", "question": "One?"}',
        '{"id": "c1", "turns": [{"question": "First?"}, {"question": "Second?", "answer_contains": ["x"]}]}',
        '{"id": "s2", "question": "Two?"}',
    ])
    spy = SpyAssistant()
    outcomes = ask_items(spy, items)
    questions = [c[0] for c in spy.calls]
    assert questions == ["One?", "First?", "Second?", "Two?"]  # in order
    assert spy.calls[2][1] == spy.calls[1][1] and spy.calls[2][2] == 1  # the follow-up sees the first turn
    assert all(c[2] == 0 for i, c in enumerate(spy.calls) if i != 2)  # everything else starts a new chat
    assert [o.question.id for o in outcomes] == ["s1", "c1#2", "s2"]  # only scored turns count
    assert isinstance(Conversation(), Conversation)


# ---------------------------------------------------------------- the commands, with the fake embedder


@pytest.fixture
def fake_model(monkeypatch, fake):
    monkeypatch.setattr(cli_eval, "_embedder", lambda settings: fake)
    # Word hashing in 64 dimensions has no sense of phrasing: overview / "tell me more" requests are told
    # apart by the real model only (tests/test_reader.py).
    monkeypatch.setenv("QA_INTENTS", "0")
    return fake


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_eval_questions_json_on_the_seed_articles(seeded, fake_model, tmp_path):
    qs = tmp_path / "q.jsonl"
    qs.write_text("\n".join([
        json.dumps({"id": "s1", "question": "Where did foreign ministers Lavrov and Kuleba meet for talks?",
                    "answer_contains": ["Antalya"], "sources": ["002_45dc96f4cd72d57e.txt"]}),
        json.dumps({"id": "u1", "question": "What is the boiling point of water at sea level?", "answerable": False}),
        json.dumps({"id": "c1", "turns": [{"question": "Who is Turkey's presidential spokesperson?"},
                                          {"question": "Which channel interviewed him?", "sources": ["003_80d590a6b506e82e.txt"]}]}),
    ]) + "\n", encoding="utf-8")
    assert not (seeded.index_dir / "CURRENT").exists()
    r = run("eval", "questions", str(qs), "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert set(report) == QUESTION_KEYS
    assert (report["questions"], report["answerable"], report["unanswerable"]) == (3, 2, 1)
    assert report["source_hit@5"] == 1.0
    assert report["refusal_recall"] == 1.0
    assert (seeded.index_dir / "CURRENT").exists()  # built because it was missing

    r = run("eval", "questions", str(qs))
    assert r.exit_code == 0
    assert "source_hit@5" in r.output and "refusal_recall" in r.output
    assert "3 scored questions (2 answerable, 1 unanswerable)" in r.output


def test_eval_questions_reports_failures(seeded, fake_model, tmp_path):
    qs = tmp_path / "q.jsonl"
    qs.write_text(json.dumps({"id": "w1", "question": "Where did the foreign ministers meet?",
                              "answer_contains": ["Reykjavik"], "sources": ["nowhere.txt"]}) + "\n")
    r = run("eval", "questions", str(qs))
    assert r.exit_code == 0
    assert "Failures (1):" in r.output and "w1: Where did the foreign ministers meet?" in r.output
    assert "'Reykjavik'" in r.output
    report = json.loads(run("eval", "questions", str(qs), "--json").output)
    assert report["source_hit@5"] == 0.0 and report["answer_contains"] == 0.0
    assert report["failures"][0]["id"] == "w1"


def test_eval_questions_bad_file_is_one_line(seeded, fake_model, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "fine"}\n{oops\n')
    r = run("eval", "questions", str(bad))
    assert r.exit_code == 1
    assert r.output.startswith("Error: bad.jsonl line 2 is not JSON") and "Traceback" not in r.output
    r = run("eval", "questions", str(tmp_path / "missing.jsonl"))
    assert r.exit_code == 1 and "No question set" in r.output


@pytest.fixture
def tiny_beir(tmp_path):
    root = tmp_path / "tiny"
    (root / "qrels").mkdir(parents=True)
    docs = [
        ("d1", "Volcanoes of Iceland", "Eruptions of lava and ash from Icelandic volcanoes disrupt flights across Europe."),
        ("d2", "Honey bees", "Bee colonies collapse when pesticides weaken the foraging workers of the hive."),
        ("d3", "Tidal power", "Turbines placed in estuaries convert tidal currents into electricity for coastal towns."),
        ("d4", "", "Lava flows from volcanoes cool into basalt over many years."),
    ]
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs))
    queries = [("q1", "volcanoes lava eruptions flights"), ("q2", "pesticides bee colonies collapse"), ("q3", "unjudged query")]
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td4\t1\nq2\td2\t1\n")
    return root


def test_eval_beir_json(tiny_beir, fake_model, settings):
    r = run("eval", "beir", str(tiny_beir), "--retriever", "keyword", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert set(report) == BEIR_KEYS
    assert (report["dataset"], report["docs"], report["queries"]) == ("tiny", 4, 2)  # q3 has no judgments
    assert report["ndcg@10"] == 1.0 and report["recall@10"] == 1.0 and report["mrr@10"] == 1.0
    assert not (settings.index_dir / "CURRENT").exists()  # a temporary index, not the user's

    for mode in ("dense", "hybrid"):
        report = json.loads(run("eval", "beir", str(tiny_beir), "--retriever", mode, "--limit", "1", "--json").output)
        assert report["queries"] == 1 and report["recall@100"] == 1.0
    report = json.loads(run("eval", "beir", str(tiny_beir), "--fusion", "convex", "--alpha", "0.3", "--json").output)
    assert report["recall@10"] == 1.0


def test_eval_beir_table_and_errors(tiny_beir, fake_model, tmp_path):
    r = run("eval", "beir", str(tiny_beir), "--work-dir", str(tmp_path / "work"))
    assert r.exit_code == 0
    assert "tiny (test): 4 documents, 2 judged queries; hybrid retrieval" in r.output and "ndcg@10" in r.output
    assert (tmp_path / "work" / "index" / "CURRENT").exists()  # kept for the next run
    r = run("eval", "beir", str(tiny_beir), "--split", "dev")
    assert r.exit_code == 1 and "no qrels/dev.tsv" in r.output and "Splits there: test" in r.output
    r = run("eval", "beir", str(tiny_beir), "--answers")
    assert r.exit_code == 1 and "answers.jsonl" in r.output
    assert run("eval", "beir", str(tiny_beir), "--retriever", "magic").exit_code == 2


def test_eval_beir_bad_files_are_one_line_each(tiny_beir, fake_model):
    corpus = tiny_beir / "corpus.jsonl"
    good = corpus.read_bytes()
    for content, message in [(b'{"title": "no id"}\n', "line 1 is not an object"), (b"[1, 2]\n", "line 1 is not an object"),
                             (b'{"_id": "d1", "text": "caf\xe9"}\n', "is not UTF-8")]:
        corpus.write_bytes(content)
        r = run("eval", "beir", str(tiny_beir), "--json")
        assert r.exit_code == 1 and message in r.output, r.output
    corpus.write_bytes(good)
    (tiny_beir / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\nq1\td\xe91\t1\n")
    r = run("eval", "beir", str(tiny_beir), "--json")
    assert r.exit_code == 1 and "test.tsv is not UTF-8" in r.output, r.output


def test_eval_beir_ids_that_are_not_file_names_do_not_collide(tmp_path, fake_model):
    root = tmp_path / "odd"
    (root / "qrels").mkdir(parents=True)
    docs = [("doc0000001", "Volcanoes erupt lava and ash over Iceland."), ("a/b", "Bees collapse under pesticides in hives.")]
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in docs))
    (root / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "pesticides bees hives collapse"}) + "\n")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\ta/b\t1\n")
    report = json.loads(run("eval", "beir", str(root), "--retriever", "keyword", "--json").output)
    assert report["docs"] == 2 and report["ndcg@10"] == 1.0


# ---------------------------------------------------------------- the quantity check in answers


def _hit(text):
    from qa.documents import Passage
    from qa.retrieval import Hit

    return Hit(Passage("a.txt", 1, 1, 1, 0, len(text), text), 0.8, 0.8, 5.0)


def test_how_many_is_refused_when_no_sentence_holds_a_number():
    from qa.answer import Answerer

    question = "How many drones has Turkey sold to Ukraine?"
    vague = Answerer().compose(question, [_hit("Turkey has sold drones to Ukraine, which angered Moscow a great deal.")])
    assert not vague.found
    exact = Answerer().compose(question, [_hit("Turkey has sold 20 drones to Ukraine, which angered Moscow a great deal.")])
    assert exact.found and "20 drones" in exact.text
    # Other questions are not held to a shape.
    assert Answerer().compose("What has Turkey sold to Ukraine?", [_hit("Turkey has sold drones to Ukraine, which angered Moscow a great deal.")]).found


def test_a_wordy_follow_up_is_not_answered_from_the_previous_turn_alone():
    from qa.answer import Answerer

    harbour = _hit("The harbour in Izmir reopened on Monday after two years of repairs to the sea wall.")
    context = ["harbour", "izmir", "reopen"]
    # Rare context words outweigh the question's common ones, as in a real index.
    answerer = Answerer(idf={"harbour": 5.0, "izmir": 5.0, "reopen": 5.0})
    unrelated = answerer.compose("What did he say about the foreign ministers meeting in Antalya?", [harbour], context_terms=context)
    assert not unrelated.found
    # A short follow-up leans on the context by nature.
    assert answerer.compose("On which day?", [harbour], context_terms=context).found
    assert answerer.compose("What did he say about the repairs to the sea wall?", [harbour], context_terms=context).found
