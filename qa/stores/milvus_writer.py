"""Writing the Milvus store: full builds into a new generation, updates in place in a fixed order, and the
repair of an update that died (see milvus.py and docs/stores.md)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from ..documents import Passage
from .meta import FileRecord, Meta
from .milvus_client import (
    file_row,
    lit,
    FIELDS,
    _call,
    _create_generation,
    _ensure_state,
    _id_list,
    _milvus,
    _Names,
    _put_state,
    _query_all,
    _state,
    _str_list,
    analyzed,
)

if TYPE_CHECKING:
    import numpy as np

    from ..config import Settings
    from .milvus import MilvusStore


class MilvusWriter:
    """One update. Full builds fill a new generation; updates change the live one in a fixed order (see module doc)."""

    def __init__(self, settings: "Settings", client, base: MilvusStore | None, meta: Meta) -> None:
        self.settings, self.client, self.base, self.meta = settings, client, base, meta
        self._own_client = base is None
        self.uri = settings.milvus_uri
        self.prefix = settings.milvus_collection
        self.pymilvus = _milvus()
        self.meta.store = "milvus"
        _call(self.uri, _ensure_state, client, self.pymilvus, self.prefix)
        if base is not None:
            self.names = base.names
            self.meta.version = base.meta.version + 1
        else:
            self.names = _Names(self.prefix, _call(self.uri, _next_generation, client, self.prefix))
            self.meta.version = 1
            _call(self.uri, _create_generation, client, self.pymilvus, self.names, meta.dimension)
        self.meta.generation = f"{self.prefix}_g{self.names.generation}"
        self.new_rows: list[dict] = []
        self.remove: list[str] = []
        self.removed_ids: list[int] = []
        self.removed_texts: list[str] = []
        self.files: list[FileRecord] = []
        self.renames: list[tuple[str, FileRecord]] = []
        self.added_texts: list[str] = []

    def remove_sources(self, sources: list[str]) -> list[int]:
        if self.base is None or not sources:
            return []
        ids = []
        for source in sources:
            rows = _call(self.uri, _query_all, self.client, self.names.passages, f"source == {lit(source)}", ["id", "text"])
            ids.extend(int(r["id"]) for r in rows)
            self.removed_texts.extend(r["text"] for r in rows)
        self.remove.extend(sources)
        self.removed_ids.extend(ids)
        return ids

    def add_passages(self, passages: list[Passage], vectors: "np.ndarray") -> None:
        first = self.meta.next_id
        self.meta.next_id = first + len(passages)
        rows = [
            {"id": first + n, "vector": [float(x) for x in vec], **{f: getattr(p, f) for f in FIELDS}, "key": p.key, "terms": analyzed(p.text)}
            for n, (p, vec) in enumerate(zip(passages, vectors))
        ]
        self.added_texts.extend(p.text for p in passages)
        if self.base is None:  # a new generation is private until the switch: write as we go
            for begin in range(0, len(rows), 1000):
                _call(self.uri, self.client.insert, self.names.passages, rows[begin : begin + 1000])
        else:
            self.new_rows.extend(rows)

    def put_file(self, record: FileRecord) -> None:
        self.files.append(record)

    def rename_file(self, old: str, record: FileRecord) -> None:
        self.renames.append((old, record))

    def commit(self, build_seconds: float):
        c, n = self.client, self.names
        q = lambda fn, *a, **k: _call(self.uri, fn, *a, **k)  # noqa: E731
        if self.base is not None:
            q(_put_state, c, self.prefix, {f"pending:{n.generation}": {"first_id": self.meta.next_id - len(self.new_rows),
                                                                         "sources": self.remove + [o for o, _ in self.renames] + [r.source for _, r in self.renames]}})
            for begin in range(0, len(self.new_rows), 1000):
                q(c.insert, n.passages, self.new_rows[begin : begin + 1000])
            for old, record in self.renames:
                rows = q(_query_all, c, n.passages, f"source == {lit(old)}", ["*"])
                for r in rows:
                    r.pop("sparse", None)
                    r.update(source=record.source, title=record.title, date=record.date)
                if rows:
                    q(c.upsert, n.passages, rows)
                q(c.delete, n.files, filter=f"source == {lit(old)}")
            if self.removed_ids:
                q(c.delete, n.passages, filter=f"id in {_id_list(self.removed_ids)}")
            if self.remove:
                q(c.delete, n.files, filter=f"source in {_str_list(self.remove)}")
        records = self.files + [r for _, r in self.renames]
        for begin in range(0, len(records), 1000):
            q(c.upsert, n.files, [file_row(r) for r in records[begin : begin + 1000]])
        self._count_terms()
        self.meta.passages = (self.base.meta.passages if self.base else 0) + len(self.added_texts) - len(self.removed_ids)
        self.meta.files = len(q(_query_all, c, n.files, 'fid != ""', ["fid"]))
        self.meta.built_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.meta.build_seconds = round(build_seconds, 3)
        self.meta.extra = {"uri": self.uri}
        q(c.flush, n.passages)
        items: dict[str, object] = {f"meta:{n.generation}": json.loads(self.meta.to_json())}
        if self.base is not None:
            items[f"pending:{n.generation}"] = None
        q(_put_state, c, self.prefix, items)
        if self.base is None:
            q(_put_state, c, self.prefix, {"current": {"generation": n.generation}})  # the switch
            q(_drop_old_generations, c, self.prefix, n.generation)
            c.close()
        return self.meta.generation

    def _count_terms(self) -> None:
        from collections import Counter

        from ..text import content_terms

        delta: Counter = Counter()
        for text in self.added_texts:
            delta.update(set(content_terms(text)))
        for text in self.removed_texts:
            delta.subtract(set(content_terms(text)))
        _apply_terms(self.uri, self.client, self.names, {t: d for t, d in delta.items() if d})

    def abort(self) -> None:
        if self.base is None:
            try:
                _drop_generation(self.client, self.names)
                self.client.close()
            except Exception:  # noqa: best-effort cleanup of an aborted build; the next full build drops leftovers
                pass


def _apply_terms(uri: str, client, names: _Names, delta: dict[str, int]) -> None:
    terms = sorted(delta)
    for begin in range(0, len(terms), 1000):
        chunk = terms[begin : begin + 1000]
        have = {r["term"]: int(r["df"]) for r in _call(uri, client.query, names.terms, filter=f"term in {_str_list(chunk)}", output_fields=["term", "df"], consistency_level="Strong")}
        upserts, gone = [], []
        for t in chunk:
            df = have.get(t, 0) + delta[t]
            (upserts.append({"term": t, "df": df, "v": [0.0, 0.0]}) if df > 0 else gone.append(t))
        if upserts:
            _call(uri, client.upsert, names.terms, upserts)
        if gone:
            _call(uri, client.delete, names.terms, filter=f"term in {_str_list(gone)}")


def _generations(client, prefix: str) -> list[int]:
    import re

    pattern = re.compile(rf"^{re.escape(prefix)}_g(\d+)_passages$")
    return sorted(int(m.group(1)) for name in client.list_collections() if (m := pattern.match(name)))


def _next_generation(client, prefix: str) -> int:
    return max(_generations(client, prefix), default=0) + 1


def _drop_generation(client, names: _Names) -> None:
    for name in (names.passages, names.files, names.terms):
        if client.has_collection(name):
            client.drop_collection(name)


def _drop_old_generations(client, prefix: str, keep: int) -> None:
    """Keep the live generation and the one before it (a reader may still hold it); drop the rest."""
    gens = _generations(client, prefix)
    older = [g for g in gens if g < keep]
    for g in gens:
        if g != keep and (not older or g != older[-1]):
            _drop_generation(client, _Names(prefix, g))


def _repair(store: MilvusStore) -> bool:
    """Undo a killed update: drop its new rows and the articles it touched (re-read next), recount terms."""
    c, n, prefix = store.client, store.names, store.settings.milvus_collection
    pending = _state(c, prefix, f"pending:{n.generation}")
    if not pending:
        return False
    q = lambda fn, *a, **k: _call(store.uri, fn, *a, **k)  # noqa: E731
    q(c.delete, n.passages, filter=f"id >= {int(pending['first_id'])}")
    sources = pending.get("sources", [])
    for begin in range(0, len(sources), 500):
        chunk = sources[begin : begin + 500]
        q(c.delete, n.passages, filter=f"source in {_str_list(chunk)}")
        q(c.delete, n.files, filter=f"source in {_str_list(chunk)}")
    # Rows without a file record (or a file whose rows are incomplete) go too: the next update re-reads the article.
    rows = q(_query_all, c, n.passages, "id >= 0", ["id", "source", "text"])
    files = {r["source"]: r["passages"] for r in q(_query_all, c, n.files, 'fid != ""', ["source", "passages"])}
    per_source: dict[str, int] = {}
    for r in rows:
        per_source[r["source"]] = per_source.get(r["source"], 0) + 1
    bad = sorted({s for s in per_source if files.get(s) != per_source[s]} | {s for s in files if s not in per_source and files[s]})
    if bad:
        q(c.delete, n.passages, filter=f"source in {_str_list(bad)}")
        q(c.delete, n.files, filter=f"source in {_str_list(bad)}")
    from collections import Counter

    from ..text import content_terms

    live = [r for r in rows if r["source"] not in set(bad)]
    counts = Counter(t for r in live for t in set(content_terms(r["text"])))
    old = {r["term"] for r in q(_query_all, c, n.terms, 'term != ""', ["term"])}
    stale = sorted(old - set(counts))
    for begin in range(0, len(stale), 1000):
        q(c.delete, n.terms, filter=f"term in {_str_list(stale[begin:begin + 1000])}")
    terms = sorted(counts)
    for begin in range(0, len(terms), 1000):
        q(c.upsert, n.terms, [{"term": t, "df": counts[t], "v": [0.0, 0.0]} for t in terms[begin : begin + 1000]])
    meta = store.meta
    meta.passages = len(live)
    meta.files = len(files) - len([s for s in bad if s in files])
    meta.version += 1
    q(_put_state, c, prefix, {f"meta:{n.generation}": json.loads(meta.to_json()), f"pending:{n.generation}": None})
    return True


