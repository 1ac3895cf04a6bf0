"""`make bench --only formats`: how fast article files of each kind are read (extracted and split).

For every kind a folder of generated files (news-site pages, 3-page PDFs, Word files with headings, and
plain text as the baseline) is read the way the indexer reads it: one sandboxed worker process for
the folder, no cached texts. Beside it, the same files parsed in the bench's own process (what the
sandbox costs) and, for PDFs, a second read from the extracted-text cache (what `qa index --full` and
the source viewer pay).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PDF_PAGES = 3
KINDS = ("text", "html", "pdf", "docx")
EXT = {"text": "txt", "html": "html", "pdf": "pdf", "docx": "docx"}


def _article(i: int) -> tuple[str, list[str]]:
    """A distinct article: a title and six paragraphs of news-like prose."""
    places = ["Odesa", "Istanbul", "Antalya", "Kyiv", "Ankara", "Lviv", "Izmir", "Mykolaiv"]
    place = places[i % len(places)]
    paragraphs = [
        f"{place}, {1 + i % 28} August 2022 - Officials in {place} said on Monday that shipment number {i} had left the port "
        f"with {1000 + 37 * i:,} tonnes of grain, the {i % 9 + 1}th such voyage since the corridor opened last month.",
    ]
    for k in range(5):
        paragraphs.append(
            f"Paragraph {k + 2} of report {i}: inspectors from both sides checked the cargo for {k + 2} hours before the ship "
            f"was cleared to continue, while traders in {places[(i + k) % len(places)]} watched prices for wheat and corn "
            f"that had risen by {k + 3} percent during the week, according to figures from the exchange."
        )
    return f"Grain shipment {i} leaves {place}", paragraphs


def make_folder(folder: Path, kind: str, count: int) -> list[Path]:
    from tests.format_files import docx_bytes, news_html, pdf_bytes

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"article-{i:04d}.{EXT[kind]}"
        paths.append(path)
        if path.exists():
            continue
        title, paragraphs = _article(i)
        if kind == "text":
            data = (title + "\n\n" + "\n\n".join(paragraphs) + "\n").encode()
        elif kind == "html":
            data = news_html(title, paragraphs)
        elif kind == "pdf":
            per = (len(paragraphs) + PDF_PAGES - 1) // PDF_PAGES
            data = pdf_bytes([paragraphs[p * per : (p + 1) * per] for p in range(PDF_PAGES)], title=title, header="Grain Monitor - Daily")
        else:
            data = docx_bytes([("Title", title)] + [("Heading 1" if k == 3 else "", p) for k, p in enumerate(paragraphs)])
        path.write_bytes(data)
    return paths


def _entries(paths: list[Path]):
    from qa.documents import FileEntry

    out = []
    for p in paths:
        st = p.stat()
        out.append(FileEntry(p.name, p, st.st_size, st.st_mtime_ns))
    return out


def _time_reads(entries, sandbox=None, cache=None, digests=None) -> tuple[float, int]:
    from qa.documents import Skipped, read_document

    started = time.perf_counter()
    passages = 0
    for e in entries:
        doc = read_document(e, sandbox, cache, digests.get(e.source) if digests else None)
        if isinstance(doc, Skipped):
            raise RuntimeError(f"{e.source}: {doc.reason}")
        passages += len(doc.passages)
    return time.perf_counter() - started, passages


def run(bench) -> None:
    """Add the 'formats' figures to a bench.run.Bench."""
    import hashlib
    import shutil

    from qa.documents import parse_document
    from qa.formats.cache import TextCache
    from qa.formats.sandbox import Sandbox

    count = 20 if bench.args.quick else 300
    base = bench.cache / f"formats-{count}"
    details = {}
    for kind in KINDS:
        paths = make_folder(base / kind, kind, count // PDF_PAGES if kind == "pdf" else count)
        entries = _entries(paths)
        n = len(entries)
        pages = n * PDF_PAGES if kind == "pdf" else n
        unit_note = f"{n} files" + (f", {pages} pages" if kind == "pdf" else "")
        if kind == "text":
            seconds, passages = _time_reads(entries)
            bench.add("formats", "text_files_s", "plain text (baseline), files read and split per second", n / seconds, "files/s", note=unit_note)
            details[kind] = {"files": n, "seconds": seconds, "passages": passages}
            continue
        with Sandbox() as sandbox:
            seconds, passages = _time_reads(entries, sandbox)
        started = time.perf_counter()
        for e in entries:
            parse_document(e.source, e.path.read_bytes())
        in_process = time.perf_counter() - started
        label = {"html": "web pages (news-site layout)", "pdf": f"PDFs ({PDF_PAGES} pages each)", "docx": "Word files"}[kind]
        bench.add("formats", f"{kind}_files_s", f"{label}, files per second (sandboxed worker, as `qa index`)", n / seconds, "files/s", note=unit_note)
        if kind == "pdf":
            bench.add("formats", "pdf_pages_s", "PDF pages per second (sandboxed)", pages / seconds, "pages/s")
        bench.add("formats", f"{kind}_sandbox_ratio", f"{label}: sandboxed time over in-process parsing", seconds / in_process, "×",
                  note=f"in-process {n / in_process:.1f} files/s")
        entry = {"files": n, "pages": pages, "seconds": seconds, "in_process_seconds": in_process, "passages": passages}
        if kind == "pdf":
            cache_dir = base / "cache-index"
            shutil.rmtree(cache_dir, ignore_errors=True)
            cache = TextCache(cache_dir)
            digests = {e.source: hashlib.sha256(e.path.read_bytes()).hexdigest() for e in entries}
            with Sandbox() as sandbox:
                _time_reads(entries, sandbox, cache, digests)  # fills the cache
                cached, _ = _time_reads(entries, sandbox, cache, digests)
            bench.add("formats", "pdf_cached_files_s", "PDFs read again from the extracted-text cache (full rebuild, viewer)", n / cached, "files/s",
                      note=f"{seconds / cached:.0f}× the first read")
            entry["cached_seconds"] = cached
        details[kind] = entry
    bench.details["formats"] = details
