"""File formats: each module turns the bytes of one kind of file into an `Extracted` text.

documents.py splits every kind the same way, so a citation's lines are lines of the extracted text.
Plain text is read in-process (it is cheap and safe); web pages, PDFs and Word files are parsed in a
child process with a time and memory limit (sandbox.py), and their text is cached by content hash
(cache.py), so the source viewer and a full rebuild need not parse them again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import import_module

# Bump when any extractor's output changes: cached texts of the old version are not reused.
EXTRACTOR_VERSION = 1

# Extension -> kind; a kind is the module in this package that reads it.
KINDS = {
    ".txt": "text",
    ".md": "text",
    ".markdown": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
SUFFIXES = frozenset(KINDS)
LABELS = {"text": "text", "html": "HTML", "pdf": "PDF", "docx": "DOCX"}


class Unreadable(Exception):
    """A file that cannot be read as its kind; the message is the skip reason shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def short_reason(exc: BaseException) -> str:
    """A parser's complaint, one line and short, for a skip reason: its message, else its class name."""
    text = " ".join(str(exc).split()).strip("'\"") or type(exc).__name__
    return text[:80]


@dataclass(frozen=True)
class Limits:
    """Bounds on one file's parse, on top of the file-size limit applied at discovery."""

    seconds: float = 60.0
    memory_mb: int = 1024
    max_pages: int = 2000  # a PDF bomb has thousands of (often empty) pages
    max_chars: int = 20_000_000  # extracted text, all pages
    max_unzipped_mb: int = 256  # a zip bomb .docx inflates to gigabytes


@dataclass(frozen=True)
class Extracted:
    kind: str  # "text", "html", "pdf", "docx"
    text: str  # cleaned; lines are what citations count
    title: str = ""
    date: str | None = None  # ISO date from the file's own metadata
    author: str = ""
    pages: tuple[int, ...] = ()  # PDF: the line number of each page's marker line, page 1 first
    warning: str = ""  # said once in the build report, e.g. "no main text found; read the whole page"

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> "Extracted":
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("text"), str) or not isinstance(data.get("kind"), str):
            raise ValueError("not an extracted text")
        data["pages"] = tuple(int(n) for n in data.get("pages") or ())
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)


def kind_of(name: str) -> str | None:
    dot = name.rfind(".")
    return KINDS.get(name[dot:].lower()) if dot >= 0 else None


def extract_bytes(kind: str, data: bytes, limits: Limits = Limits()) -> Extracted:
    """Parse in this process (the sandbox's worker calls this); raises Unreadable with a reason."""
    module = import_module(f"{__name__}.{kind}")
    return module.extract(data, limits)


def page_marker(number: int) -> str:
    """The line standing for a page break in a PDF's extracted text (never part of a passage)."""
    return f"[page {number}]"


def saved_page_folder(folder: str, files: list[str]) -> bool:
    """`Page_files/` beside `Page.html`: what a browser's "save complete page" puts there (scripts, styles,
    ad frames) is not an article."""
    if not folder.endswith("_files"):
        return False
    stem = folder[: -len("_files")]
    return any(name.lower() in (f"{stem}.html".lower(), f"{stem}.htm".lower()) for name in files)
