"""Bring the index up to date with the articles folder, embedding only passages never seen before."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import Settings, require_articles_dir
from .documents import SPLITTER_VERSION, Document, FileEntry, Passage, Skipped, discover, read_document
from .embedding import Embedder, identity
from .errors import BadPath, IndexMissing, QAError
from .formats.cache import TextCache
from .formats.sandbox import ParseCancelled, Sandbox
from .locking import writer_lock
from .stores import FORMAT_VERSION, FileRecord, Meta, Store, backend, check_compatible


class Cancelled(QAError):
    pass


@dataclass(frozen=True)
class BuildProgress:
    phase: str  # "scan", "read", "embed", "write", "done"
    done: int
    total: int
    source: str = ""  # "read": the file being read (a PDF can take a while)


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old, new)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[Skipped] = field(default_factory=list)  # indexed, with a caveat (path, message)
    passages: int = 0  # total in the index afterwards
    embedded: int = 0  # passages sent to the model in this run
    files: int = 0
    seconds: float = 0.0
    full: bool = False
    generation: str = ""
    started: float = 0.0  # perf_counter() at the start, for the build time recorded in meta.json

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.renamed)

    def to_dict(self) -> dict:
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "renamed": len(self.renamed),
            "unchanged": self.unchanged,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "warnings": [{"path": w.path, "message": w.reason} for w in self.warnings],
            "passages": self.passages,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
        }


ProgressFn = Callable[[BuildProgress], None]


def _sha256(entry: FileEntry) -> str:
    digest = hashlib.sha256()
    with open(entry.path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_index(
    settings: Settings,
    embedder: Embedder,
    full: bool = False,
    progress: ProgressFn | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> BuildReport:
    """Update (or, with `full`, rebuild) the index under the writer lock; returns what happened."""
    require_articles_dir(settings)
    started = time.perf_counter()
    with writer_lock(settings.index_dir, settings.lock_wait):
        report = _build_locked(settings, embedder, full, progress or (lambda p: None), cancelled or (lambda: False), started)
        if report.changed_anything or full:
            backend(settings).settle()
    report.seconds = time.perf_counter() - started
    return report


def compact_index(settings: Settings) -> dict:
    """`qa index --compact`: merge the store's segments and drop deleted vectors, under the writer lock."""
    store = backend(settings)
    with writer_lock(settings.index_dir, settings.lock_wait):
        base = store.open(model=None)
        try:
            done = store.compact(base)
        finally:
            base.close()
        store.settle()
        return done


def _build_locked(settings: Settings, embedder: Embedder, full: bool, progress: ProgressFn, cancelled, started: float) -> BuildReport:
    report = BuildReport(full=full, started=started)
    validate = getattr(embedder, "validate", None)
    if validate:
        validate()  # an unknown model fails now, in milliseconds, not after reading the folder
    base: Store | None = None
    store = backend(settings)
    if not full:
        try:
            base = store.open(model=None)
        except IndexMissing:
            base = None
        if base is not None:
            check_compatible(base.meta, embedder.name, *identity(embedder))
            if store.tidy(base):  # a killed writer's leftovers were repaired: read the repaired state
                base.close()
                base = store.open(model=None)
    try:
        # One parsing worker for the whole build, started only if a web page, PDF or Word file changed.
        with Sandbox(settings.limits(), cancelled) as sandbox:
            return _update(settings, store, embedder, base, report, progress, cancelled, sandbox)
    except ParseCancelled:
        raise Cancelled("Rebuild cancelled; the index is unchanged.") from None
    finally:
        if base is not None:
            base.close()


def _update(settings, store, embedder, base: Store | None, report: BuildReport, progress: ProgressFn, cancelled, sandbox: Sandbox) -> BuildReport:
    entries, report.skipped = discover(settings.articles_dir, settings.max_file_bytes)
    progress(BuildProgress("scan", len(entries), len(entries)))

    # 1. Classify by stat against the stored (source, size, mtime) tuples: an unchanged file costs one set
    # look-up, and full records are read only for the files that changed or went (at 100,000 files, a record
    # object per file was most of an update's time).
    stats = base.file_stats() if base is not None else []
    known = set(stats)
    to_read = [e for e in entries if (e.source, e.size, e.mtime_ns) not in known]
    report.unchanged = len(entries) - len(to_read)
    del known
    stored = {s for s, _, _ in stats}
    gone_sources: list[str] = []
    if len(stored) > report.unchanged:  # else every stored file is among the unchanged: none went
        present = {e.source for e in entries}
        gone_sources = [s for s in stored if s not in present]
    old_files = base.file_records([e.source for e in to_read if e.source in stored] + gone_sources) if base is not None else {}
    gone = {s: old_files[s] for s in gone_sources if s in old_files}

    # 2. Read what may have changed; a same-hash file is a touch or a rename, not new content.
    touched: list[FileRecord] = []
    new_docs: list[tuple[FileEntry, Document, str]] = []
    gone_by_hash = {}
    for source, record in gone.items():
        gone_by_hash.setdefault(record.sha256, []).append(source)
    renames: list[tuple[str, FileRecord]] = []
    cache = TextCache(settings.index_dir)
    skipped_digests: set[str] = set()  # their skip reasons stay cached: not parsed again until they change
    for n, entry in enumerate(to_read, start=1):
        if cancelled():
            raise Cancelled("Rebuild cancelled; the index is unchanged.")
        progress(BuildProgress("read", n, len(to_read), entry.source))
        try:
            digest = _sha256(entry)
        except OSError as exc:
            report.skipped.append(Skipped(entry.source, f"cannot read ({exc.strerror or exc})"))
            continue
        old = old_files.get(entry.source)
        if old is not None and old.sha256 == digest:
            touched.append(FileRecord(entry.source, entry.size, entry.mtime_ns, digest, old.title, old.date, old.passages))
            report.unchanged += 1
            continue
        if old is None and gone_by_hash.get(digest):
            # Same bytes as a file that disappeared: a rename. Its title, date and passages are known,
            # so the file is not even parsed.
            source_was = gone_by_hash[digest].pop(0)
            was = gone.pop(source_was)
            renames.append((source_was, FileRecord(entry.source, entry.size, entry.mtime_ns, digest, was.title, was.date, was.passages)))
            report.renamed.append((source_was, entry.source))
            continue
        doc = read_document(entry, sandbox, cache, digest, retry_skipped=report.full)
        if isinstance(doc, Skipped):
            report.skipped.append(doc)
            skipped_digests.add(digest)
            continue
        if doc.warning:
            report.warnings.append(Skipped(entry.source, doc.warning))
        (report.changed if old is not None else report.added).append(entry.source)
        new_docs.append((entry, doc, digest))
    # Files that became unreadable or empty leave the index too: it must not cite what cannot be shown.
    skipped_now = {s.path for s in report.skipped}
    gone.update({s: old_files[s] for s in skipped_now if s in old_files})
    report.removed = sorted(gone)

    if not report.changed_anything:
        if touched and base is not None:
            store.touch_files(base, touched)
        report.passages = base.meta.passages if base is not None else 0
        report.files = base.meta.files if base is not None else 0
        report.generation = base.meta.generation if base is not None else ""
        if base is None:
            # Nothing to index yet still gives a valid, empty index: the app can open it.
            return _write(settings, store, embedder, None, report, [], {}, [], touched, progress, cancelled, skipped_digests)
        return report

    dropped = {r.sha256 for r in gone.values()} | {old_files[s].sha256 for s in report.changed}
    return _write(settings, store, embedder, base, report, new_docs, gone, renames, touched, progress, cancelled, skipped_digests, dropped)


def _write(settings, store, embedder, base, report, new_docs, gone, renames, touched, progress, cancelled, skipped_digests=frozenset(),
           dropped_digests=frozenset()) -> BuildReport:
    import numpy as np

    passages: list[Passage] = [p for _, doc, _ in new_docs for p in doc.passages]
    if base is not None and base.meta.passages == 0 and base.meta.dimension == 0:
        base = None  # an index built empty has no vector size yet: start afresh (it holds nothing to keep)
    vectors_by, quantization = identity(embedder)
    meta = Meta(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        # Known from the base, else from the first vectors; an empty index needs none (and no model).
        dimension=base.meta.dimension if base is not None else 0,
        splitter_version=SPLITTER_VERSION,
        next_id=base.meta.next_id if base is not None else 1,
        backend=vectors_by,
        quantization=quantization,
    )

    # Reuse vectors by content: from the base generation, and within this batch.
    unique: dict[str, int] = {}
    for p in passages:
        unique.setdefault(p.key, len(unique))
    known: dict[str, "np.ndarray"] = {}
    if base is not None and unique:
        found = base.ids_with_key(list(unique))
        if found:
            keys = list(found)
            vecs = base.get_vectors([found[k][0] for k in keys])
            known.update(zip(keys, vecs))
    text_of = {p.key: p.text for p in passages}
    # Longest first: each chunk sent to the model holds similar lengths, so its batches pad little.
    todo = sorted((key for key in unique if key not in known), key=lambda k: -len(text_of[k]))
    if todo:
        total = len(todo)
        step = 256
        for begin in range(0, total, step):
            if cancelled():
                raise Cancelled("Rebuild cancelled; the index is unchanged.")
            batch = todo[begin : begin + step]

            def within(done: int, _total: int, begin: int = begin) -> None:
                progress(BuildProgress("embed", begin + done, total))

            # Finer steps inside a batch, where the embedder reports them: progress moves on a slow machine.
            vectors = embedder.embed([text_of[k] for k in batch], progress=within)
            for key, vec in zip(batch, vectors):
                known[key] = vec
            progress(BuildProgress("embed", min(begin + step, total), total))
    report.embedded = len(todo)
    matrix = np.stack([known[p.key] for p in passages]) if passages else np.zeros((0, meta.dimension), "float32")
    if passages and meta.dimension == 0:
        meta.dimension = int(matrix.shape[1])

    progress(BuildProgress("write", 0, 1))
    writer = store.writer(base, meta)
    try:
        if cancelled():
            raise Cancelled("Rebuild cancelled; the index is unchanged.")
        writer.remove_sources(sorted(set(gone) | set(report.changed)))
        writer.add_passages(passages, matrix)
        for entry, doc, digest in new_docs:
            writer.put_file(FileRecord(entry.source, entry.size, entry.mtime_ns, digest, doc.title, doc.date, len(doc.passages)))
        for old_source, record in renames:
            writer.rename_file(old_source, record)
        for record in touched:
            writer.put_file(record)
        writer.commit(time.perf_counter() - report.started)
    except BaseException:  # noqa: cleanup only; re-raised below
        writer.abort()
        raise
    _prune_texts(settings, base, report, new_docs, renames, touched, skipped_digests, dropped_digests)
    report.passages = writer.meta.passages
    report.files = writer.meta.files
    report.generation = writer.meta.generation
    progress(BuildProgress("done", 1, 1))
    return report


def _prune_texts(settings, base, report, new_docs, renames, touched, skipped_digests, dropped_digests) -> None:
    """Extracted texts of contents the new index no longer holds are dropped from the cache.

    An update looks only at the contents it dropped (an article deleted or changed), so its cost follows the
    change; a build without a base (first or --full) keeps exactly what it indexed and clears the rest
    (leftovers of an older extractor version, or of an update killed after it parsed).
    """
    cache = TextCache(settings.index_dir)
    keep = set(skipped_digests) | {digest for _, _, digest in new_docs} | {r.sha256 for _, r in renames} | {r.sha256 for r in touched}
    if base is None:
        cache.prune(keep)
        return
    candidates = set(dropped_digests) - keep
    if not candidates or not cache.folder.is_dir():
        return
    # The same bytes may live on under another path (a copy): its text stays.
    left = set(report.removed) | set(report.changed) | {old for old, _ in renames}
    held = {digest for source, digest in base.files_with_digests(sorted(candidates)) if source not in left}
    cache.discard(candidates - held)
