"""Find article files, read them safely and split them into passages with exact line spans."""

from __future__ import annotations

import os
import re
import stat
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .dates import dateline_date, parse_date_line
from .formats import SUFFIXES, Extracted, Limits, Unreadable, extract_bytes, kind_of, saved_page_folder
from .text import (
    estimate_wordpieces,
    STOPWORDS,
    sentence_spans,
    text_hash,
)

if TYPE_CHECKING:
    from .formats.cache import TextCache
    from .formats.sandbox import Sandbox

# Bump when splitting changes: an index built by another splitter must be rebuilt, not mixed.
SPLITTER_VERSION = 3  # 2: datelines, metadata title/date, PDF pages; 3: quotations stay whole
# all-MiniLM-L6-v2 reads 256 word pieces; leave room for [CLS]/[SEP] and estimation error.
MAX_PASSAGE_PIECES = 230
MIN_PASSAGE_WORDS = 10


@dataclass(frozen=True)
class Passage:
    source: str  # path relative to the articles folder, with forward slashes
    paragraph: int  # 1-based passage number within the article
    line_start: int  # 1-based, inclusive
    line_end: int
    char_start: int  # offsets into the cleaned article text
    char_end: int
    text: str
    title: str = ""
    date: str | None = None  # ISO date of the article, when known
    page: int | None = None  # PDF page (1-based) the passage is on; None for other kinds

    @property
    def key(self) -> str:
        return text_hash(self.text)

    @property
    def citation(self) -> str:
        span = f"{self.line_start}" if self.line_start == self.line_end else f"{self.line_start}-{self.line_end}"
        # A PDF citation names its page: report.pdf:p2:14-16 (lines of the extracted text, as `qa show` prints it).
        return f"{self.source}:p{self.page}:{span}" if self.page else f"{self.source}:{span}"


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class Document:
    source: str
    text: str  # cleaned text; line numbers match the file's (or the extracted text's, for HTML/PDF/DOCX)
    title: str
    date: str | None
    passages: tuple[Passage, ...]
    kind: str = "text"  # "text", "html", "pdf", "docx" (qa.formats.KINDS)
    warning: str = ""  # e.g. a web page read without its main-text extractor
    pages: tuple[int, ...] = ()  # PDF: line of each page's marker line in `text`


class FileEntry(NamedTuple):
    """A candidate article file found on disk, with what a rescan compares: size and mtime.

    `where` may be a plain string (discover gives one: a Path per file costs seconds at 100,000 files);
    `path` makes the Path when a file is actually read. A named tuple: a rescan makes one per file, and a
    frozen dataclass costs several times more to create.
    """

    source: str
    where: Path | str
    size: int
    mtime_ns: int

    @property
    def path(self) -> Path:
        return self.where if isinstance(self.where, Path) else Path(self.where)


# ---------------------------------------------------------------- discovery


def discover(articles_dir: Path, max_bytes: int) -> tuple[list[FileEntry], list[Skipped]]:
    """Every article file (qa.formats.SUFFIXES: text, Markdown, web pages, PDF, Word) under the folder (recursively, hidden entries excluded), sorted.

    Costs one stat per file: a rescan of an unchanged folder reads no file contents. Walks with os.scandir and
    plain strings: at 100,000 files, pathlib's per-file objects cost seconds.
    """
    found: list[FileEntry] = []
    skipped: list[Skipped] = []
    _walk(str(articles_dir), "", max_bytes, found, skipped)
    return found, skipped


def _walk(top: str, prefix: str, max_bytes: int, found: list[FileEntry], skipped: list[Skipped]) -> None:
    """Pre-order, each folder's files by name, then its subfolders by name (symbolic links to folders not entered).

    Files are stat'ed relative to an open descriptor of their folder (fstatat): the kernel resolves one name,
    not the whole path, which with the plain loop below keeps a rescan of 100,000 files near half a second.
    """
    fd = -1
    try:
        if _STAT_AT:
            fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        with os.scandir(fd if fd >= 0 else top) as it:
            entries = [e for e in it if not e.name.startswith(".")]
    except OSError:
        if fd >= 0:
            os.close(fd)
        return  # an unreadable folder is passed over, as os.walk does
    try:
        files, dirs = [], []
        for e in entries:
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                dirs.append(e)
            else:
                files.append(e.name)
        files.sort()
        folder = os.path.join(top, "")
        for name in files:
            dot = name.rfind(".")
            if dot <= 0 or name[dot:].lower() not in SUFFIXES:
                continue
            source = prefix + name
            try:
                st = os.stat(name, dir_fd=fd) if fd >= 0 else os.stat(folder + name)
            except FileNotFoundError:
                skipped.append(Skipped(source, "broken symbolic link"))
                continue
            except OSError as exc:
                skipped.append(Skipped(source, f"cannot read ({exc.strerror or exc})"))
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            size = st.st_size
            if size > max_bytes:
                mb = max_bytes / (1024 * 1024)
                skipped.append(Skipped(source, f"larger than {mb:g} MB (raise QA_MAX_FILE_MB to include it)"))
                continue
            if size == 0:
                skipped.append(Skipped(source, "empty file"))
                continue
            found.append(FileEntry(source, folder + name, size, st.st_mtime_ns))
    finally:
        if fd >= 0:
            os.close(fd)
    for d in sorted(dirs, key=lambda e: e.name):
        if not d.is_symlink() and not saved_page_folder(d.name, files):
            _walk(os.path.join(top, d.name), prefix + d.name + "/", max_bytes, found, skipped)


# Where the platform has it (Linux, macOS), stat relative to the folder's descriptor.
_STAT_AT = os.stat in os.supports_dir_fd and os.scandir in os.supports_fd


def read_document(
    entry: FileEntry,
    sandbox: "Sandbox | None" = None,
    cache: "TextCache | None" = None,
    sha256: str | None = None,
    limits: Limits | None = None,
    retry_skipped: bool = False,
) -> Document | Skipped:
    """Read and split one file, or say in a few words why it is skipped.

    Text is read here; web pages, PDFs and Word files are parsed by the sandbox (a child process with
    time and memory limits), their text looked up in and added to the cache by content hash; so is a
    skip reason, so an unreadable file is not parsed again until it changes (or `retry_skipped`).
    """
    kind = kind_of(entry.source) or "text"
    if kind == "text":
        try:
            data = entry.path.read_bytes()
        except PermissionError:
            return Skipped(entry.source, "permission denied")
        except OSError as exc:
            return Skipped(entry.source, f"cannot read ({exc.strerror or exc})")
        return parse_document(entry.source, data)
    limits = limits or (sandbox.limits if sandbox is not None else Limits())
    result = cache.get(sha256, skips=not retry_skipped, limits=limits) if (cache is not None and sha256) else None
    if result is None:
        if sandbox is None:
            from .formats.sandbox import Sandbox

            with Sandbox(limits) as own:
                result = own.extract(entry.path, kind)
        else:
            result = sandbox.extract(entry.path, kind)
        if cache is not None and sha256:
            cache.put(sha256, result, limits)
    if isinstance(result, str):
        return Skipped(entry.source, result)
    return document_from(entry.source, result)


def parse_document(source: str, data: bytes, limits: Limits = Limits()) -> Document | Skipped:
    """Parse bytes in this process (trusted input: text files, tests); the kind comes from the name."""
    try:
        extracted = extract_bytes(kind_of(source) or "text", data, limits)
    except Unreadable as exc:
        return Skipped(source, exc.reason)
    return document_from(source, extracted)


def document_from(source: str, extracted: Extracted) -> Document | Skipped:
    doc = split_document(source, extracted.text, extracted.title, extracted.date, extracted.pages)
    if not doc.passages:
        return Skipped(source, "no paragraphs of text")
    return Document(doc.source, doc.text, doc.title, doc.date, doc.passages, extracted.kind, extracted.warning, extracted.pages)


# ---------------------------------------------------------------- splitting

def is_debris(line: str) -> bool:
    """Web-page leftovers: a long run of the same few tokens (icon names, menu items), no prose."""
    tokens = [t.lower() for t in re.findall(r"[A-Za-z]+", line)]
    if len(tokens) < 12:
        return False
    sentence_marks = len(re.findall(r"[.!?][\"'”’]?(?:\s|$)", line))
    if sentence_marks > 1:
        return False
    repeated = Counter(t[-4:] for t in tokens).most_common(1)[0][1] / len(tokens)
    function_words = sum(t in STOPWORDS for t in tokens) / len(tokens)
    # Prose is about 40% function words; menus and icon lists have almost none.
    return repeated >= 0.25 or function_words < 0.08


def _is_headline(line: str) -> bool:
    stripped = line.strip().lstrip("#").strip()
    n_words = len(stripped.split())
    return 0 < n_words <= 20 and not stripped.endswith((".", ",", ";", ":")) and not stripped.startswith(("\"", "“"))


@dataclass
class _Piece:
    """A run of kept text: lines [line_start, line_end] and chars [start, end) of the article."""

    line_start: int
    line_end: int
    start: int
    end: int


def split_document(
    source: str, text: str, meta_title: str = "", meta_date: str | None = None, pages: tuple[int, ...] = ()
) -> Document:
    """Blank-line paragraphs, with the article's date, title and page debris handled.

    Line numbers are 1-based and match the file as an editor shows it (or the extracted text). The date
    is the file's metadata, else a date line, else a dateline opening the first paragraph; `pages` are
    the lines of a PDF's page markers, which separate passages and are never part of one.
    """
    lines = text.split("\n")
    offsets = []
    pos = 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1

    article_date: str | None = None
    title = ""
    seen_prose = False
    blocks: list[list[_Piece]] = []
    current: list[_Piece] = []
    in_front_matter = lines and lines[0].strip() == "---" and source.lower().endswith((".md", ".markdown"))

    markers = set(pages)
    for i, line in enumerate(lines):
        number = i + 1
        if number in markers:
            line = ""
        if in_front_matter:
            if i > 0 and line.strip() in ("---", "..."):
                in_front_matter = False
            elif article_date is None:
                m = re.match(r"^\s*date\s*:\s*['\"]?(\d{4}-\d{2}-\d{2})", line)
                if m:
                    article_date = m.group(1)
            if i > 0 and not in_front_matter:
                continue
            if in_front_matter:
                continue
        if not line.strip():
            if current:
                blocks.append(current)
                current = []
            continue
        start, end = offsets[i], offsets[i] + len(line)
        if not seen_prose:
            if is_debris(line):
                continue
            found, consumed = parse_date_line(line)
            if found:
                article_date = article_date or found
                start += consumed
                if not line[consumed:].strip():
                    continue
            candidate = text[start:end]
            if not title and _is_headline(candidate):
                title = candidate.strip().lstrip("#").strip()
            elif title and candidate.strip().lstrip("#").strip() == title:
                continue  # the headline repeated by the page layout
            if len(candidate.split()) > 20:
                seen_prose = True
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        current.append(_Piece(number, number, start, end))
    if current:
        blocks.append(current)

    if pages:
        blocks = [b for group in _by_page(blocks, pages) for b in _merge_tiny(group, text)]
    else:
        blocks = _merge_tiny(blocks, text)
    title = meta_title or title
    article_date = meta_date or article_date or _dateline(text, blocks)
    passages = [_make(source, text, block, title, article_date) for block in blocks]
    passages = [p for chunk in passages for p in _split_long(chunk, text)]
    passages = [
        Passage(p.source, n, p.line_start, p.line_end, p.char_start, p.char_end, p.text, title, article_date,
                bisect_right(pages, p.line_start) or None if pages else None)
        for n, p in enumerate(passages, start=1)
    ]
    return Document(source, text, title, article_date, tuple(passages))


def _by_page(blocks: list[list[_Piece]], pages: tuple[int, ...]) -> list[list[list[_Piece]]]:
    """Blocks grouped by page: tiny fragments merge within their page, so a passage has one page."""
    groups: dict[int, list[list[_Piece]]] = {}
    for block in blocks:
        groups.setdefault(bisect_right(pages, block[0].line_start), []).append(block)
    return [groups[k] for k in sorted(groups)]


def _dateline(text: str, blocks: list[list[_Piece]]) -> str | None:
    """The date of a dateline opening one of the first paragraphs, up to the first long (prose) one."""
    for block in blocks[:3]:
        first = text[block[0].start : block[0].end]
        found = dateline_date(first)
        if found or len(first.split()) > 20:
            return found
    return None


def _block_words(block: list[_Piece], text: str) -> int:
    return sum(len(text[p.start : p.end].split()) for p in block)


def _merge_tiny(blocks: list[list[_Piece]], text: str) -> list[list[_Piece]]:
    """Fold fragments shorter than MIN_PASSAGE_WORDS into the next block (the previous one at the end)."""
    merged: list[list[_Piece]] = []
    carry: list[_Piece] = []
    for block in blocks:
        block = carry + block
        carry = []
        if _block_words(block, text) < MIN_PASSAGE_WORDS:
            carry = block
            continue
        merged.append(block)
    if carry:
        if merged:
            merged[-1] = merged[-1] + carry
        else:
            merged.append(carry)
    return merged


def _make(source: str, text: str, block: list[_Piece], title: str, when: str | None) -> Passage:
    body = "\n".join(text[p.start : p.end] for p in block)
    return Passage(source, 0, block[0].line_start, block[-1].line_end, block[0].start, block[-1].end, body, title, when)


def _split_long(passage: Passage, text: str) -> list[Passage]:
    """Split a passage longer than the model's window at sentence boundaries (words, if it must)."""
    if estimate_wordpieces(passage.text) <= MAX_PASSAGE_PIECES:
        return [passage]
    body = passage.text
    spans = []
    for a, b in sentence_spans(body):
        spans.extend(_split_words(body, a, b))
    chunks: list[tuple[int, int]] = []
    cur_start, cur_end = spans[0]
    for a, b in spans[1:]:
        if estimate_wordpieces(body[cur_start:b]) <= MAX_PASSAGE_PIECES:
            cur_end = b
        else:
            chunks.append((cur_start, cur_end))
            cur_start, cur_end = a, b
    chunks.append((cur_start, cur_end))
    out = []
    for a, b in chunks:
        # Map offsets in the joined body back to the article: the body joins pieces with "\n",
        # which are the article's own newlines whenever the pieces are adjacent lines.
        start, end = _locate(passage, text, a, b)
        out.append(Passage(
            passage.source, 0,
            text.count("\n", 0, start) + 1, text.count("\n", 0, end) + 1,
            start, end, body[a:b], passage.title, passage.date,
        ))
    return out


def _split_words(body: str, a: int, b: int) -> list[tuple[int, int]]:
    if estimate_wordpieces(body[a:b]) <= MAX_PASSAGE_PIECES:
        return [(a, b)]
    out = []
    start = a
    last_good = None
    for m in re.finditer(r"\S+", body[a:b]):
        end = a + m.end()
        if estimate_wordpieces(body[start:end]) > MAX_PASSAGE_PIECES and last_good is not None:
            out.append((start, last_good))
            start = a + m.start()
        last_good = end
    out.append((start, b))
    return out


def _locate(passage: Passage, text: str, a: int, b: int) -> tuple[int, int]:
    """Article offsets of body[a:b]; exact when the passage is contiguous in the article."""
    body = passage.text
    if text[passage.char_start : passage.char_end] == body:
        return passage.char_start + a, passage.char_start + b
    found = text.find(body[a:b], passage.char_start, passage.char_end)
    if found >= 0:
        return found, found + (b - a)
    return passage.char_start, passage.char_end
