"""The on-disk index: generations of (FAISS vectors, SQLite passage table, meta.json).

Layout of the index folder:
    CURRENT          name of the live generation, replaced atomically
    gen-000007/      meta.json, vectors.faiss (IndexIDMap2 over inner product), passages.sqlite
A rebuild writes a whole new generation beside the live one and then switches CURRENT, so a crash
at any moment leaves the previous generation intact, and readers never see a half-written index.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .documents import SPLITTER_VERSION, Passage
from .errors import IndexDamaged, IndexMismatch, IndexMissing

if TYPE_CHECKING:
    import numpy as np

FORMAT_VERSION = 4  # 3: term frequencies keyed by the current stemmer; 4: passages.page (PDF pages)
# Above this many passages, an IVF index answers searches (a flat scan of 100k float32 vectors is
# memory-bound at ~30 ms here); vectors.faiss stays the exact, flat source of truth.
IVF_THRESHOLD = 50_000
IVF_NPROBE = 24
_GEN = re.compile(r"^gen-(\d{6})$")
REBUILD_HINT = "Run `qa index --full` to rebuild it."

SCHEMA = """
CREATE TABLE files (
    source TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT,
    title TEXT, date TEXT, passages INTEGER
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL, paragraph INTEGER, line_start INTEGER,
    line_end INTEGER, char_start INTEGER, char_end INTEGER, text TEXT NOT NULL, key TEXT NOT NULL,
    title TEXT, date TEXT, page INTEGER
);
CREATE INDEX passages_source ON passages(source);
CREATE INDEX passages_key ON passages(key);
CREATE VIRTUAL TABLE passages_fts USING fts5(text, tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TABLE terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class FileRecord:
    source: str
    size: int
    mtime_ns: int
    sha256: str
    title: str
    date: str | None
    passages: int


@dataclass
class Meta:
    format_version: int
    model: str
    dimension: int
    splitter_version: int
    normalized: bool = True
    metric: str = "inner_product"
    files: int = 0
    passages: int = 0
    next_id: int = 1
    built_at: str = ""
    build_seconds: float = 0.0
    generation: str = ""
    file_sizes: dict[str, int] = field(default_factory=dict)
    ivf_trained_at: int = 0  # passage count when the IVF search index was trained (0: none)
    # What computed the vectors: another backend's (or quantization's) vectors are not comparable.
    # An index from before these fields was built by sentence-transformers on torch.
    backend: str = "torch"
    quantization: str = "none"

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)


def current_generation(index_dir: Path) -> Path | None:
    try:
        name = (index_dir / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexDamaged(f"The index pointer {index_dir / 'CURRENT'} cannot be read ({exc.strerror}).", REBUILD_HINT) from exc
    if not _GEN.match(name):
        raise IndexDamaged(f"The index pointer {index_dir / 'CURRENT'} is garbled.", REBUILD_HINT)
    return index_dir / name


def read_meta(gen_dir: Path) -> Meta:
    path = gen_dir / "meta.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        meta = Meta(**raw)
    except FileNotFoundError as exc:
        raise IndexDamaged(f"The index metadata {path} is missing.", REBUILD_HINT) from exc
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise IndexDamaged(f"The index metadata {path} is damaged.", REBUILD_HINT) from exc
    return meta


def check_compatible(meta: Meta, model: str, backend: str | None = None, quantization: str | None = None) -> None:
    """Refuse an index whose vectors this configuration would not reproduce (backend/quantization: when given)."""
    if meta.format_version != FORMAT_VERSION:
        raise IndexMismatch(f"The index was written in format {meta.format_version}; this version reads format {FORMAT_VERSION}.", REBUILD_HINT)
    if meta.model != model:
        raise IndexMismatch(f"The index was built with model {meta.model!r}, but {model!r} is configured.", REBUILD_HINT)
    if backend is not None and (meta.backend, meta.quantization) != (backend, quantization or "none"):
        built, now = _backend_label(meta.backend, meta.quantization), _backend_label(backend, quantization or "none")
        raise IndexMismatch(f"The index was built with the {built} backend, but {now} is configured.", REBUILD_HINT)
    if meta.splitter_version != SPLITTER_VERSION:
        raise IndexMismatch("The index was built by an older paragraph splitter.", REBUILD_HINT)


def _backend_label(backend: str, quantization: str) -> str:
    return backend if quantization == "none" else f"{backend} ({quantization})"


def _passage_from_row(row) -> Passage:
    return Passage(row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[9] or "", row[10], row[11])


_PASSAGE_COLUMNS = "id, source, paragraph, line_start, line_end, char_start, char_end, text, key, title, date, page"


class Index:
    """A loaded generation, read-only. Safe to share between threads; keeps working after a rebuild."""

    def __init__(self, gen_dir: Path, meta: Meta, vectors, db: sqlite3.Connection, search_index=None) -> None:
        self.gen_dir = gen_dir
        self.meta = meta
        self.vectors = vectors  # faiss.IndexIDMap2 over a flat index: exact vectors, by id
        self.search_index = search_index or vectors  # IVF for large sets, else the flat index
        self._db = db
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: Path, model: str | None = None) -> "Index":
        gen_dir = current_generation(index_dir)
        if gen_dir is None:
            raise IndexMissing(f"No index in {index_dir}.", "Run `qa index` to build it.")
        meta = read_meta(gen_dir)
        if model is not None:
            check_compatible(meta, model)
        import faiss

        # One query at a time gains nothing from OpenMP threads, whose spin-waiting slows the
        # model's next forward pass several-fold on a 2-core laptop.
        faiss.omp_set_num_threads(1)
        vectors = _read_faiss(gen_dir, meta)
        search_index = _read_faiss(gen_dir, meta, "search.faiss") if meta.ivf_trained_at else None
        if search_index is not None:
            search_index.nprobe = IVF_NPROBE
        db = _open_db(gen_dir / "passages.sqlite", readonly=True)
        try:
            count = db.execute("SELECT count(*) FROM passages").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            db.close()
            raise IndexDamaged(f"The passage table in {gen_dir} is damaged ({exc}).", REBUILD_HINT) from exc
        if count != meta.passages or vectors.ntotal != meta.passages:
            db.close()
            raise IndexDamaged(f"The index in {gen_dir} is inconsistent ({count} passages, {vectors.ntotal} vectors, {meta.passages} expected).", REBUILD_HINT)
        return cls(gen_dir, meta, vectors, db, search_index)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def is_current(self) -> bool:
        """False once a rebuild has switched to a newer generation."""
        try:
            return current_generation(self.gen_dir.parent) == self.gen_dir
        except IndexDamaged:
            return True

    # ------------------------------------------------------------ reads

    def _query(self, sql: str, args=()) -> list:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise IndexDamaged(f"The passage table in {self.gen_dir} is damaged ({exc}).", REBUILD_HINT) from exc

    def passages(self, ids: list[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        for begin in range(0, len(ids), 500):
            chunk = [int(i) for i in ids[begin : begin + 500]]
            marks = ",".join("?" * len(chunk))
            for row in self._query(f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE id IN ({marks})", chunk):
                out[row[0]] = _passage_from_row(row)
        return out

    def keys(self, ids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for begin in range(0, len(ids), 500):
            chunk = [int(i) for i in ids[begin : begin + 500]]
            marks = ",".join("?" * len(chunk))
            out.update(self._query(f"SELECT id, key FROM passages WHERE id IN ({marks})", chunk))
        return out

    def ids_with_key(self, keys: list[str]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for begin in range(0, len(keys), 500):
            chunk = keys[begin : begin + 500]
            marks = ",".join("?" * len(chunk))
            for pid, key in self._query(f"SELECT id, key FROM passages WHERE key IN ({marks})", chunk):
                out.setdefault(key, []).append(pid)
        return out

    def passages_of(self, source: str) -> list[Passage]:
        rows = self._query(f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE source = ? ORDER BY paragraph", (source,))
        return [_passage_from_row(r) for r in rows]

    def ids_between(self, since: str | None, until: str | None, include_undated: bool = False) -> list[int]:
        sql, args = "SELECT id FROM passages WHERE (date IS NOT NULL", []
        if since:
            sql += " AND date >= ?"
            args.append(since)
        if until:
            sql += " AND date <= ?"
            args.append(until)
        sql += ") OR date IS NULL" if include_undated else ")"
        return [r[0] for r in self._query(sql, args)]

    def files(self) -> dict[str, FileRecord]:
        rows = self._query("SELECT source, size, mtime_ns, sha256, title, date, passages FROM files")
        return {r[0]: FileRecord(*r) for r in rows}

    def sources(self) -> list[str]:
        return [r[0] for r in self._query("SELECT source FROM files ORDER BY source")]

    def keyword_search(self, match: str, k: int, ids: list[int] | None = None) -> list[tuple[int, float]]:
        """BM25 over the FTS5 table; scores returned positive (higher is better)."""
        if not match:
            return []
        sql = "SELECT rowid, bm25(passages_fts) AS s FROM passages_fts WHERE passages_fts MATCH ?"
        args: list = [match]
        if ids is not None:
            if not ids:
                return []
            sql += f" AND rowid IN ({','.join(str(int(i)) for i in ids)})"
        sql += " ORDER BY s LIMIT ?"
        args.append(k)
        try:
            return [(r[0], -r[1]) for r in self._query(sql, args)]
        except IndexDamaged:
            raise
        except sqlite3.OperationalError:
            return []

    def all_vectors(self) -> tuple["np.ndarray", "np.ndarray"]:
        """(ids, vectors) of every passage, in storage order."""
        return vectors_of(self.vectors)

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        """Passages containing each (stemmed content) term; absent terms are 0."""
        out = dict.fromkeys(terms, 0)
        if terms:
            marks = ",".join("?" * len(terms))
            out.update(self._query(f"SELECT term, df FROM terms WHERE term IN ({marks})", list(terms)))
        return out


def vectors_of(index) -> tuple["np.ndarray", "np.ndarray"]:
    import faiss
    import numpy as np

    flat = faiss.downcast_index(index.index)
    n, d = index.ntotal, index.d
    ids = faiss.vector_to_array(index.id_map).astype("int64")
    vecs = faiss.vector_to_array(flat.codes).view("float32").reshape(n, d) if n else np.zeros((0, d), "float32")
    return ids, vecs


def new_vector_index(dimension: int):
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def _read_faiss(gen_dir: Path, meta: Meta, name: str = "vectors.faiss"):
    import faiss

    path = gen_dir / name
    expected = meta.file_sizes.get(name)
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise IndexDamaged(f"The vector file {path} is missing.", REBUILD_HINT) from exc
    if expected is not None and size != expected:
        raise IndexDamaged(f"The vector file {path} is truncated or altered ({size} bytes, {expected} expected).", REBUILD_HINT)
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexDamaged(f"The vector file {path} is damaged.", REBUILD_HINT) from exc
    if index.d != meta.dimension:
        raise IndexDamaged(f"The vector file {path} has dimension {index.d}, expected {meta.dimension}.", REBUILD_HINT)
    return index


def _open_db(path: Path, readonly: bool) -> sqlite3.Connection:
    if not path.exists():
        raise IndexDamaged(f"The passage table {path} is missing.", REBUILD_HINT)
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    try:
        db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        if readonly:
            # Memory-mapped reads and a larger page cache: keyword search touches many pages.
            db.execute("PRAGMA mmap_size = 1073741824")
            db.execute("PRAGMA cache_size = -65536")
    except sqlite3.DatabaseError as exc:
        raise IndexDamaged(f"The passage table {path} is damaged ({exc}).", REBUILD_HINT) from exc
    return db


# ---------------------------------------------------------------- writing a generation


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class GenerationWriter:
    """Writes the next generation in a private folder; `commit()` makes it live atomically.

    Starts from a copy of the base generation (incremental) or from nothing (full build).
    """

    def __init__(self, index_dir: Path, base: Index | None, meta: Meta) -> None:
        self.index_dir = index_dir
        numbers = [int(m.group(1)) for p in index_dir.iterdir() if (m := _GEN.match(p.name))] if index_dir.exists() else []
        self.name = f"gen-{max(numbers, default=0) + 1:06d}"
        self.tmp_dir = index_dir / f".{self.name}.tmp-{os.getpid()}"
        if self.tmp_dir.exists():
            shutil.rmtree(self.tmp_dir)
        self.tmp_dir.mkdir(parents=True)
        self.meta = meta
        self.db_path = self.tmp_dir / "passages.sqlite"
        self.db = sqlite3.connect(self.db_path)
        self.base_search = base.search_index if (base is not None and base.search_index is not base.vectors) else None
        self.removed_ids: list[int] = []
        self.first_new_id = meta.next_id  # ids at or above this were added by this writer
        if base is not None:
            with base._lock:
                base._db.backup(self.db)
            import faiss

            self.vectors = faiss.clone_index(base.vectors)
        else:
            self.db.executescript(SCHEMA)
            self.vectors = new_vector_index(meta.dimension)
        self.db.execute("PRAGMA journal_mode = OFF")  # a private file: atomicity comes from the rename
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("BEGIN")

    def remove_sources(self, sources: list[str]) -> list[int]:
        import numpy as np

        removed: list[int] = []
        for source in sources:
            rows = self.db.execute("SELECT id, text FROM passages WHERE source = ?", (source,)).fetchall()
            ids = [r[0] for r in rows]
            removed.extend(ids)
            self._count_terms([r[1] for r in rows], -1)
            self.db.execute("DELETE FROM passages WHERE source = ?", (source,))
            self.db.execute("DELETE FROM files WHERE source = ?", (source,))
            self.db.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(i,) for i in ids])
        if removed:
            self.vectors.remove_ids(np.asarray(removed, dtype="int64"))
            self.removed_ids.extend(removed)
        return removed

    def _count_terms(self, texts: list[str], sign: int) -> None:
        """Keep per-term document frequencies in step: the answerer's IDF weights read them."""
        from collections import Counter

        from .text import content_terms

        counts = Counter(t for text in texts for t in set(content_terms(text)))
        self.db.executemany(
            "INSERT INTO terms (term, df) VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
            [(t, sign * n) for t, n in counts.items()],
        )
        if sign < 0:
            self.db.execute("DELETE FROM terms WHERE df <= 0")

    def add_passages(self, passages: list[Passage], vectors: "np.ndarray") -> None:
        import numpy as np

        if not passages:
            return
        first = self.meta.next_id
        ids = np.arange(first, first + len(passages), dtype="int64")
        self.meta.next_id = first + len(passages)
        rows = [
            (int(i), p.source, p.paragraph, p.line_start, p.line_end, p.char_start, p.char_end, p.text, p.key, p.title, p.date, p.page)
            for i, p in zip(ids, passages)
        ]
        self.db.executemany(f"INSERT INTO passages ({_PASSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        self.db.executemany("INSERT INTO passages_fts (rowid, text) VALUES (?, ?)", [(r[0], r[7]) for r in rows])
        self._count_terms([p.text for p in passages], +1)
        self.vectors.add_with_ids(np.ascontiguousarray(vectors, dtype="float32"), ids)

    def put_file(self, record: FileRecord) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO files (source, size, mtime_ns, sha256, title, date, passages) VALUES (?,?,?,?,?,?,?)",
            (record.source, record.size, record.mtime_ns, record.sha256, record.title, record.date, record.passages),
        )

    def rename_file(self, old: str, record: FileRecord) -> None:
        """A moved file keeps its passages (and vectors); only the path changes."""
        self.db.execute("DELETE FROM files WHERE source = ?", (old,))
        self.db.execute("UPDATE passages SET source = ?, title = ?, date = ? WHERE source = ?", (record.source, record.title, record.date, old))
        self.put_file(record)

    def commit(self, build_seconds: float) -> Path:
        import faiss

        self.db.execute("COMMIT")
        counts = self.db.execute("SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM passages)").fetchone()
        self.db.close()
        faiss.write_index(self.vectors, str(self.tmp_dir / "vectors.faiss"))
        self.meta.files, self.meta.passages = counts
        if self.vectors.ntotal != self.meta.passages:
            raise IndexDamaged(f"Internal error: {self.vectors.ntotal} vectors for {self.meta.passages} passages.", REBUILD_HINT)
        names = ["vectors.faiss", "passages.sqlite"]
        search = self._search_index()
        if search is not None:
            faiss.write_index(search, str(self.tmp_dir / "search.faiss"))
            names.append("search.faiss")
        self.meta.generation = self.name
        self.meta.built_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.meta.build_seconds = round(build_seconds, 3)
        self.meta.file_sizes = {name: (self.tmp_dir / name).stat().st_size for name in names}
        (self.tmp_dir / "meta.json").write_text(self.meta.to_json(), encoding="utf-8")
        for name in names + ["meta.json"]:
            _fsync_file(self.tmp_dir / name)
        final = self.index_dir / self.name
        os.rename(self.tmp_dir, final)
        pointer = self.index_dir / f".CURRENT.tmp-{os.getpid()}"
        pointer.write_text(self.name + "\n")
        _fsync_file(pointer)
        os.replace(pointer, self.index_dir / "CURRENT")
        _fsync_dir(self.index_dir)
        prune_generations(self.index_dir, keep=final)
        return final

    def _search_index(self):
        """The IVF index for large sets: updated in place from the base's, retrained when the set doubled."""
        import faiss
        import numpy as np

        n = self.vectors.ntotal
        if n < IVF_THRESHOLD:
            self.meta.ivf_trained_at = 0
            return None
        ids, vecs = vectors_of(self.vectors)
        if self.base_search is not None and 0 < self.meta.ivf_trained_at and n <= 2 * self.meta.ivf_trained_at:
            index = faiss.clone_index(self.base_search)
            if self.removed_ids:
                index.remove_ids(np.asarray(self.removed_ids, dtype="int64"))
            have = index.ntotal
            fresh = ids >= self.first_new_id
            if fresh.any():
                index.add_with_ids(np.ascontiguousarray(vecs[fresh]), ids[fresh])
            if index.ntotal == n and have + int(fresh.sum()) == n:
                return index
        nlist = max(64, int(2 * np.sqrt(n)))
        quantizer = faiss.IndexFlatIP(self.meta.dimension)
        index = faiss.IndexIVFFlat(quantizer, self.meta.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10  # centroids only route the search; exact scores come from the lists
        rng = np.random.default_rng(0)
        sample = vecs[rng.choice(n, size=min(n, 40 * nlist), replace=False)]
        index.train(np.ascontiguousarray(sample))
        index.add_with_ids(np.ascontiguousarray(vecs), ids)
        self.meta.ivf_trained_at = n
        return index

    def abort(self) -> None:
        try:
            self.db.close()
        finally:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)


def touch_files(index: Index, records: list[FileRecord]) -> None:
    """Record new mtimes of files whose content did not change, in place (one SQLite transaction).

    No new generation is needed: passages and vectors are untouched, and the next rescan costs a stat.
    """
    db = sqlite3.connect(index.gen_dir / "passages.sqlite")
    try:
        with db:
            db.executemany("UPDATE files SET size = ?, mtime_ns = ? WHERE source = ?", [(r.size, r.mtime_ns, r.source) for r in records])
    finally:
        db.close()


def prune_generations(index_dir: Path, keep: Path) -> None:
    """Keep the live generation and the one before it (a reader may still hold it); drop leftovers.

    Leftovers are older generations and private folders of rebuilds that died (we hold the lock,
    so no other writer is running).
    """
    gens = sorted(p for p in index_dir.iterdir() if _GEN.match(p.name))
    keep_set = {keep}
    older = [g for g in gens if g.name < keep.name]
    if older:
        keep_set.add(older[-1])
    for path in index_dir.iterdir():
        stale_tmp = path.name.startswith((".gen-", ".CURRENT.tmp-"))
        if (path in gens and path not in keep_set) or stale_tmp:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
