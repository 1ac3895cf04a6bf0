"""The trained reader: shipped weights, the answers it picks and refuses, and the conversation around it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from qa.assistant import Assistant
from qa.conversation import Conversation
from qa.reader.runtime import Reader, ReaderDamaged
from qa.text import split_sentences

from .conftest import ROOT

def test_reader_loads_offline_and_qa_reader_turns_it_on(settings, monkeypatch, tiny):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert Assistant(settings).answerer.reader is None  # the rules stay the default until a reader beats them
    import qa.reader.runtime as runtime

    monkeypatch.setattr(runtime, "_DEFAULT", Reader(tiny[0]))
    reader = Assistant(settings.with_(reader="reader")).answerer.reader
    assert reader is runtime._DEFAULT
    scores = reader.scores("Who won the election?", [("Rufus Firefly won the election.", "Freedonia"), ("Turnout was high.", "")])
    assert len(scores) == 2


def test_a_missing_reader_model_says_what_to_do(tmp_path):
    with pytest.raises(ReaderDamaged) as err:
        Reader(tmp_path / "none").scores("Who won?", [("Firefly won.", "")])
    assert "make train-reader" in err.value.hint


def test_question_path_imports_neither_torch_nor_transformers(tiny):
    code = (
        f"import sys; from qa.reader.runtime import Reader; r = Reader({str(tiny[0])!r}); "
        "r.scores('Who won?', [('Firefly won the vote.', 'Freedonia')]); "
        "bad = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_damaged_weights_say_so_in_one_line(tmp_path, tiny):
    broken = tmp_path / "model"
    shutil.copytree(tiny[0], broken)
    data = bytearray((broken / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (broken / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ReaderDamaged) as err:
        Reader(broken).scores("Who won?", [("Firefly won.", "")])
    assert "damaged" in err.value.message and "\n" not in str(err.value)


def test_a_quotation_with_a_full_stop_stays_one_sentence():
    text = 'Trentino conceded, saying: "The people have spoken. I wish him well." Then he left the stage.'
    assert split_sentences(text) == ['Trentino conceded, saying: "The people have spoken. I wish him well."', "Then he left the stage."]
    curly = "\u201cWe are ready. We will host them,\u201d Erdo\u011fan said. Talks follow."
    assert split_sentences(curly)[0] == "\u201cWe are ready. We will host them,\u201d Erdo\u011fan said."


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """`python -m qa.reader.train --tiny` (what `make train-reader ARGS=--tiny` runs): the shipped slice, seconds."""
    out = tmp_path_factory.mktemp("reader") / "tiny"
    run = subprocess.run([sys.executable, "-m", "qa.reader.train", "--tiny", "--out", str(out)],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return out, run.stderr


def test_tiny_training_run_produces_a_loadable_model(tiny):
    out, log = tiny
    assert "training reader" in log  # the progress bar
    reader = Reader(out)
    scores = reader.scores("In what country is Normandy located?", [("Normandy is a region in France.", "Normans"), ("Rollo led them.", "Normans")])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
    assert reader.info["training"]["steps"] > 0


# ---------------------------------------------------------------- through the real path


@pytest.fixture(scope="module")
def seed_assistant(seed_index, real_embedder):
    a = Assistant(seed_index, embedder=real_embedder)
    yield a
    a.close()


@pytest.mark.slow
def test_a_typo_is_answered_as_the_correct_question(seed_assistant):
    right = seed_assistant.ask("Where did the foreign ministers meet?")
    typo = seed_assistant.ask("Where did the foregn ministers meet?")
    assert right.found and typo.found
    assert typo.sentences[0].text == right.sentences[0].text
    assert "Antalya" in typo.text


@pytest.mark.slow
def test_what_did_he_say_next_continues_without_repeating(seed_assistant):
    chat = Conversation()
    first = seed_assistant.ask("What did Erdoğan say in the televised interview?", chat)
    assert first.found
    shown = {s.text for s in first.sentences}
    lead = first.citations[first.sentences[0].citation - 1]
    after = seed_assistant.ask("What did he say next?", chat)
    assert after.found
    assert not shown & {s.text for s in after.sentences}
    cited = after.citations[0].passage
    assert cited.source == lead.passage.source
    assert (cited.paragraph, cited.char_start + after.citations[0].sentences[0][0]) > (lead.passage.paragraph, lead.passage.char_start + lead.sentences[0][0])
    again = seed_assistant.ask("Tell me more", chat)
    assert again.found and not ({s.text for s in again.sentences} & (shown | {s.text for s in after.sentences}))


@pytest.mark.slow
def test_and_russia_reasks_the_previous_question_about_the_new_subject(seed_assistant):
    chat = Conversation()
    seed_assistant.ask("What did Turkey offer to host?", chat)
    answer = seed_assistant.ask("And Russia?", chat)
    assert chat.turns[-1].asked == "What did Russia offer to host?"
    assert answer.query == "What did Russia offer to host?"
    # No article says Russia offered to host anything: Turkey's answer again would be wrong.
    assert not answer.found
    chat = Conversation()
    seed_assistant.ask("Who is Russia's foreign minister?", chat)
    answer = seed_assistant.ask("And Ukraine's?", chat)
    assert answer.found and "Kuleba of Ukraine" in answer.sentences[0].text


@pytest.mark.slow
def test_summary_intent_gives_the_lead_sentence_of_each_article(seed_assistant):
    answer = seed_assistant.ask("Summarize the articles")
    assert answer.found
    sources = [c.passage.source for c in answer.citations]
    assert len(sources) >= 3 and len(set(sources)) == len(sources)
    for s in answer.sentences:
        passage = answer.citations[s.citation - 1].passage
        assert s.text in passage.text
    assert len({s.text for s in answer.sentences}) == len(answer.sentences)


def test_a_real_word_no_article_uses_is_not_corrected_into_one_they_do():
    """"react" is not a typo of "reach": only words the model's vocabulary does not know are corrected."""
    from qa.spelling import correct
    from qa.text import stem

    class Index:
        vocabulary = {stem(w): 3 for w in ("reach", "foreign", "ministers", "meet", "moscow", "party")}

        def document_frequencies(self, terms):
            return {t: self.vocabulary.get(t, 0) for t in terms}

    assert correct("How did Moscow react to that?", Index()) == "How did Moscow react to that?"
    assert correct("Is Turkey part of NATO?", Index()) == "Is Turkey part of NATO?"
    assert correct("Where did the foregn ministers meet?", Index()) == "Where did the foreign ministers meet?"
