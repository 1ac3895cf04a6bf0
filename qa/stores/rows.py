"""The local store's SQLite rows: schema and the statements shared by its reader and writer.

Passage columns follow the Passage dataclass, so a field added there (a page number) is stored without
touching this file: ints become INTEGER columns, everything else TEXT.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections import Counter

from ..documents import Passage
from .meta import FileRecord, Meta, passage_fields

FIELDS = passage_fields()
COLUMNS = ", ".join(["id", *FIELDS, "key"])


def _column_type(name: str) -> str:
    hint = {f.name: str(f.type) for f in dataclasses.fields(Passage)}[name]
    return "INTEGER" if hint.split("|")[0].strip() == "int" else "TEXT"


def schema() -> str:
    cols = ",\n    ".join(f"{name} {_column_type(name)}" + (" NOT NULL" if name in ("source", "text") else "") for name in FIELDS)
    return f"""
CREATE TABLE files (
    source TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT,
    title TEXT, date TEXT, passages INTEGER
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY,
    {cols},
    key TEXT NOT NULL
);
CREATE INDEX passages_source ON passages(source);
CREATE INDEX passages_key ON passages(key);
CREATE INDEX passages_date ON passages(date) WHERE date IS NOT NULL;
CREATE VIRTUAL TABLE passages_fts USING fts5(text, tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TABLE terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE segments (name TEXT PRIMARY KEY, count INTEGER NOT NULL, dimension INTEGER NOT NULL, ivf_bytes INTEGER NOT NULL);
CREATE TABLE tombstones (id INTEGER PRIMARY KEY);
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def passage_of(row) -> Passage:
    values = dict(zip(FIELDS, row[1 : 1 + len(FIELDS)]))
    if "title" in values and values["title"] is None:
        values["title"] = ""
    return Passage(**values)


def insert_passages(db: sqlite3.Connection, ids: list[int], passages: list[Passage]) -> None:
    rows = [(i, *(getattr(p, f) for f in FIELDS), p.key) for i, p in zip(ids, passages)]
    marks = ",".join("?" * (len(FIELDS) + 2))
    db.executemany(f"INSERT INTO passages ({COLUMNS}) VALUES ({marks})", rows)
    db.executemany("INSERT INTO passages_fts (rowid, text) VALUES (?, ?)", [(i, p.text) for i, p in zip(ids, passages)])
    count_terms(db, [p.text for p in passages], +1)


def count_terms(db: sqlite3.Connection, texts: list[str], sign: int) -> None:
    """Keep per-term document frequencies in step: the answerer's IDF weights read them."""
    from ..text import content_terms

    counts = Counter(t for text in texts for t in set(content_terms(text)))
    db.executemany(
        "INSERT INTO terms (term, df) VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
        sorted((t, sign * n) for t, n in counts.items()),
    )
    if sign < 0 and counts:
        db.executemany("DELETE FROM terms WHERE term = ? AND df <= 0", [(t,) for t in counts])


def put_file(db: sqlite3.Connection, record: FileRecord) -> None:
    db.execute(
        "INSERT OR REPLACE INTO files (source, size, mtime_ns, sha256, title, date, passages) VALUES (?,?,?,?,?,?,?)",
        (record.source, record.size, record.mtime_ns, record.sha256, record.title, record.date, record.passages),
    )


def put_state(db: sqlite3.Connection, meta: Meta) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", [("meta", meta.to_json()), ("version", str(meta.version))]
    )
