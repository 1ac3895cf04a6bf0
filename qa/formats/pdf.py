"""PDFs: text per page by pypdf (pure Python, BSD), paragraphs rebuilt from the page's lines, running
headers and footers dropped, title/author/date from the document info.

The extracted text holds a marker line before each page, so a passage never spans pages and its page is
known from its line. Scanned pages have no text layer: they are said so, not silently empty.
"""

from __future__ import annotations

import io
import re
from collections import Counter

from ..text import clean_text
from . import Extracted, Limits, Unreadable, page_marker, short_reason

_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’)\]]*$")
_DIGITS = re.compile(r"\d+")


def extract(data: bytes, limits: Limits = Limits()) -> Extracted:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError, PdfStreamError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes are not the user's business
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise Unreadable("not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # many PDFs are encrypted only against editing
            except Exception:
                opened = 0
            if not opened:
                raise Unreadable("encrypted: needs a password (save an unencrypted copy to index it)")
        count = len(reader.pages)
    except Unreadable:
        raise
    except FileNotDecryptedError:
        raise Unreadable("encrypted: needs a password (save an unencrypted copy to index it)") from None
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise Unreadable(f"damaged or truncated PDF ({short_reason(exc)})") from None
    if count == 0:
        raise Unreadable("damaged or truncated PDF (no pages)")
    if count > limits.max_pages:
        raise Unreadable(f"{count:,} pages: more than the {limits.max_pages:,} pages read from one PDF")

    from pypdf.errors import LimitReachedError

    pages: list[list[str]] = []
    failed = 0
    bombs = 0
    total = 0
    for page in reader.pages:
        try:
            raw = page.extract_text() or ""
        except FileNotDecryptedError:
            raise Unreadable("encrypted: needs a password (save an unencrypted copy to index it)") from None
        except LimitReachedError:  # pypdf's own bound on inflating a stream
            raw, failed, bombs = "", failed + 1, bombs + 1
        except MemoryError:
            raise  # the worker reports the memory limit
        except Exception:  # one damaged page must not lose the others
            raw, failed = "", failed + 1
        total += len(raw)
        if total > limits.max_chars:
            raise Unreadable(f"more than {limits.max_chars // 1_000_000} million characters of text")
        pages.append([line.strip() for line in clean_text(raw).split("\n")])
    if failed == count:
        if bombs:
            raise Unreadable("a page's content inflates past the reading limit (a PDF bomb?)")
        raise Unreadable("damaged or truncated PDF (no page could be read)")
    if not any(any(line for line in lines) for lines in pages):
        raise Unreadable("no text layer: a scanned PDF needs OCR")

    scanned = [n for n, (lines, page) in enumerate(zip(pages, reader.pages), start=1) if not any(lines) and _has_image(page)]
    warning = ""
    if scanned:
        listed = ", ".join(map(str, scanned[:10])) + (", …" if len(scanned) > 10 else "")
        warning = f"{len(scanned)} of {count} pages have no text layer (page {listed}: scanned pages need OCR)"
    paragraphs = _join_across_pages([_paragraphs(lines) for lines in _drop_running_lines(pages)])
    out: list[str] = []
    markers: list[int] = []
    for number, page_paragraphs in enumerate(paragraphs, start=1):
        if out:
            out.append("")
        markers.append(len(out) + 1)
        out.append(page_marker(number))
        for paragraph in page_paragraphs:
            out.extend(["", paragraph])
    info = _info(reader)
    return Extracted("pdf", "\n".join(out), info.get("title", ""), info.get("date"), info.get("author", ""), tuple(markers), warning)


def _has_image(page) -> bool:
    """A page drawn from a picture (a scan), as opposed to an intentionally blank one."""
    try:
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else {}
        xobjects = resources.get("/XObject")
        xobjects = xobjects.get_object() if xobjects is not None else {}
        return any(xobjects[name].get_object().get("/Subtype") == "/Image" for name in xobjects)
    except Exception:  # a damaged resource dictionary: no claim either way
        return False


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Short lines that open or close most pages (page numbers aside) are the running header or footer."""
    pages = [[ln for ln in lines if ln] for lines in pages]
    if len(pages) < 2:
        return pages

    def shape(line: str) -> str:  # "Page 3 of 9" repeats as "page # of #"
        return _DIGITS.sub("#", line.lower())

    def edges(lines: list[str]) -> set[str]:
        return {shape(ln) for ln in lines[:2] + lines[-2:] if len(ln.split()) <= 12}

    seen = Counter(s for lines in pages for s in edges(lines))
    need = max(2, (len(pages) + 1) // 2)
    running = {s for s, n in seen.items() if n >= need}
    out = []
    for lines in pages:
        top, bottom = 0, len(lines)
        while top < min(2, bottom) and shape(lines[top]) in running:
            top += 1
        while bottom > max(top, len(lines) - 2) and shape(lines[bottom - 1]) in running:
            above = lines[bottom - 2] if bottom >= 2 else ""
            if above.endswith("-") or (above and not _SENTENCE_END.search(above) and len(above) >= 0.85 * _full_width(lines)):
                break  # the last line of a paragraph that runs on, not a footer
            bottom -= 1
        out.append(lines[top:bottom])
    return out


def _full_width(lines: list[str]) -> int:
    """The length of a typical full line of this page."""
    lengths = sorted(len(ln) for ln in lines if ln) or [0]
    return lengths[int(0.8 * (len(lengths) - 1))]


def _paragraphs(lines: list[str]) -> list[str]:
    """Join a page's lines into paragraphs: a short line ending a sentence ends its paragraph, a short line
    with no end mark (a headline) stands alone, and a word hyphenated at a line end is joined."""
    lines = [ln for ln in lines if ln]
    if not lines:
        return []
    full = _full_width(lines)
    paragraphs: list[str] = []
    current = ""
    for i, line in enumerate(lines):
        if current.endswith("-") and line[:1].islower() and current[-2:-1].isalpha():
            current = current[:-1] + line
        else:
            current = f"{current} {line}" if current else line
        short = len(line) < 0.85 * full and not line.endswith("-")
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if short and (_SENTENCE_END.search(line) or (nxt[:1].isupper() and len(line.split()) <= 12 and not line.endswith(","))):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs


def _join_across_pages(pages: list[list[str]]) -> list[list[str]]:
    """A paragraph that runs on over a page break is kept whole on the page where it starts (where a
    citation of it points), so no sentence is cut in two."""
    for number in range(1, len(pages)):
        before = next((p for p in reversed(pages[:number]) if p), None)
        after = pages[number]
        if not before or not after or _SENTENCE_END.search(before[-1]):
            continue
        head = after[0]
        if before[-1].endswith("-") and before[-1][-2:-1].isalpha() and head[:1].islower():
            before[-1] = before[-1][:-1] + head
        elif head[:1].islower():
            before[-1] = f"{before[-1]} {head}"
        else:
            continue
        del after[0]
    return pages


# Titles that PDF writers put in when the author gave none.
_PLACEHOLDER_TITLE = re.compile(r"^\(?(?:anonymous|untitled|no title)\)?$|\.(?:docx?|pdf|indd|qxp|rtf|odt|txt)$", re.I)


def _info(reader) -> dict:
    out: dict = {}
    try:
        meta = reader.metadata
    except Exception:
        return out
    if not meta:
        return out
    for key, name in (("title", "/Title"), ("author", "/Author")):
        value = meta.get(name)
        if isinstance(value, str) and value.strip():
            text = " ".join(clean_text(value).split())
            if key == "title" and _PLACEHOLDER_TITLE.search(text):
                continue  # "(anonymous)", "Microsoft Word - report.docx": the splitter's headline is better
            out[key] = text
    for name in ("/CreationDate", "/ModDate"):
        value = meta.get(name)
        m = re.match(r"^(?:D:)?(\d{4})(\d{2})(\d{2})", str(value or ""))
        if m:
            from datetime import date

            try:
                out["date"] = date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
                break
            except ValueError:
                continue
    return out
