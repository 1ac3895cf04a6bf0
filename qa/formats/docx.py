"""Word files (.docx) by python-docx: paragraphs and headings in order, one line each, and table rows.

A .docx is a zip archive: its declared sizes are checked before anything is inflated (a zip bomb), and
the sandbox's memory limit backs that up.
"""

from __future__ import annotations

import io
import zipfile

from ..text import clean_text
from . import Extracted, Limits, Unreadable, short_reason


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a password-protected .docx is an OLE file, as is an old .doc


def extract(data: bytes, limits: Limits = Limits()) -> Extracted:
    if data.startswith(_OLE):
        raise Unreadable("encrypted (or an old .doc file): save it as .docx without a password to index it")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Unreadable(f"damaged or not a Word file ({exc})") from None
    inflated = sum(i.file_size for i in infos)
    if inflated > limits.max_unzipped_mb * 1024 * 1024:
        raise Unreadable(f"unpacks to {inflated / 1024 / 1024:,.0f} MB (a zip bomb?); the limit is {limits.max_unzipped_mb} MB")
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError):  # a zip, but its Word parts are missing
        raise Unreadable("damaged or not a Word file (a zip archive without a Word document in it)") from None
    except (ValueError, zipfile.BadZipFile) as exc:
        raise Unreadable(f"damaged or not a Word file ({short_reason(exc)})") from None
    except MemoryError:
        raise  # the worker reports the memory limit
    except Exception as exc:  # lxml's XMLSyntaxError and friends: a damaged part
        raise Unreadable(f"damaged Word file ({short_reason(exc)})") from None

    lines: list[str] = []
    title = ""
    for block in _blocks(document):
        text = " ".join(clean_text(block[1]).split())
        if not text:
            continue
        if not title and block[0] in ("Title", "Heading 1"):
            title = text
        lines.append(text)
    if not lines:
        raise Unreadable("no text in the document")
    props = document.core_properties
    title = " ".join((props.title or "").split()) or title
    # No date from the core properties: "created" is when the file was made (python-docx's own template
    # says 2013), not when the article appeared. The splitter reads a date line or dateline instead.
    return Extracted("docx", "\n\n".join(lines), clean_text(title), None, clean_text(props.author or "").strip())


def _blocks(document):
    """(style name, text) of body paragraphs and table rows, in document order."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    # Style names by id, read once: python-docx resolves `paragraph.style` by scanning every style, per paragraph.
    names = {style.style_id: style.name for style in document.styles}
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            yield names.get(item._p.style or "", ""), item.text
        elif isinstance(item, Table):
            for row in item.rows:
                cells = []
                for cell in row.cells:
                    if cell.text.strip() and (not cells or cells[-1] != cell.text.strip()):  # merged cells repeat
                        cells.append(cell.text.strip())
                if cells:
                    yield "", " | ".join(cells)
