"""Real files of every supported kind, written by the tests (and the bench): web pages built like a
news site's, multi-page PDFs with a known text per page, Word files with headings, and bad ones."""

from __future__ import annotations

import html
import io
import zipfile
from datetime import datetime
from pathlib import Path

# Boilerplate a news page wraps around its article: none of these may reach a passage.
BOILERPLATE = (
    "Subscribe to our newsletter",
    "We use cookies to improve your experience",
    "Accept all cookies",
    "Advertisement",
    "Buy one get one free at MegaStore",
    "Related stories",
    "Ten photos of the week you must see",
    "All rights reserved",
    "Contact us",
    "Privacy policy",
    "trackingPixel",
    "World Business Sport Opinion",
)


def news_html(title: str, paragraphs: list[str], date: str = "2022-08-08", author: str = "Olena Petrenko",
              charset: str = "utf-8", declare: bool = True) -> bytes:
    """A saved news page: nav, cookie banner, ad block, the article, related links, footer, inline scripts."""
    body = "\n".join(f"    <p>{html.escape(p)}</p>" for p in paragraphs)
    meta = f'<meta charset="{charset}">' if declare else ""
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
  {meta}
  <title>{html.escape(title)} | The Daily Harbour</title>
  <meta property="og:title" content="{html.escape(title)}">
  <meta name="author" content="{html.escape(author)}">
  <meta property="article:published_time" content="{date}T09:30:00+03:00">
  <script>var trackingPixel = function() {{ return "Subscribe to our newsletter"; }};</script>
  <style>body {{ font-family: serif; }} .ad {{ color: red; }}</style>
</head>
<body>
  <header>
    <nav><ul><li><a href="/world">World</a></li><li><a href="/business">Business</a></li>
    <li><a href="/sport">Sport</a></li><li><a href="/opinion">Opinion</a></li></ul></nav>
    <div class="newsletter"><a href="/subscribe">Subscribe to our newsletter</a></div>
  </header>
  <div id="cookie-banner" class="cookie-consent">
    <p>We use cookies to improve your experience on our site and to show you relevant advertising.</p>
    <button>Accept all cookies</button>
  </div>
  <div class="ad advert" id="ad-top"><span>Advertisement</span><a href="https://ads.example/mega">Buy one get one free at MegaStore</a></div>
  <main>
    <article>
      <h1>{html.escape(title)}</h1>
      <p class="byline">By {html.escape(author)}</p>
      <time datetime="{date}">{date}</time>
{body}
    </article>
    <aside class="related">
      <h2>Related stories</h2>
      <ul><li><a href="/a">Ten photos of the week you must see</a></li>
      <li><a href="/b">Markets close higher on Friday</a></li></ul>
    </aside>
  </main>
  <script>window.dataLayer = window.dataLayer || []; dataLayer.push({{"event": "trackingPixel"}});</script>
  <footer><p>© 2022 The Daily Harbour. All rights reserved.</p>
  <ul><li><a href="/contact">Contact us</a></li><li><a href="/privacy">Privacy policy</a></li></ul></footer>
</body>
</html>
"""
    return page.encode(charset, errors="xmlcharrefreplace")


def pdf_bytes(pages: list[list[str]], title: str = "", author: str = "", created: datetime | None = None,
              header: str | None = None, footer: bool = True, password: str | None = None) -> bytes:
    """A PDF with a text layer: one list of paragraphs per page, optional running header and page footer."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    if created:
        pdf.set_creation_date(created)
    for number, paragraphs in enumerate(pages, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=9)
        if header:
            pdf.cell(0, 6, header, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for text in paragraphs:
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        if footer:
            pdf.set_y(-15)
            pdf.set_font("Helvetica", size=9)
            pdf.cell(0, 8, f"Page {number} of {len(pages)}")
    if password:
        from fpdf.enums import EncryptionMethod

        pdf.set_encryption(owner_password="owner-" + password, user_password=password, encryption_method=EncryptionMethod.RC4)
    return bytes(pdf.output())


def scanned_pdf_bytes(pages: int = 2, text_pages: dict[int, str] | None = None) -> bytes:
    """A PDF whose pages are only pictures (as a scanner makes them): no text layer, except on `text_pages`."""
    from fpdf import FPDF
    from PIL import Image

    pdf = FPDF()
    for number in range(1, pages + 1):
        pdf.add_page()
        if text_pages and number in text_pages:
            pdf.set_font("Helvetica", size=11)
            pdf.multi_cell(0, 6, text_pages[number])
            continue
        image = Image.new("RGB", (200, 260), "white")
        for x in range(20, 180):
            for y in range(30, 34):
                image.putpixel((x, y), (0, 0, 0))
        pdf.image(image, x=10, y=10, w=180)
    return bytes(pdf.output())


def docx_bytes(blocks: list[tuple[str, str]], title: str = "", author: str = "") -> bytes:
    """A Word file from (style, text) blocks, e.g. ("Title", ...), ("Heading 1", ...), ("", body paragraph)."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    if author:
        document.core_properties.author = author
    for style, text in blocks:
        if style.startswith("Heading"):
            document.add_heading(text, level=int(style.split()[-1]))
        elif style == "Title":
            document.add_heading(text, level=0)
        else:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb_docx(uncompressed_mb: int = 400) -> bytes:
    """A real .docx whose document part inflates to hundreds of megabytes from well under one."""
    base = zipfile.ZipFile(io.BytesIO(docx_bytes([("", "placeholder")])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in base.infolist():
            if info.filename != "word/document.xml":
                z.writestr(info, base.read(info))
        with z.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
            chunk = b"<w:p><w:r><w:t>" + b"A" * (1 << 20) + b"</w:t></w:r></w:p>"
            for _ in range(uncompressed_mb):
                part.write(chunk)
            part.write(b"</w:body></w:document>")
    return out.getvalue()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
