"""Web pages, PDFs and Word files: read into the same Document as text, boilerplate left out, bad files
skipped with their reason, limits on time and memory, and citations that point into the extracted text."""

from __future__ import annotations

import io
import zlib
from datetime import datetime

import pytest

from qa.documents import Skipped, parse_document, split_document
from qa.formats import Limits, kind_of
from qa.formats.sandbox import Sandbox

from .format_files import BOILERPLATE, docx_bytes, news_html, pdf_bytes, scanned_pdf_bytes, write, zip_bomb_docx

GRAIN = [
    "The first ship carrying Ukrainian grain since the invasion left the port of Odesa on Monday morning, bound for Lebanon, under a deal brokered by Turkey and the United Nations.",
    "Officials said the Razoni was carrying 26,000 tonnes of corn and would be inspected in Istanbul before continuing its voyage to Tripoli.",
    "The deal, signed in Istanbul in July, created a safe corridor through the Black Sea for cargo ships and set up a joint centre to monitor them.",
]


def page_text(n: int) -> list[str]:
    return [
        f"On page {n} the ministry reported that the harvest in region number {n} reached {n * 3} million tonnes this year, "
        f"an increase that officials attributed to good weather and to the new storage silos built near the river.",
        f"Farmers in region {n} said the prices offered by traders were still lower than before the war, and many of them "
        f"kept part of the crop in store, hoping for better offers in the au-\ntumn.",
    ]


def ok(name: str, data: bytes):
    doc = parse_document(name, data)
    assert not isinstance(doc, Skipped), doc
    return doc


def lines_of(doc, passage) -> str:
    """The cited lines of the extracted text, blank ones aside (a passage joins its paragraphs' lines)."""
    return "\n".join(ln for ln in doc.text.split("\n")[passage.line_start - 1 : passage.line_end] if ln)


# ---------------------------------------------------------------- HTML


def test_news_page_keeps_the_article_and_drops_every_piece_of_boilerplate():
    doc = ok("web/grain.html", news_html("First grain ship leaves Odesa", GRAIN, date="2022-08-01"))
    assert doc.kind == "html" and doc.warning == ""
    assert doc.title == "First grain ship leaves Odesa"
    assert doc.date == "2022-08-01"
    joined = "\n".join(p.text for p in doc.passages)
    for paragraph in GRAIN:
        assert paragraph in joined
    for junk in BOILERPLATE:
        assert junk.lower() not in joined.lower(), junk
    for p in doc.passages:  # citations count lines of the extracted text, which the viewer shows
        assert p.text == lines_of(doc, p)
        assert p.page is None and p.citation == f"web/grain.html:{p.line_start}" + (f"-{p.line_end}" if p.line_end != p.line_start else "")


def test_malformed_html_with_unclosed_tags_is_read():
    page = (b"<html><body><p>Unclosed paragraph <b>bold <i>The Razoni carried 26,000 tonnes of corn to Tripoli in Lebanon, "
            b"officials said on Monday, and more ships followed later that week.<p>Another ship named Polarnet left "
            b"Chornomorsk with 12,000 tonnes of grain for Turkey, the ministry said.</div></span><td>")
    joined = "\n".join(p.text for p in ok("broken.htm", page).passages)
    assert "26,000 tonnes of corn" in joined and "Polarnet left Chornomorsk" in joined


def test_page_without_main_text_falls_back_to_the_visible_text_with_a_warning():
    page = (b"<html><head><script>var secret = 'tracking code';</script><style>p{}</style></head><body><footer><div>"
            b"Odesa port reopened on Monday after twelve days, the harbour master said in a statement to reporters."
            b"</div></footer></body></html>")
    doc = ok("notice.html", page)
    assert "no main article text" in doc.warning
    assert "Odesa port reopened" in doc.text
    assert "tracking code" not in doc.text and "p{}" not in doc.text


@pytest.mark.parametrize("charset", ["windows-1251", "iso-8859-5", "koi8-u"])
def test_declared_encodings_are_honoured(charset):
    text = "Зеленський заявив, що перший корабель із зерном вийшов з порту Одеси в понеділок уранці згідно з угодою в Стамбулі."
    doc = ok("ua.html", news_html("Перший корабель", [text], charset=charset))
    assert text in doc.text


def test_undeclared_legacy_encoding_is_detected():
    text = "Zelenskyy’s café in Kyiv — “the Razoni” left Odesa on Monday with corn; officials said the voyage would take five days."
    page = f"<html><body><article><p>{text}</p><p>{text}</p></article></body></html>".encode("cp1252")
    assert text in ok("legacy.html", page).text


def test_escapes_and_controls_in_a_page_are_removed():
    page = news_html("Title", ["The ship left Odesa \x1b[31mred\x1b[0m on Monday\x07 with corn for Lebanon, officials said in a statement."])
    doc = ok("esc.html", page)
    assert "\x1b" not in doc.text and "\x07" not in doc.text and "Odesa red on Monday" in doc.text


# ---------------------------------------------------------------- PDF


def test_pdf_pages_are_known_and_running_headers_and_footers_dropped():
    pages = [page_text(n) for n in range(1, 4)]
    data = pdf_bytes(pages, title="Harvest report", author="Ministry", created=datetime(2022, 9, 14), header="Harvest Bulletin - Weekly edition")
    doc = ok("report.pdf", data)
    assert doc.kind == "pdf" and doc.title == "Harvest report" and doc.date == "2022-09-14"
    assert len(doc.pages) == 3
    for n in range(1, 4):
        on_page = [p for p in doc.passages if p.page == n]
        assert on_page, n
        joined = " ".join(p.text for p in on_page)
        assert f"region number {n} reached {n * 3} million tonnes" in joined
        assert "autumn." in joined  # the hyphenated line end is joined
        assert all(p.citation.startswith(f"report.pdf:p{n}:") for p in on_page)
        lo, hi = doc.pages[n - 1], (doc.pages[n] if n < 3 else 10**6)
        assert all(lo < p.line_start <= p.line_end < hi for p in on_page)  # inside the page's lines
    everything = "\n".join(p.text for p in doc.passages)
    assert "Harvest Bulletin" not in everything and "Page 2 of 3" not in everything and "[page" not in everything
    for p in doc.passages:
        assert p.text == lines_of(doc, p)


def test_a_paragraph_running_over_a_page_break_stays_whole_on_its_first_page():
    first = ("The port authority said that inspections of the grain ships in Istanbul had become much faster since the joint "
             "coordination centre added more teams and")
    rest = "extended its working hours into the night, so that ships now wait less than two days."
    pages = [page_text(1) + [first], [rest] + page_text(2)]
    doc = ok("runon.pdf", pdf_bytes(pages, title="(anonymous)"))
    whole = [p for p in doc.passages if "added more teams and extended its working hours" in p.text]
    assert len(whole) == 1 and whole[0].page == 1
    assert not any(p.text.startswith("extended") for p in doc.passages)
    assert doc.title != "(anonymous)"  # a PDF writer's placeholder is not a title


def test_bad_pdfs_are_skipped_with_their_reason():
    good = pdf_bytes([page_text(1), page_text(2)])
    cases = {
        "secret.pdf": (pdf_bytes([page_text(1)], password="s3cret"), "encrypted"),
        "cut.pdf": (good[: len(good) // 2], "damaged or truncated"),
        "scan.pdf": (scanned_pdf_bytes(), "no text layer: a scanned PDF needs OCR"),
        "fake.pdf": (b"<html>not a pdf</html>", "not a PDF"),
    }
    for name, (data, reason) in cases.items():
        doc = parse_document(name, data)
        assert isinstance(doc, Skipped) and reason in doc.reason, (name, doc)


def test_scanned_pages_in_a_pdf_with_text_are_named_in_a_warning():
    text = " ".join(page_text(1))
    doc = ok("mixed.pdf", scanned_pdf_bytes(4, {2: text}))
    assert "region number 1" in doc.text and {p.page for p in doc.passages} == {2}
    assert doc.warning == "3 of 4 pages have no text layer (page 1, 3, 4: scanned pages need OCR)"


def test_pdf_bombs_are_bounded():
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(3000):
        writer.add_blank_page(72, 72)
    out = io.BytesIO()
    writer.write(out)
    doc = parse_document("many.pdf", out.getvalue())
    assert isinstance(doc, Skipped) and "3,000 pages" in doc.reason
    doc = parse_document("stream.pdf", _huge_stream_pdf())
    assert isinstance(doc, Skipped) and "bomb" in doc.reason


def _huge_stream_pdf() -> bytes:
    """One page whose content stream inflates from under 1 MB to 150 MB."""
    content = zlib.compress(b"BT /F1 12 Tf 10 10 Td (x) Tj ET\n" * (150_000_000 // 33), 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# ---------------------------------------------------------------- DOCX


def test_docx_headings_and_paragraphs():
    data = docx_bytes([("Title", "Grain corridor extended"), ("", GRAIN[1]), ("Heading 1", "Inspections in Istanbul"), ("", GRAIN[2]),
                       ("Heading 2", "What comes next"), ("", GRAIN[0])])
    doc = ok("memo.docx", data)
    assert doc.kind == "docx" and doc.title == "Grain corridor extended"
    joined = "\n".join(p.text for p in doc.passages)
    assert "Inspections in Istanbul" in joined and all(g in joined for g in GRAIN)
    assert [p.text.split("\n")[0] for p in doc.passages][:2] == ["Grain corridor extended", "Inspections in Istanbul"]


def test_bad_docx_files_are_skipped_with_their_reason():
    bomb = parse_document("bomb.docx", zip_bomb_docx(300))
    assert isinstance(bomb, Skipped) and "zip bomb" in bomb.reason
    broken = parse_document("broken.docx", b"PK\x03\x04 not really a zip")
    assert isinstance(broken, Skipped) and "damaged" in broken.reason
    locked = parse_document("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))  # how Word saves with a password
    assert isinstance(locked, Skipped) and "encrypted" in locked.reason


# ---------------------------------------------------------------- dates and the sandbox


def test_date_order_metadata_then_date_line_then_dateline():
    body = "The first ship carrying Ukrainian grain left the port on Monday under a deal brokered by Turkey and the United Nations."
    assert split_document("a.txt", f"Odesa, 8 August 2022 - {body}\n").date == "2022-08-08"
    assert split_document("a.txt", f"KYIV, Ukraine, March 3, 2022 (Reuters) - {body}\n").date == "2022-03-03"
    assert split_document("a.txt", f"2022-08-01\n\nOdesa, 8 August 2022 - {body}\n").date == "2022-08-01"
    assert split_document("a.txt", f"Odesa, 8 August 2022 - {body}\n", meta_date="2022-07-30").date == "2022-07-30"
    assert split_document("a.txt", f"The talks of 8 August 2022 went on. {body}\n").date is None
    page = news_html("Ship", [f"Odesa, 9 August 2022 - {body}"], date="2022-08-10")
    assert ok("a.html", page).date == "2022-08-10"
    # A page's copyright year is not its date; its dateline is.
    plain = f"<html><body><article><p>{body}</p><p>{body}</p></article><footer>© 2022 The Daily Harbour</footer></body></html>"
    assert ok("b.html", plain.encode()).date is None
    assert ok("c.html", plain.replace("<p>", "<p>Odesa, 9 August 2022 - ", 1).encode()).date == "2022-08-09"


def test_kinds_by_extension():
    assert [kind_of(n) for n in ("a.TXT", "b.md", "c.HTM", "d.xhtml", "e.Pdf", "f.docx", "g.doc")] == ["text", "text", "html", "html", "pdf", "docx", None]


def test_sandbox_time_limit_kills_a_slow_parse_and_the_next_file_still_reads(tmp_path):
    slow = write(tmp_path, "slow.pdf", pdf_bytes([page_text(n) for n in range(1, 30)]))
    with Sandbox(Limits(seconds=0.001)) as sandbox:
        assert "took longer than" in sandbox.extract(slow, "pdf")
        sandbox.limits = Limits(seconds=60)
        result = sandbox.extract(slow, "pdf")
        assert not isinstance(result, str) and "region number 2" in result.text


def test_sandbox_memory_limit_turns_a_bomb_into_a_skip(tmp_path):
    bomb = write(tmp_path, "bomb.docx", zip_bomb_docx(300))
    with Sandbox(Limits(memory_mb=300, max_unzipped_mb=100_000)) as sandbox:  # past the size check: the rlimit holds
        reason = sandbox.extract(bomb, "docx")
    assert isinstance(reason, str) and ("memory" in reason or "crashed" in reason), reason


def test_sandbox_has_no_network():
    import subprocess
    import sys

    code = ("import socket, qa.formats.worker as w; socket.socket.connect = w._no_network\n"
            "try:\n    socket.create_connection(('127.0.0.1', 9))\nexcept OSError as e:\n    print('blocked' if 'no network' in str(e) else e)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "blocked"
