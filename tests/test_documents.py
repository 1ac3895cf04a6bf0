"""Reading and splitting articles: the seeds' real layouts, and every kind of bad file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.documents import MAX_PASSAGE_PIECES, Skipped, discover, parse_document, read_document
from qa.text import estimate_wordpieces

from .conftest import SEEDS


def doc(name: str):
    d = parse_document(name, (SEEDS / name).read_bytes())
    assert not isinstance(d, Skipped)
    return d


def test_line_numbers_and_offsets_point_at_the_file():
    for path in sorted(SEEDS.glob("*.txt")):
        d = doc(path.name)
        file_lines = path.read_text(encoding="utf-8").split("\n")
        for p in d.passages:
            first_line = p.text.split("\n")[0]
            assert first_line in file_lines[p.line_start - 1], (path.name, p.paragraph)
            assert p.text.split("\n")[-1] in file_lines[p.line_end - 1]
            if "\n" not in p.text:
                assert d.text[p.char_start : p.char_end] == p.text


def test_headline_and_caption_form_the_first_passage_and_title():
    d = doc("002_45dc96f4cd72d57e.txt")
    assert d.title == "Erdoğan, Zelenskyy discuss latest situation in Russia talks"
    first = d.passages[0]
    assert (first.line_start, first.line_end) == (1, 2)
    assert "(EPA Photo)" in first.text
    assert all(p.title == d.title for p in d.passages)


def test_page_debris_is_dropped_and_date_line_read():
    d = doc("001_8cc1a95700f228bc.txt")
    assert d.date == "2022-01-19"
    assert d.title == "Turkey invites Russia & Ukraine for peace talks"
    joined = "\n".join(p.text for p in d.passages)
    assert "bookmarkicon" not in joined
    assert "19 Jan, 2022" not in joined
    # The layout repeats the headline; it appears once.
    assert joined.count("Turkey invites Russia & Ukraine for peace talks") == 1
    assert d.passages[0].line_start == 4


def test_date_prefix_is_metadata_and_rest_of_line_is_text():
    d = doc("000_c9eb9812ba506bbc.txt")
    assert d.date == "2022-01-26"
    first = d.passages[0]
    assert first.line_start == 1
    assert first.text.startswith('"We are ready to host presidents')
    assert "date 2022" not in first.text


def test_long_paragraph_is_split_at_sentences_without_losing_text():
    sentences = [f"Sentence number {i} talks about the harbour, the ministers and the talks in Antalya." for i in range(60)]
    text = "Headline of the story\n\n" + " ".join(sentences) + "\n\nA closing paragraph with enough words to stand alone here.\n"
    d = parse_document("long.txt", text.encode())
    body = [p for p in d.passages if "Sentence number" in p.text]
    assert len(body) > 1
    assert all(estimate_wordpieces(p.text) <= MAX_PASSAGE_PIECES for p in d.passages)
    for sentence in sentences:  # nothing lost, nothing duplicated
        assert sum(sentence in p.text for p in body) == 1
    assert body[0].text.startswith("Headline of the story\n")  # the tiny headline joined its neighbour
    for p in body:
        assert p.text.endswith("Antalya.")  # cut at sentence ends
    for p in body[1:]:
        assert d.text[p.char_start : p.char_end] == p.text
        assert p.line_start == p.line_end == 3


def test_one_giant_sentence_is_split_at_words():
    text = "and the minister spoke again " * 400  # 2,000 words, no full stop anywhere
    d = parse_document("giant.txt", text.encode())
    assert len(d.passages) > 1
    assert all(estimate_wordpieces(p.text) <= MAX_PASSAGE_PIECES for p in d.passages)
    assert sum(len(p.text.split()) for p in d.passages) == 2000


def test_tiny_fragments_merge_with_a_neighbour():
    text = "Short bit.\n\nThis is a proper paragraph with quite a few words in it to stand alone.\n\nEnd.\n"
    d = parse_document("tiny.txt", text.encode())
    assert len(d.passages) == 1
    assert d.passages[0].line_start == 1 and d.passages[0].line_end == 5
    assert "Short bit." in d.passages[0].text and "End." in d.passages[0].text


def test_markdown_front_matter_and_heading():
    text = "---\ntitle: x\ndate: 2023-05-04\n---\n# The Harbour Reopens\n\nThe harbour in the old town reopened on Monday after two years of repairs.\n"
    d = parse_document("a.md", text.encode())
    assert d.date == "2023-05-04"
    assert d.title == "The Harbour Reopens"
    assert d.passages[0].line_start == 5


# ---------------------------------------------------------------- encodings and hygiene


def test_cp1252_file_reads_without_mojibake():
    raw = "The minister\u2019s caf\u00e9 \u201cdiplomacy\u201d was praised in Z\u00fcrich by many delegates today.".encode("cp1252")
    d = parse_document("legacy.txt", raw)
    assert "minister\u2019s caf\u00e9 \u201cdiplomacy\u201d" in d.passages[0].text
    assert "Z\u00fcrich" in d.passages[0].text


def test_utf8_bom_and_utf16_are_read():
    text = "Çavuşoğlu said the meeting in Antalya would take place next week in the resort."
    assert parse_document("bom.txt", b"\xef\xbb\xbf" + text.encode()).passages[0].text == text
    assert parse_document("u16.txt", text.encode("utf-16")).passages[0].text == text


def test_escape_sequences_and_controls_are_removed():
    raw = "Red \x1b[31malert\x1b[0m and \x1b]0;title\x07a bell\x07 here, with enough words to be a paragraph.".encode()
    d = parse_document("esc.txt", raw)
    assert "\x1b" not in d.text and "\x07" not in d.text
    assert "Red alert and a bell here" in d.passages[0].text


# ---------------------------------------------------------------- bad files are skipped with a reason


def _write(root: Path, name: str, data: bytes) -> Path:
    p = root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def test_each_bad_file_kind_is_skipped_and_the_rest_indexed(settings, monkeypatch):
    root = settings.articles_dir
    good = "A perfectly ordinary article paragraph about the harbour and the town council."
    _write(root, "good.txt", good.encode())
    _write(root, "nested/deeper/also.md", good.encode())
    _write(root, "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR")
    _write(root, "empty.txt", b"")
    _write(root, "blank.txt", b"   \n\n  \n")
    _write(root, "huge.txt", b"word " * 5000)
    _write(root, "secret.txt", good.encode())
    _write(root, "image.png", b"\x00\x01")  # not an article type: ignored silently
    os.symlink(root / "missing-target.txt", root / "dangling.txt")

    entries, skipped = discover(root, max_bytes=10_000)
    reasons = {s.path: s.reason for s in skipped}
    assert "larger than" in reasons["huge.txt"]
    assert reasons["empty.txt"] == "empty file"
    assert reasons["dangling.txt"] == "broken symbolic link"
    assert "image.png" not in reasons

    real_read = Path.read_bytes

    def deny(self):
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    results = {e.source: read_document(e) for e in entries}
    assert isinstance(results["binary.txt"], Skipped) and "binary" in results["binary.txt"].reason
    assert isinstance(results["blank.txt"], Skipped) and "empty" in results["blank.txt"].reason
    assert isinstance(results["secret.txt"], Skipped) and "permission" in results["secret.txt"].reason
    assert results["good.txt"].passages[0].text == good
    assert results["nested/deeper/also.md"].passages[0].source == "nested/deeper/also.md"


@pytest.mark.slow
def test_passages_fit_the_real_tokenizer_window(real_embedder):
    """The estimate is conservative: no passage is truncated by the model."""
    texts = [p.text for f in sorted(SEEDS.glob("*.txt")) for p in doc(f.name).passages]
    long_text = " ".join(f"Delegates from Kyiv and Moscow discussed corridor {i}, sanctions and İstanbul's role." for i in range(80))
    texts += [p.text for p in parse_document("long.txt", long_text.encode()).passages]
    texts += [p.text for p in parse_document("g.txt", ("Ünïcödé wörds ağır " * 400).encode()).passages]
    for t in texts:
        assert real_embedder.tokenize_length(t) <= real_embedder.max_tokens, t[:80]
