"""Saved web pages: the article's main text by trafilatura (built for news pages), with title, author and
date from the page's metadata; the visible text of <body> when it finds no main text.

Never given a URL: trafilatura only fetches when asked to, and the sandbox's worker has no network.
"""

from __future__ import annotations

import re

from ..text import clean_text
from . import Extracted, Limits, Unreadable

# A page with more elements than this is not an article page (a data dump, a generated bomb).
MAX_ELEMENTS = 200_000
_DECLARED = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)


def decode_html(data: bytes) -> str:
    """The page's own declaration (BOM, <meta charset>, XML declaration), else detected."""
    import codecs

    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(name, errors="replace").lstrip("\ufeff")
    m = _DECLARED.search(data[:4096])
    if m:
        name = (m.group(1) or m.group(2)).decode("ascii")
        try:
            codecs.lookup(name)
        except LookupError:
            pass
        else:
            # Browsers read latin-1 declarations as windows-1252: so do we (curly quotes, euro sign).
            if codecs.lookup(name).name in ("latin-1", "iso8859-1", "ascii"):
                name = "cp1252"
            return data.decode(name, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    return data.decode(best.encoding if best else "cp1252", errors="replace")


def extract(data: bytes, limits: Limits = Limits()) -> Extracted:
    import lxml.html
    from lxml import etree

    markup = decode_html(data)
    if not markup.strip():
        raise Unreadable("empty file")
    try:
        tree = lxml.html.fromstring(markup.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8", remove_comments=True))
    except (etree.ParserError, ValueError) as exc:
        raise Unreadable(f"not a readable web page ({exc})") from None
    size = sum(1 for _ in tree.iter())
    if size > MAX_ELEMENTS:
        raise Unreadable(f"web page too large ({size:,} elements; an article page has a few thousand)")
    doc = _main_text(tree)
    warning = ""
    text = doc.text if doc is not None and doc.text else ""
    if not text.strip():
        text = _visible_text(lxml.html.fromstring(markup.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)))
        warning = "no main article text found; indexed the visible text of the page"
    text = clean_text(text)
    if not text.strip():
        raise Unreadable("no readable text in the page")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    body = "\n\n".join(line for line in lines if line)
    title = (doc.title if doc is not None else "") or _title(tree)
    date = doc.date if doc is not None else None
    author = (doc.author if doc is not None else "") or ""
    return Extracted("html", body, clean_text(title or "").strip(), _iso(date), clean_text(author).strip(), warning=warning)


def _main_text(tree):
    import trafilatura

    try:
        return trafilatura.bare_extraction(
            tree,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=True,  # boilerplate never reaching a passage matters more than a lost caption
            deduplicate=False,
            date_extraction_params={"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%d"},
        )
    except (ValueError, TypeError, AttributeError):
        return None


def _visible_text(tree) -> str:
    """The text of <body> without scripts, styles and templates, one block element per line."""
    for bad in tree.xpath("//script|//style|//noscript|//template|//head"):
        bad.drop_tree()
    body = tree.find("body")
    root = body if body is not None else tree
    for block in root.xpath(".//p|.//div|.//li|.//h1|.//h2|.//h3|.//h4|.//h5|.//h6|.//br|.//tr|.//section|.//article"):
        block.tail = "\n" + (block.tail or "")
    return root.text_content()


def _title(tree) -> str:
    found = tree.find(".//title")
    return (found.text_content() if found is not None else "").strip()


def _iso(value: str | None) -> str | None:
    if value and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value[:10]):
        return value[:10]
    return None
