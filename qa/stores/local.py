"""The embedded store: passage rows in one SQLite file updated by transactions, vectors in immutable segments.

Layout of the index folder:
    CURRENT              name of the live generation; replaced atomically by a full rebuild only
    gen-000007/
        rows.sqlite      files, passages (+ FTS5), term counts, the segment list, tombstones, metadata (WAL mode)
        seg-000003.ids   \\  one segment per update: sorted passage ids and their vectors,
        seg-000003.vec   /   written and fsynced before the transaction that lists them commits
        seg-000001.ivf   IVF search index of a large segment (memory-mapped)

An update writes only what changed: the new rows inside one SQLite transaction, and one new segment file
for the new vectors; deleted passages become tombstones. The transaction's COMMIT is the switch: a crash
before it leaves the previous state (SQLite rolls back; unlisted segment files are orphans the next writer
deletes), after it the new one. Readers hold a read transaction for their lifetime, so they see one
committed state, never a half-applied update. A full rebuild still writes a fresh generation folder and
switches CURRENT, so a damaged index can always be rebuilt beside itself.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..documents import Passage
from ..errors import IndexDamaged, IndexMismatch, IndexMissing
from . import rows as R
from .meta import REBUILD_HINT, FileRecord, Meta, check_compatible
from .segments import IVF_NPROBE, Segment, SegmentInfo

if TYPE_CHECKING:
    import numpy as np

_GEN = re.compile(r"^gen-(\d{6})$")
_SEG = re.compile(r"^(seg-\d{6})\.(ids|vec|ivf)$")
DB_NAME = "rows.sqlite"


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


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if not path.exists():
        if (path.parent / "meta.json").exists():
            raise IndexMismatch(f"The index in {path.parent} was written by an older version (one copy per update).", REBUILD_HINT)
        raise IndexDamaged(f"The passage table {path} is missing.", REBUILD_HINT)
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    try:
        db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        if readonly:
            # A 64 MB page cache and no memory map: at a million passages keyword search touches hundreds of MB of
            # postings, which a map would keep resident in the asking process (peak RSS 2 GB with a 1 GB map).
            db.execute("PRAGMA mmap_size = 0")
            db.execute("PRAGMA cache_size = -65536")
    except sqlite3.DatabaseError as exc:
        raise IndexDamaged(f"The passage table {path} is damaged ({exc}).", REBUILD_HINT) from exc
    return db


def read_meta(gen_dir: Path) -> Meta:
    db = _connect(gen_dir / DB_NAME, readonly=True)
    try:
        return _meta_of(db, gen_dir)
    finally:
        db.close()


def _meta_of(db: sqlite3.Connection, gen_dir: Path) -> Meta:
    try:
        row = db.execute("SELECT value FROM state WHERE key = 'meta'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise IndexDamaged(f"The passage table in {gen_dir} is damaged ({exc}).", REBUILD_HINT) from exc
    if row is None:
        raise IndexDamaged(f"The index metadata in {gen_dir} is missing.", REBUILD_HINT)
    try:
        return Meta.from_json(row[0])
    except (ValueError, TypeError) as exc:
        raise IndexDamaged(f"The index metadata in {gen_dir} is damaged.", REBUILD_HINT) from exc


def _segment_infos(db: sqlite3.Connection) -> list[SegmentInfo]:
    return [SegmentInfo(*r) for r in db.execute("SELECT name, count, dimension, ivf_bytes FROM segments ORDER BY name")]


class LocalStore:
    """One committed state of the local store, read-only. Safe to share between threads; keeps working after updates."""

    kind = "faiss"

    def __init__(self, gen_dir: Path, meta: Meta, db: sqlite3.Connection, segments: list[Segment], dead: "np.ndarray") -> None:
        self.gen_dir = gen_dir
        self.meta = meta
        self.segments = segments
        self.dead = dead  # tombstoned ids, sorted
        self._db = db
        self._probe: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: Path, model: str | None = None) -> "LocalStore":
        gen_dir = current_generation(index_dir)
        if gen_dir is None:
            raise IndexMissing(f"No index in {index_dir}.", "Run `qa index` to build it.")
        try:
            return cls._open(gen_dir, model)
        except IndexDamaged:
            # A segment merged away between reading the list and mapping the file: the next state has its replacement.
            if current_generation(index_dir) != gen_dir or not _vanished(gen_dir):
                raise
            return cls._open(gen_dir, model)

    @classmethod
    def _open(cls, gen_dir: Path, model: str | None) -> "LocalStore":
        import numpy as np

        db = _connect(gen_dir / DB_NAME, readonly=True)
        try:
            db.execute("BEGIN")  # held for this object's life: every read sees this one committed state
            meta = _meta_of(db, gen_dir)
            if model is not None:
                check_compatible(meta, model)
            infos = _segment_infos(db)
            dead = np.fromiter((r[0] for r in db.execute("SELECT id FROM tombstones ORDER BY id")), dtype="int64")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise IndexDamaged(f"The passage table in {gen_dir} is damaged ({exc}).", REBUILD_HINT) from exc
        except BaseException:
            db.close()
            raise
        import faiss

        # One query at a time gains nothing from OpenMP threads, whose spin-waiting slows the
        # model's next forward pass several-fold on a 2-core laptop.
        faiss.omp_set_num_threads(1)
        try:
            segments = [Segment(gen_dir, info, IVF_NPROBE) for info in infos]
        except BaseException:
            db.close()
            raise
        vectors = sum(s.info.count for s in segments) - len(dead)
        if vectors != meta.passages or any(s.info.dimension != meta.dimension for s in segments):
            db.close()
            raise IndexDamaged(f"The index in {gen_dir} is inconsistent ({vectors} vectors, {meta.passages} passages expected).", REBUILD_HINT)
        return cls(gen_dir, meta, db, segments, dead)

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._probe is not None:
                self._probe.close()
            for s in self.segments:
                s.close()

    def is_current(self) -> bool:
        """False once an update committed a newer state, or a full rebuild switched generations."""
        try:
            if current_generation(self.gen_dir.parent) != self.gen_dir:
                return False
            with self._lock:
                if self._probe is None:
                    self._probe = _connect(self.gen_dir / DB_NAME, readonly=True)
                row = self._probe.execute("SELECT value FROM state WHERE key = 'version'").fetchone()
            return row is None or int(row[0]) == self.meta.version
        except (IndexDamaged, IndexMismatch, sqlite3.DatabaseError, ValueError):
            return True  # the next open reports the damage

    # ------------------------------------------------------------ rows

    def _query(self, sql: str, args=()) -> list:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise IndexDamaged(f"The passage table in {self.gen_dir} is damaged ({exc}).", REBUILD_HINT) from exc

    def passages(self, ids: list[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        for chunk in _chunks([int(i) for i in ids]):
            marks = ",".join("?" * len(chunk))
            for row in self._query(f"SELECT {R.COLUMNS} FROM passages WHERE id IN ({marks})", chunk):
                out[row[0]] = R.passage_of(row)
        return out

    def keys(self, ids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in _chunks([int(i) for i in ids]):
            out.update(self._query(f"SELECT id, key FROM passages WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        return out

    def ids_with_key(self, keys: list[str]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for chunk in _chunks(list(keys)):
            for pid, key in self._query(f"SELECT id, key FROM passages WHERE key IN ({','.join('?' * len(chunk))})", chunk):
                out.setdefault(key, []).append(pid)
        return out

    def passages_of(self, source: str) -> list[Passage]:
        rows = self._query(f"SELECT {R.COLUMNS} FROM passages WHERE source = ? ORDER BY paragraph", (source,))
        return [R.passage_of(r) for r in rows]

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

    def file_stats(self) -> list[tuple[str, int, int]]:
        # Plain tuples straight from SQLite: a record object per file costs a second at 100,000 files.
        return self._query("SELECT source, size, mtime_ns FROM files")

    def file_records(self, sources: list[str]) -> dict[str, FileRecord]:
        out: dict[str, FileRecord] = {}
        for chunk in _chunks(list(sources)):
            marks = ",".join("?" * len(chunk))
            for r in self._query(f"SELECT source, size, mtime_ns, sha256, title, date, passages FROM files WHERE source IN ({marks})", chunk):
                out[r[0]] = FileRecord(*r)
        return out

    def files_with_digests(self, digests: list[str]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for chunk in _chunks(list(digests)):
            out += self._query(f"SELECT source, sha256 FROM files WHERE sha256 IN ({','.join('?' * len(chunk))})", chunk)
        return out

    def sources(self) -> list[str]:
        return [r[0] for r in self._query("SELECT source FROM files ORDER BY source")]

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        """Passages containing each (stemmed content) term; absent terms are 0."""
        out = dict.fromkeys(terms, 0)
        if terms:
            out.update(self._query(f"SELECT term, df FROM terms WHERE term IN ({','.join('?' * len(terms))})", list(terms)))
        return out

    def keyword_search(self, terms: list[str], k: int, ids: list[int] | None = None) -> list[tuple[int, float]]:
        """BM25 (FTS5) of passages holding any of the words; scores positive, higher is better."""
        if not terms:
            return []
        sql = "SELECT rowid, bm25(passages_fts) AS s FROM passages_fts WHERE passages_fts MATCH ?"
        args: list = [" OR ".join(f'"{t}"' for t in terms)]  # quoted: no user text is FTS syntax
        if ids is not None:
            if not ids:
                return []
            sql += f" AND rowid IN ({','.join(str(int(i)) for i in ids)})"
        sql += " ORDER BY s LIMIT ?"
        args.append(k)
        with self._lock:
            try:
                return [(r[0], -r[1]) for r in self._db.execute(sql, args).fetchall()]
            except sqlite3.OperationalError:
                return []
            except sqlite3.DatabaseError as exc:
                raise IndexDamaged(f"The passage table in {self.gen_dir} is damaged ({exc}).", REBUILD_HINT) from exc

    # ------------------------------------------------------------ vectors

    def dense_search(self, vector: "np.ndarray", k: int, ids: list[int] | None = None) -> list[tuple[int, float]]:
        """Top k passages by inner product with `vector` (exact on flat segments, IVF + exact re-scoring on large ones)."""
        import numpy as np

        q = np.ascontiguousarray(vector, dtype="float32")
        allowed = None if ids is None else np.unique(np.asarray(ids, dtype="int64"))
        if allowed is not None and not len(allowed):
            return []
        found_ids, found_scores = [], []
        for seg in self.segments:
            dead = self.dead[(self.dead >= seg.ids[0]) & (self.dead <= seg.ids[-1])] if len(self.dead) and seg.info.count else self.dead[:0]
            sid, sc = seg.search(q, k, dead, allowed)
            found_ids.append(sid)
            found_scores.append(sc)
        if not found_ids:
            return []
        all_ids, all_scores = np.concatenate(found_ids), np.concatenate(found_scores)
        order = np.argsort(-all_scores, kind="stable")[:k]
        return [(int(all_ids[i]), float(all_scores[i])) for i in order]

    def get_vectors(self, ids: list[int]) -> "np.ndarray":
        """The stored vectors of `ids`, in that order (read from the mapped segments)."""
        import numpy as np

        want = np.asarray(ids, dtype="int64")
        out = np.zeros((len(want), self.meta.dimension), dtype="float32")
        missing = np.ones(len(want), bool)
        for seg in self.segments:
            hit, rows = seg.positions(want)
            if rows.size:
                out[hit] = seg.vectors[rows]
                missing &= ~hit
        if missing.any():
            raise KeyError(f"no vector for passage ids {want[missing][:5].tolist()}")
        return out

    def vector_count(self) -> int:
        """Live vectors (segments less tombstones): equals the passage rows in a consistent index."""
        return sum(s.info.count for s in self.segments) - len(self.dead)

    def all_vectors(self) -> tuple["np.ndarray", "np.ndarray"]:
        """(ids, vectors) of every live passage."""
        import numpy as np

        ids, vecs = [], []
        for seg in self.segments:
            keep = ~np.isin(seg.ids, self.dead)
            ids.append(np.asarray(seg.ids)[keep])
            vecs.append(np.asarray(seg.vectors)[keep])
        if not ids:
            return np.zeros(0, "int64"), np.zeros((0, self.meta.dimension), "float32")
        return np.concatenate(ids), np.concatenate(vecs)

    def describe(self) -> dict:
        return {"segments": len(self.segments), "ivf_segments": sum(1 for s in self.segments if s.ivf is not None), "tombstones": len(self.dead)}


def _vanished(gen_dir: Path) -> bool:
    """True when the segment list names a file that is gone (a merge dropped it after the list was read)."""
    try:
        db = _connect(gen_dir / DB_NAME, readonly=True)
    except IndexDamaged:
        return False
    try:
        names = [i.name for i in _segment_infos(db)]
    except sqlite3.DatabaseError:
        return False
    finally:
        db.close()
    return not all((gen_dir / f"{n}.vec").exists() for n in names)


def _chunks(items: list, size: int = 500):
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]
