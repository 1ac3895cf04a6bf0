"""The Milvus store: the same index in Milvus collections, for archives past one machine.

`QA_MILVUS_URI` is a local path ending in .db (milvus-lite runs embedded) or http(s)://host:19530 (a Milvus
server or cluster, or `milvus-lite server`); `QA_MILVUS_TOKEN` authenticates. Collections, under the prefix
`QA_MILVUS_COLLECTION` (default "qa"):

    qa_state            one row per key: "current" (the live generation), "meta:G", "pending:G"
    qa_gG_passages      id, vector, the Passage fields, key, and `terms` (our stems) with its BM25 sparse vector
    qa_gG_files         the file manifest
    qa_gG_terms         per-term document frequencies (the answerer's IDF)

Dense and keyword searches run in Milvus; fusion and collapse stay in the retriever, as for the local store.
The keyword field holds the passage's words already tokenized and Porter-stemmed as FTS5 does it, so BM25
works the same on servers with an English analyzer and on milvus-lite, which has only the standard tokenizer. Milvus has no
multi-row transactions: an update writes new rows before deleting old ones and records a pending marker
first, so a killed update is repaired (its articles re-read) by the next run. A full rebuild writes a new
generation and switches "current" in one upsert.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from ..documents import Passage
from ..errors import IndexMissing
from .meta import FileRecord, Meta, check_compatible
from .milvus_client import (
    file_row,
    lit,
    FIELDS,
    FILE_FIELDS,
    MilvusUnavailable,
    _call,
    _id_list,
    _load,
    _Names,
    _passage,
    _query_all,
    _state,
    _str_list,
    analyzed,
    connect,
)
from .milvus_writer import MilvusWriter, _drop_generation, _generations, _repair

if TYPE_CHECKING:
    import numpy as np

    from ..config import Settings

__all__ = ["MilvusBackend", "MilvusStore", "MilvusUnavailable", "MilvusWriter", "connect"]


def _record(r: dict) -> FileRecord:
    return FileRecord(r["source"], r["size"], r["mtime_ns"], r["sha256"], r["title"], r.get("date"), r["passages"])


class MilvusStore:
    kind = "milvus"

    def __init__(self, settings: "Settings", client, names: _Names, meta: Meta) -> None:
        self.settings = settings
        self.client = client
        self.names = names
        self.meta = meta
        self.uri = settings.milvus_uri

    def _q(self, fn, *args, **kwargs):
        return _call(self.uri, fn, *args, **kwargs)

    def is_current(self) -> bool:
        try:
            now = _state(self.client, self.settings.milvus_collection, "current")
            meta = _state(self.client, self.settings.milvus_collection, f"meta:{self.names.generation}")
        except Exception:  # noqa: pymilvus raises many types; the next open reports the problem in one line
            return True
        return bool(now) and now["generation"] == self.names.generation and bool(meta) and meta.get("version") == self.meta.version

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: closing a client whose server is gone has nothing left to report
            pass

    def passages(self, ids: list[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        for begin in range(0, len(ids), 1000):
            chunk = ids[begin : begin + 1000]
            rows = self._q(self.client.query, self.names.passages, filter=f"id in {_id_list(chunk)}", output_fields=["id", *FIELDS], consistency_level="Strong")
            out.update({int(r["id"]): _passage(r) for r in rows})
        return out

    def keys(self, ids: list[int]) -> dict[int, str]:
        rows = self._q(self.client.query, self.names.passages, filter=f"id in {_id_list(ids)}", output_fields=["id", "key"], consistency_level="Strong") if ids else []
        return {int(r["id"]): r["key"] for r in rows}

    def ids_with_key(self, keys: list[str]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for begin in range(0, len(keys), 500):
            chunk = keys[begin : begin + 500]
            for r in self._q(_query_all, self.client, self.names.passages, f"key in {_str_list(chunk)}", ["id", "key"]):
                out.setdefault(r["key"], []).append(int(r["id"]))
        return out

    def passages_of(self, source: str) -> list[Passage]:
        rows = self._q(_query_all, self.client, self.names.passages, f"source == {lit(source)}", ["id", *FIELDS])
        return sorted((_passage(r) for r in rows), key=lambda p: p.paragraph)

    def ids_between(self, since: str | None, until: str | None, include_undated: bool = False) -> list[int]:
        parts = ["date is not null"]
        if since:
            parts.append(f"date >= {lit(since)}")
        if until:
            parts.append(f"date <= {lit(until)}")
        flt = "(" + " and ".join(parts) + ")" + (" or date is null" if include_undated else "")
        return [int(r["id"]) for r in self._q(_query_all, self.client, self.names.passages, flt, ["id"])]

    def files(self) -> dict[str, FileRecord]:
        rows = self._q(_query_all, self.client, self.names.files, 'fid != ""', list(FILE_FIELDS))
        return {r["source"]: _record(r) for r in rows}

    def file_stats(self) -> list[tuple[str, int, int]]:
        rows = self._q(_query_all, self.client, self.names.files, 'fid != ""', ["source", "size", "mtime_ns"])
        return [(r["source"], int(r["size"]), int(r["mtime_ns"])) for r in rows]

    def file_records(self, sources: list[str]) -> dict[str, FileRecord]:
        return self._files_where("source", list(sources))

    def files_with_digests(self, digests: list[str]) -> list[tuple[str, str]]:
        return [(r.source, r.sha256) for r in self._files_where("sha256", list(digests)).values()]

    def _files_where(self, field: str, values: list[str]) -> dict[str, FileRecord]:
        out: dict[str, FileRecord] = {}
        for begin in range(0, len(values), 500):
            flt = f"{field} in {_str_list(values[begin : begin + 500])}"
            for r in self._q(_query_all, self.client, self.names.files, flt, list(FILE_FIELDS)):
                out[r["source"]] = _record(r)
        return out

    def sources(self) -> list[str]:
        return sorted(self.files())

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        out = dict.fromkeys(terms, 0)
        if terms:
            rows = self._q(self.client.query, self.names.terms, filter=f"term in {_str_list(terms)}", output_fields=["term", "df"], consistency_level="Strong")
            out.update({r["term"]: int(r["df"]) for r in rows})
        return out

    def keyword_search(self, terms: list[str], k: int, ids: list[int] | None = None) -> list[tuple[int, float]]:
        """BM25 in Milvus over the stemmed keyword field; scores positive, higher is better."""
        query = analyzed(" ".join(terms))
        if not query or (ids is not None and not ids):
            return []
        kwargs = {"filter": f"id in {_id_list(ids)}"} if ids is not None else {}
        res = self._q(self.client.search, self.names.passages, data=[query], anns_field="sparse", limit=k, output_fields=["id"],
                      search_params={"metric_type": "BM25"}, consistency_level="Strong", **kwargs)
        # milvus-lite returns BM25 as a negative distance (smaller is better); Milvus returns the positive score.
        return [(int(h["id"]), abs(float(h["distance"]))) for h in res[0]]

    def dense_search(self, vector: "np.ndarray", k: int, ids: list[int] | None = None) -> list[tuple[int, float]]:
        if ids is not None and not ids:
            return []
        kwargs = {"filter": f"id in {_id_list(ids)}"} if ids is not None else {}
        res = self._q(self.client.search, self.names.passages, data=[[float(x) for x in vector]], anns_field="vector", limit=k, output_fields=["id"],
                      search_params={"metric_type": "IP"}, consistency_level="Strong", **kwargs)
        return [(int(h["id"]), float(h["distance"])) for h in res[0]]

    def get_vectors(self, ids: list[int]) -> "np.ndarray":
        import numpy as np

        if not len(ids):
            return np.zeros((0, self.meta.dimension), "float32")
        rows = self._q(self.client.get, self.names.passages, ids=[int(i) for i in ids], output_fields=["id", "vector"])
        by_id = {int(r["id"]): r["vector"] for r in rows}
        missing = [int(i) for i in ids if int(i) not in by_id]
        if missing:
            raise KeyError(f"no vector for passage ids {missing[:5]}")
        return np.asarray([by_id[int(i)] for i in ids], dtype="float32")

    def vector_count(self) -> int:
        rows = self._q(self.client.query, self.names.passages, filter="id >= 0", output_fields=["count(*)"], consistency_level="Strong")
        return int(rows[0]["count(*)"])

    def describe(self) -> dict:
        return {"uri": self.uri, "collection": self.names.passages}


class MilvusBackend:
    name = "milvus"

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        self.prefix = settings.milvus_collection

    def exists(self) -> bool:
        uri = self.settings.milvus_uri
        if not uri.startswith(("http://", "https://", "tcp://")):
            from pathlib import Path

            if not Path(uri).exists():
                return False
        client = connect(self.settings)
        try:
            return _call(uri, _state, client, self.prefix, "current") is not None
        finally:
            client.close()

    def open(self, model: str | None = None) -> MilvusStore:
        uri = self.settings.milvus_uri
        client = connect(self.settings)
        try:
            current = _call(uri, _state, client, self.prefix, "current")
            if current is None:
                raise IndexMissing(f"No index in Milvus at {uri} (collections {self.prefix}_*).", "Run `qa index --store milvus` to build it.")
            names = _Names(self.prefix, int(current["generation"]))
            raw = _call(uri, _state, client, self.prefix, f"meta:{names.generation}")
            if raw is None:
                from ..errors import IndexDamaged

                raise IndexDamaged(f"The index metadata in Milvus at {uri} is missing.", "Run `qa index --full` to rebuild it.")
            meta = Meta.from_json(json.dumps(raw))
            if model is not None:
                check_compatible(meta, model)
            for name in (names.passages, names.files, names.terms):
                _call(uri, _load, client, name)
        except BaseException:
            client.close()
            raise
        return MilvusStore(self.settings, client, names, meta)

    def writer(self, base, meta: Meta) -> MilvusWriter:
        client = base.client if base is not None else connect(self.settings)
        return MilvusWriter(self.settings, client, base, meta)

    def touch_files(self, base, records: list[FileRecord]) -> None:
        known = base.file_records([r.source for r in records])
        rows = [file_row(FileRecord(r.source, r.size, r.mtime_ns, known[r.source].sha256, known[r.source].title, known[r.source].date,
                                    known[r.source].passages)) for r in records if r.source in known]
        if rows:
            _call(base.uri, base.client.upsert, base.names.files, rows)

    def compact(self, base) -> dict:
        started = time.perf_counter()
        _call(base.uri, base.client.compact, base.names.passages)
        return {"segments_before": None, "tombstones_before": None, "seconds": round(time.perf_counter() - started, 3)}

    def settle(self) -> None:
        pass  # Milvus flushes and compacts by itself

    def tidy(self, base) -> bool:
        """Repair a killed update and drop generations a killed full build left behind."""
        repaired = _repair(base)
        gens = _call(base.uri, _generations, base.client, self.prefix)
        for g in gens:
            if g > base.names.generation:
                _call(base.uri, _drop_generation, base.client, _Names(self.prefix, g))
        return repaired
