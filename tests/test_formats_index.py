"""A mixed folder (text, web pages, PDFs, Word files, bad files) through the real indexer, CLI and model."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from qa.assistant import Assistant
from qa.cli import cli

from .conftest import SEEDS, FakeEmbedder
from .format_files import BOILERPLATE, docx_bytes, news_html, pdf_bytes, scanned_pdf_bytes, write, zip_bomb_docx

GRAIN = [
    "The first ship carrying Ukrainian grain since the invasion left the port of Odesa on Monday morning, bound for Lebanon, under a deal brokered by Turkey and the United Nations.",
    "Officials said the Razoni was carrying 26,000 tonnes of corn and would be inspected in Istanbul before continuing its voyage to Tripoli.",
    "The deal, signed in Istanbul in July, created a safe corridor through the Black Sea for cargo ships and set up a joint centre to monitor them.",
]
WIND = [
    ["The energy ministry published its annual review of new power projects across the western provinces on Tuesday, "
     "listing solar parks, hydro plants and grid upgrades that were finished during the year."],
    ["The new wind farm near Izmir will produce 450 megawatts of electricity when its last turbines are connected next spring, "
     "the operator said, enough for about 300,000 homes."],
    ["A second report covers the coal plants scheduled to close before the end of the decade and the jobs programme "
     "planned for the mining towns affected by the closures."],
]
MEMO = [
    ("Title", "Corridor committee minutes"),
    ("", "The committee met in Istanbul on Tuesday to review the first month of the grain corridor and heard reports from the inspectors."),
    ("Heading 1", "Decision"),
    ("", "After a long debate the committee agreed to extend the corridor agreement by four months, starting in November."),
]


def mixed_folder(settings) -> None:
    for f in SEEDS.glob("*.txt"):
        shutil.copy(f, settings.articles_dir / f.name)
    a = settings.articles_dir
    write(a, "web/grain.html", news_html("First grain ship leaves Odesa", GRAIN, date="2022-08-01"))
    write(a, "reports/energy.pdf", pdf_bytes(WIND, title="Energy review", header="Ministry of Energy - Annual review"))
    write(a, "memo.docx", docx_bytes(MEMO))
    good = pdf_bytes(WIND)
    write(a, "bad/secret.pdf", pdf_bytes(WIND, password="s3cret"))
    write(a, "bad/cut.pdf", good[: len(good) // 2])
    write(a, "bad/scan.pdf", scanned_pdf_bytes())
    write(a, "bad/bomb.docx", zip_bomb_docx(300))
    write(a, "bad/empty.html", b"   \n")
    # A browser's "save complete page" folder: its frames and scripts are not articles.
    write(a, "web/grain_files/ad-frame.html", news_html("Buy one get one free at MegaStore", ["Advertisement " * 20]))


EXPECTED_SKIPS = {
    "bad/secret.pdf": "encrypted",
    "bad/cut.pdf": "damaged or truncated",
    "bad/scan.pdf": "no text layer: a scanned PDF needs OCR",
    "bad/bomb.docx": "zip bomb",
    "bad/empty.html": "empty file",
}


def test_mixed_folder_indexes_in_one_run_with_one_skip_line_per_bad_file(settings):
    mixed_folder(settings)
    assistant = Assistant(settings, embedder=FakeEmbedder())
    events = []
    report = assistant.rebuild(progress=events.append)
    assert sorted(report.added) == sorted([f.name for f in SEEDS.glob("*.txt")] + ["web/grain.html", "reports/energy.pdf", "memo.docx"])
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == set(EXPECTED_SKIPS)
    for path, reason in EXPECTED_SKIPS.items():
        assert reason in reasons[path], (path, reasons[path])
    # Progress counts files being read, each named.
    reads = [e for e in events if e.phase == "read"]
    assert [e.done for e in reads] == list(range(1, len(reads) + 1)) and reads[-1].total == len(reads) == 13
    assert {e.source for e in reads} >= {"reports/energy.pdf", "memo.docx"}
    # No boilerplate in any passage; a PDF passage knows its page.
    index = assistant.index()
    html = index.passages_of("web/grain.html")
    assert html and not any(j.lower() in p.text.lower() for p in html for j in BOILERPLATE)
    pdf = index.passages_of("reports/energy.pdf")
    assert {p.page for p in pdf} == {1, 2, 3}
    assert all("Ministry of Energy" not in p.text for p in pdf)
    assert [p.page for p in pdf if "450 megawatts" in p.text] == [2]
    assert all(p.page is None for p in index.passages_of("memo.docx"))
    assert assistant.status().dated == sum(1 for r in index.files().values() if r.date) >= 2


def test_edited_page_reembeds_only_its_changed_paragraph_and_a_renamed_pdf_nothing(settings, fake):
    write(settings.articles_dir, "grain.html", news_html("First grain ship leaves Odesa", GRAIN))
    write(settings.articles_dir, "energy.pdf", pdf_bytes(WIND))
    assistant = Assistant(settings, embedder=fake)
    assistant.rebuild()
    fake.calls.clear()
    edited = GRAIN[:2] + ["The deal, signed in Istanbul in July, also set up a joint centre where Russian and Ukrainian officials inspect every ship."]
    write(settings.articles_dir, "grain.html", news_html("First grain ship leaves Odesa", edited))
    report = assistant.rebuild()
    assert report.changed == ["grain.html"] and report.embedded == 1
    assert len(fake.calls) == 1 and "inspect every ship" in fake.calls[0]
    fake.calls.clear()
    (settings.articles_dir / "energy.pdf").rename(settings.articles_dir / "energy-2022.pdf")
    report = assistant.rebuild()
    assert report.renamed == [("energy.pdf", "energy-2022.pdf")] and report.embedded == 0 and fake.calls == []
    assert {p.page for p in assistant.index().passages_of("energy-2022.pdf")} == {1, 2, 3}
    # A full rebuild reads the PDF's text from the cache, without parsing it again.
    fake.calls.clear()
    import qa.formats.sandbox as sandbox

    def no_parse(self, path, kind):
        raise AssertionError(f"{path} parsed again")

    original = sandbox.Sandbox.extract
    sandbox.Sandbox.extract = no_parse
    try:
        report = assistant.rebuild(full=True)
        article = assistant.article("energy-2022.pdf")  # the viewer: cached text too
    finally:
        sandbox.Sandbox.extract = original
    assert report.added and article.kind == "pdf" and article.extracted_from == "PDF"


def test_a_parse_over_the_time_limit_is_one_skip_and_the_rest_is_indexed(settings, fake, monkeypatch):
    monkeypatch.setenv("QA_EXTRACT_SECONDS", "0.001")
    from qa.config import load_settings

    settings = load_settings()
    write(settings.articles_dir, "slow.pdf", pdf_bytes(WIND))
    write(settings.articles_dir, "note.txt", b"The harbour master said the port of Odesa would reopen on Monday after twelve days of repairs.\n")
    report = Assistant(settings, embedder=fake).rebuild()
    assert report.added == ["note.txt"]
    assert [(s.path, "took longer than" in s.reason) for s in report.skipped] == [("slow.pdf", True)]


def test_show_prints_extracted_text_with_its_header_and_accepts_a_page(settings, fake):
    write(settings.articles_dir, "energy.pdf", pdf_bytes(WIND))
    write(settings.articles_dir, "grain.html", news_html("First grain ship leaves Odesa", GRAIN))
    assistant = Assistant(settings, embedder=fake)
    assistant.rebuild()
    p = next(p for p in assistant.index().passages_of("energy.pdf") if "450 megawatts" in p.text)
    r = CliRunner().invoke(cli, ["show", p.citation], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "text extracted from PDF" in r.output.split("\n")[1]
    marked = [ln for ln in r.output.split("\n") if ln.startswith(">")]
    assert marked and marked[0].startswith(f">{p.line_start:5d}") and "450 megawatts" in "\n".join(marked)
    r = CliRunner().invoke(cli, ["show", "energy.pdf:p2"], catch_exceptions=False)
    assert r.exit_code == 0 and "450 megawatts" in "\n".join(ln for ln in r.output.split("\n") if ln.startswith(">"))
    r = CliRunner().invoke(cli, ["show", "energy.pdf:p9"])
    assert r.exit_code == 1 and "no page 9" in r.output
    r = CliRunner().invoke(cli, ["show", f"energy.pdf:p1:{p.line_start}"])
    assert r.exit_code == 1 and "not on page 1" in r.output
    r = CliRunner().invoke(cli, ["show", "grain.html:1"], catch_exceptions=False)
    assert "text extracted from HTML" in r.output and "<p>" not in r.output


@pytest.mark.slow
def test_a_question_from_each_kind_cites_the_right_file_and_page_through_the_real_model(settings):
    mixed_folder(settings)
    runner = CliRunner()
    r = runner.invoke(cli, ["index"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    skip_lines = [ln for ln in r.output.split("\n") if "skipped:" in ln]
    assert len(skip_lines) == len(EXPECTED_SKIPS)
    for path, reason in EXPECTED_SKIPS.items():
        assert sum(path in ln and reason in ln for ln in skip_lines) == 1, (path, skip_lines)
    cases = [
        ("How many tonnes of corn was the Razoni carrying?", "web/grain.html", None, "26,000"),
        ("How many megawatts will the wind farm near Izmir produce?", "reports/energy.pdf", 2, "450 megawatts"),
        ("By how many months did the committee agree to extend the corridor agreement?", "memo.docx", None, "four months"),
        ("Which TV channel interviewed Kalın?", "003_80d590a6b506e82e.txt", None, "A Haber"),
    ]
    for question, source, page, expected in cases:
        r = runner.invoke(cli, ["ask", question, "--json"], catch_exceptions=False)
        data = json.loads(r.stdout)
        assert data["found"] is True and expected in data["answer"], (question, data["answer"])
        first = data["citations"][0]
        assert first["source"] == source and first["page"] == page, (question, first)
        r = runner.invoke(cli, ["ask", question], catch_exceptions=False)
        label = f"{source}:p{page}:" if page else f"{source}:"
        assert f"[1] {label}" in r.output, r.output


def test_source_viewer_shows_the_pdf_page_and_says_the_text_was_extracted(settings, fake):
    import asyncio

    from tests.tui_helpers import ask, make_app, settle, visible
    from tui.viewer import ArticleView, SourceViewer

    write(settings.articles_dir, "reports/energy.pdf", pdf_bytes(WIND, header="Ministry of Energy - Annual review"))
    Assistant(settings, embedder=fake).rebuild()

    async def scenario():
        app = make_app(settings, fake)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await ask(app, pilot, "How many megawatts will the wind farm near Izmir produce?")
            citation = app.turns[-1].answer.citations[0]
            assert citation.passage.page == 2
            app.open_citation(0)
            await pilot.pause()
            viewer = app.screen
            assert isinstance(viewer, SourceViewer)
            head = visible(viewer.query_one("#viewer-head").content)
            assert f"energy.pdf:p2:{citation.passage.line_start}" in head and "text extracted from PDF" in head
            shown = "\n".join(viewer.query_one("#article", ArticleView).lines)
            assert "[page 2]" in shown and "450 megawatts" in shown and "Ministry of Energy" not in shown

    asyncio.run(scenario())


def test_cancelling_a_rebuild_stops_a_long_parse_and_leaves_the_index_unchanged(settings, fake):
    import time

    from qa.indexer import Cancelled

    write(settings.articles_dir, "note.txt", b"The harbour master said the port of Odesa would reopen on Monday after twelve days of repairs.\n")
    assistant = Assistant(settings, embedder=fake)
    assistant.rebuild()
    generation, version = assistant.index().meta.generation, assistant.index().meta.version
    # Tens of thousands of paragraphs: the extractor needs many seconds for this page.
    rows = "".join(f"<p>Paragraph {i} says the ship number {i} left the port of Odesa with grain on Monday.</p>" for i in range(40000))
    write(settings.articles_dir, "huge.html", f"<html><body><article>{rows}</article></body></html>".encode())
    reading = {}

    def progress(p):
        if p.phase == "read" and p.source == "huge.html":
            reading["since"] = time.monotonic()

    started = time.monotonic()
    with pytest.raises(Cancelled):
        assistant.rebuild(progress=progress, cancelled=lambda: "since" in reading and time.monotonic() - reading["since"] > 0.3)
    assert time.monotonic() - started < 5
    assert assistant.index().meta.generation == generation and assistant.index().meta.version == version


def test_an_update_drops_the_extracted_text_of_a_deleted_page_but_not_of_a_copy_still_indexed(settings, fake):
    from qa.formats.cache import TextCache
    from qa.indexer import build_index

    a = settings.articles_dir
    page = news_html("First grain ship leaves Odesa", GRAIN, date="2022-08-01")
    write(a, "web/grain.html", page)
    write(a, "web/copy-of-grain.html", page)
    write(a, "reports/energy.pdf", pdf_bytes(WIND, title="Energy review"))
    build_index(settings, fake)
    cached = lambda: sorted(p.name.split(".")[0] for p in TextCache(settings.index_dir).folder.iterdir())  # noqa: E731
    assert len(cached()) == 2  # the page (one text for both copies) and the PDF
    (a / "reports" / "energy.pdf").unlink()
    (a / "web" / "grain.html").unlink()
    report = build_index(settings, fake)
    assert sorted(report.removed) == ["reports/energy.pdf", "web/grain.html"]
    # The PDF's text went with it; the page's text stays for its copy, which `qa show` still reads from the cache.
    assert len(cached()) == 1
    assert Assistant(settings, embedder=fake).article("web/copy-of-grain.html").extracted_from == "HTML"
