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

import os
import re
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..documents import Passage
from ..errors import IndexDamaged, IndexMismatch, IndexMissing
from . import rows as R
from .meta import REBUILD_HINT, FileRecord, Meta, check_compatible
from .segments import IVF_NPROBE, Segment, SegmentBuilder, SegmentInfo, segment_files

if TYPE_CHECKING:
    import numpy as np

_GEN = re.compile(r"^gen-(\d{6})$")
_SEG = re.compile(r"^(seg-\d{6})\.(ids|vec|ivf)$")
DB_NAME = "rows.sqlite"
# More segments than this and the writer merges the small ones (the largest is left alone unless the
# others add up to half of it), so a search visits a bounded number of segments.
MAX_SEGMENTS = 8


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
            # Memory-mapped reads and a larger page cache: keyword search touches many pages.
            db.execute("PRAGMA mmap_size = 1073741824")
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

    def ids_between(self, since: str | None, until: str | None) -> list[int]:
        sql, args = "SELECT id FROM passages WHERE date IS NOT NULL", []
        if since:
            sql += " AND date >= ?"
            args.append(since)
        if until:
            sql += " AND date <= ?"
            args.append(until)
        return [r[0] for r in self._query(sql, args)]

    def files(self) -> dict[str, FileRecord]:
        rows = self._query("SELECT source, size, mtime_ns, sha256, title, date, passages FROM files")
        return {r[0]: FileRecord(*r) for r in rows}

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


# ---------------------------------------------------------------- writing


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sqlite_commit(db: sqlite3.Connection) -> None:
    """The switch of an update: before it the previous state is live, after it the new one."""
    db.execute("COMMIT")


def switch_current(index_dir: Path, name: str) -> None:
    pointer = index_dir / f".CURRENT.tmp-{os.getpid()}"
    pointer.write_text(name + "\n")
    fd = os.open(pointer, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(pointer, index_dir / "CURRENT")
    _fsync_dir(index_dir)


class LocalWriter:
    """Applies one update in a transaction; `commit()` makes it live atomically.

    With a base store, the update goes into the base's generation in place (writes proportional to the
    change); without one (a full build), into a fresh generation folder switched in by CURRENT.
    """

    def __init__(self, index_dir: Path, base: LocalStore | None, meta: Meta) -> None:
        self.index_dir = index_dir
        self.base = base
        self.meta = meta
        self.meta.store = "faiss"
        self.added = self.removed = 0
        if base is not None:
            self.folder = base.gen_dir
            self.name = base.gen_dir.name
            self.tmp_dir = None
            self.meta.version = base.meta.version + 1
            self.db = _connect(self.folder / DB_NAME, readonly=False)
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("BEGIN IMMEDIATE")
            self._delete_orphans()
        else:
            index_dir.mkdir(parents=True, exist_ok=True)
            numbers = [int(m.group(1)) for p in index_dir.iterdir() if (m := _GEN.match(p.name))]
            self.name = f"gen-{max(numbers, default=0) + 1:06d}"
            self.tmp_dir = index_dir / f".{self.name}.tmp-{os.getpid()}"
            if self.tmp_dir.exists():
                shutil.rmtree(self.tmp_dir)
            self.tmp_dir.mkdir(parents=True)
            self.folder = self.tmp_dir
            self.meta.version = 1
            self.db = sqlite3.connect(self.folder / DB_NAME, isolation_level=None)
            self.db.executescript(R.schema())
            self.db.execute("PRAGMA journal_mode = OFF")  # a private file until the rename: atomicity comes from CURRENT
            self.db.execute("PRAGMA synchronous = OFF")
            self.db.execute("BEGIN")
        self.meta.generation = self.name
        self._segment: SegmentBuilder | None = None
        self._dropped: list[str] = []  # segments merged away: their files go once the commit is done

    def _segment_name(self) -> str:
        used = [int(r[0][4:]) for r in self.db.execute("SELECT name FROM segments")]
        on_disk = [int(m.group(1)[4:]) for p in self.folder.iterdir() if (m := _SEG.match(p.name))]
        return f"seg-{max(used + on_disk, default=0) + 1:06d}"

    def _delete_orphans(self) -> None:
        """Segment files no committed row lists: left by a writer that died before its commit."""
        listed = {r[0] for r in self.db.execute("SELECT name FROM segments")}
        for p in self.folder.iterdir():
            m = _SEG.match(p.name)
            if m and m.group(1) not in listed:
                p.unlink(missing_ok=True)

    # ------------------------------------------------------------ changes

    def remove_sources(self, sources: list[str]) -> list[int]:
        removed: list[int] = []
        for source in sources:
            rows = self.db.execute("SELECT id, text FROM passages WHERE source = ?", (source,)).fetchall()
            ids = [r[0] for r in rows]
            removed.extend(ids)
            R.count_terms(self.db, [r[1] for r in rows], -1)
            self.db.execute("DELETE FROM passages WHERE source = ?", (source,))
            self.db.execute("DELETE FROM files WHERE source = ?", (source,))
            self.db.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(i,) for i in ids])
            self.db.executemany("INSERT INTO tombstones (id) VALUES (?)", [(i,) for i in ids])
        self.removed += len(removed)
        return removed

    def add_passages(self, passages: list[Passage], vectors: "np.ndarray") -> None:
        import numpy as np

        if not passages:
            return
        first = self.meta.next_id
        ids = np.arange(first, first + len(passages), dtype="int64")
        self.meta.next_id = first + len(passages)
        R.insert_passages(self.db, [int(i) for i in ids], passages)
        if self._segment is None:
            self._segment = SegmentBuilder(self.folder, self._segment_name(), self.meta.dimension)
        self._segment.add(ids, vectors)
        self.added += len(passages)

    def put_file(self, record: FileRecord) -> None:
        R.put_file(self.db, record)

    def rename_file(self, old: str, record: FileRecord) -> None:
        """A moved file keeps its passages (and vectors); only the path changes."""
        self.db.execute("DELETE FROM files WHERE source = ?", (old,))
        self.db.execute("UPDATE passages SET source = ?, title = ?, date = ? WHERE source = ?", (record.source, record.title, record.date, old))
        R.put_file(self.db, record)

    # ------------------------------------------------------------ commit

    def commit(self, build_seconds: float) -> Path:
        if self._segment is not None:
            info = self._segment.finish()
            self._segment = None
            self.db.execute("INSERT INTO segments (name, count, dimension, ivf_bytes) VALUES (?,?,?,?)", (info.name, info.count, info.dimension, info.ivf_bytes))
        if self.base is not None:
            self._dropped += self._merge_small_segments()
        base_passages = self.base.meta.passages if self.base is not None else 0
        self.meta.passages = base_passages + self.added - self.removed
        self.meta.files = self.db.execute("SELECT count(*) FROM files").fetchone()[0]
        self._check_counts()
        self.meta.built_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.meta.build_seconds = round(build_seconds, 3)
        self.meta.extra = {"segments": self.db.execute("SELECT count(*) FROM segments").fetchone()[0]}
        R.put_state(self.db, self.meta)
        _fsync_dir(self.folder)  # the new segment files' names are durable before the rows that list them
        if self.base is not None:
            _sqlite_commit(self.db)
            self.db.close()
            for name in self._dropped:
                for f in segment_files(name):
                    (self.folder / f).unlink(missing_ok=True)
            return self.folder
        _sqlite_commit(self.db)
        self.db.execute("PRAGMA journal_mode = WAL")  # later updates go through the write-ahead log
        self.db.close()
        final = self.index_dir / self.name
        os.rename(self.tmp_dir, final)
        switch_current(self.index_dir, self.name)
        prune_generations(self.index_dir, keep=final)
        return final

    def _check_counts(self) -> None:
        counted = self.db.execute("SELECT coalesce(sum(count), 0) FROM segments").fetchone()[0]
        counted -= self.db.execute("SELECT count(*) FROM tombstones").fetchone()[0]
        if counted != self.meta.passages:
            raise IndexDamaged(f"Internal error: {counted} vectors for {self.meta.passages} passages.", REBUILD_HINT)

    def _merge_small_segments(self) -> list[str]:
        infos = _segment_infos(self.db)
        if len(infos) <= MAX_SEGMENTS:
            return []
        largest = max(infos, key=lambda i: i.count)
        rest = [i for i in infos if i is not largest]
        merge = infos if sum(i.count for i in rest) * 2 >= largest.count else rest
        return self._merge(merge)

    def _merge(self, infos: list[SegmentInfo]) -> list[str]:
        """Rewrite `infos` as one segment without their tombstones; returns the names to delete after commit."""
        import numpy as np

        if not infos:
            return []
        dead = np.fromiter((r[0] for r in self.db.execute("SELECT id FROM tombstones")), dtype="int64")
        opened = [Segment(self.folder, i) for i in infos]
        builder = SegmentBuilder(self.folder, self._segment_name(), self.meta.dimension)
        try:
            parts = [(np.asarray(s.ids), s) for s in opened]
            all_ids = np.concatenate([p[0] for p in parts])
            order = np.argsort(all_ids, kind="stable")
            owner = np.concatenate([np.full(len(p[0]), n) for n, p in enumerate(parts)])[order]
            rows = np.concatenate([np.arange(len(p[0])) for p in parts])[order]
            all_ids = all_ids[order]
            keep = ~np.isin(all_ids, dead)
            all_ids, owner, rows = all_ids[keep], owner[keep], rows[keep]
            for begin in range(0, len(all_ids), 100_000):
                sl = slice(begin, begin + 100_000)
                vecs = np.empty((len(all_ids[sl]), self.meta.dimension), "float32")
                for n, s in enumerate(opened):
                    mask = owner[sl] == n
                    if mask.any():
                        vecs[mask] = s.vectors[rows[sl][mask]]
                builder.add(all_ids[sl], vecs)
            info = builder.finish()
        except BaseException:
            builder.abort()
            raise
        finally:
            for s in opened:
                s.close()
        names = [i.name for i in infos]
        self.db.executemany("DELETE FROM segments WHERE name = ?", [(n,) for n in names])
        self.db.execute("INSERT INTO segments (name, count, dimension, ivf_bytes) VALUES (?,?,?,?)", (info.name, info.count, info.dimension, info.ivf_bytes))
        held = np.concatenate([p[0] for p in parts])
        self.db.executemany("DELETE FROM tombstones WHERE id = ?", [(int(i),) for i in dead[np.isin(dead, held)]])
        return names

    def compact(self) -> list[str]:
        """Merge every segment into one (dropping tombstones, rebuilding the IVF index) and optimize the FTS index."""
        self._dropped += self._merge(_segment_infos(self.db))
        self.db.execute("INSERT INTO passages_fts (passages_fts) VALUES ('optimize')")
        return list(self._dropped)

    def abort(self) -> None:
        try:
            if self._segment is not None:
                self._segment.abort()
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self.db.close()
        finally:
            if self.tmp_dir is not None:
                shutil.rmtree(self.tmp_dir, ignore_errors=True)


def compact(index_dir: Path, base: LocalStore) -> dict:
    """`qa index --compact`: one segment, no tombstones; returns what it did."""
    started = time.perf_counter()
    before = base.describe()
    writer = LocalWriter(index_dir, base, Meta.from_json(base.meta.to_json()))
    try:
        writer.compact()
        writer.commit(base.meta.build_seconds)
    except BaseException:
        writer.abort()
        raise
    return {"segments_before": before["segments"], "tombstones_before": before["tombstones"], "seconds": round(time.perf_counter() - started, 3)}


def delete_orphans(store: LocalStore) -> None:
    """Drop segment files the committed state does not list (a writer died before or just after its commit).

    Called under the writer lock, so `store` is the latest state and no writer is adding files.
    """
    for path in store.gen_dir.parent.iterdir():
        if path.name.startswith((".gen-", ".CURRENT.tmp-")):  # a full rebuild's private folder or pointer
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    listed = {s.info.name for s in store.segments}
    for p in store.gen_dir.iterdir():
        m = _SEG.match(p.name)
        if m and m.group(1) not in listed:
            p.unlink(missing_ok=True)


def touch_files(store: LocalStore, records: list[FileRecord]) -> None:
    """Record new mtimes of files whose content did not change (one small transaction; no new segment)."""
    db = _connect(store.gen_dir / DB_NAME, readonly=False)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.executemany("UPDATE files SET size = ?, mtime_ns = ? WHERE source = ?", [(r.size, r.mtime_ns, r.source) for r in records])
        db.execute("COMMIT")
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
