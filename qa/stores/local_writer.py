"""Writing the local store: one update per transaction, new vectors in a new segment, merges and compaction.

See local.py for the layout and docs/stores.md for why a crash at any point leaves a committed state.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..documents import Passage
from ..errors import IndexDamaged
from . import rows as R
from .local import _GEN, _SEG, DB_NAME, LocalStore, _connect, _segment_infos
from .meta import REBUILD_HINT, FileRecord, Meta
from .segments import Segment, SegmentBuilder, SegmentInfo, segment_files

if TYPE_CHECKING:
    import numpy as np

# More segments than this and the writer merges the small ones (the largest is left alone unless the
# others add up to half of it), so a search visits a bounded number of segments.
MAX_SEGMENTS = 8


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
        fd = os.open(self.folder / DB_NAME, os.O_RDONLY)  # written without SQLite's syncs: durable before the switch
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
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


def settle(index_dir: Path) -> None:
    """Copy the write-ahead log into the database and truncate it, once the writer's own reader is closed.

    While any reader holds an older state the log cannot be copied past it; left alone, a compaction's
    gigabytes of log would be rescanned by every new reader (a 20 s open) and copied by the next update.
    Readers still open elsewhere only make this partial; the next update's commit copies the rest.
    """
    from .local import current_generation

    gen = current_generation(index_dir)
    if gen is None or not (gen / DB_NAME).exists():
        return
    db = _connect(gen / DB_NAME, readonly=False)
    try:
        # Never wait for readers: an open chat holds one, and a waiting checkpoint held every rebuild for the
        # connection's 30 s busy timeout. Busy, it copies what it can and the next update does the rest.
        db.execute("PRAGMA busy_timeout = 0")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.OperationalError:
        pass  # busy: a reader in another process; nothing is lost, the log is only longer
    finally:
        db.close()


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
