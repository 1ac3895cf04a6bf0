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

import dataclasses
import json
import time
from typing import TYPE_CHECKING

from ..documents import Passage
from ..errors import IndexMissing, QAError
from .meta import FileRecord, Meta, check_compatible, passage_fields

if TYPE_CHECKING:
    import numpy as np

    from ..config import Settings

CONNECT_TIMEOUT = 5.0  # seconds: a server that is down is reported, not waited for
MAX_TEXT = 65_535
QUERY_BATCH = 4000
FIELDS = passage_fields()
_INSTALL = "The Milvus store needs pymilvus and milvus-lite: pip install '.[milvus]'."


class MilvusUnavailable(QAError):
    """The Milvus server cannot be reached or refused the request."""


def _milvus():
    try:
        import pymilvus
    except ImportError as exc:
        raise QAError("pymilvus is not installed.", _INSTALL) from exc
    import logging

    from ..config import debug_enabled

    if not debug_enabled():  # its RPC error logs would print tracebacks; our errors say it in one line
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    return pymilvus


def _load(client, name: str) -> None:
    """Collections must be loaded before queries; once per client and collection."""
    loaded = client.__dict__.setdefault("_qa_loaded", set())
    if name not in loaded:
        client.load_collection(name)
        loaded.add(name)


def _fix(uri: str) -> str:
    if uri.startswith(("http://", "https://", "tcp://", "unix:")):
        return f"Check that the server at {uri} is running (QA_MILVUS_URI), and QA_MILVUS_TOKEN if it needs one."
    return f"Check QA_MILVUS_URI ({uri}): a local path ending in .db runs milvus-lite."


def connect(settings: "Settings"):
    """A client, or one clear line if the server is down; no long retries."""
    pymilvus = _milvus()
    uri = settings.milvus_uri
    remote = uri.startswith(("http://", "https://", "tcp://"))
    if remote:
        import socket
        from urllib.parse import urlparse

        parsed = urlparse(uri)
        try:  # a refused port answers at once; pymilvus would retry for a while
            socket.create_connection((parsed.hostname, parsed.port or 19530), timeout=CONNECT_TIMEOUT).close()
        except OSError as exc:
            raise MilvusUnavailable(f"Milvus at {uri} is not reachable ({exc.strerror or exc}).", _fix(uri)) from exc
    else:
        from pathlib import Path

        Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        return pymilvus.MilvusClient(uri=uri, token=settings.milvus_token, timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # pymilvus raises several kinds; all mean the same to the user
        raise MilvusUnavailable(f"Milvus at {uri} refused the connection ({_short(exc)}).", _fix(uri)) from exc


def _short(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _call(uri: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except QAError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("pymilvus", "grpc", "milvus_lite")):
            raise MilvusUnavailable(f"Milvus at {uri} failed a request ({_short(exc)}).", _fix(uri)) from exc
        raise


# ---------------------------------------------------------------- schema


def _passage_schema(pymilvus, dimension: int):
    DataType = pymilvus.DataType
    schema = pymilvus.MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    types = {f.name: str(f.type) for f in dataclasses.fields(Passage)}
    for name in FIELDS:
        hint = types[name]
        nullable = "None" in hint
        if hint.split("|")[0].strip() == "int":
            schema.add_field(name, DataType.INT64, nullable=nullable)
        else:
            schema.add_field(name, DataType.VARCHAR, max_length=MAX_TEXT if name == "text" else 4096, nullable=nullable)
    schema.add_field("key", DataType.VARCHAR, max_length=128)
    schema.add_field("terms", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True, analyzer_params={"tokenizer": "standard"})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(pymilvus.Function(name="bm25", function_type=pymilvus.FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]))
    return schema


def _small_schema(pymilvus, key: str, fields: dict[str, str]):
    """A keyed table; Milvus wants a vector field in every collection, so a 2-d placeholder is kept."""
    DataType = pymilvus.DataType
    schema = pymilvus.MilvusClient.create_schema(auto_id=False)
    schema.add_field(key, DataType.VARCHAR, max_length=4096, is_primary=True)
    for name, kind in fields.items():
        if kind == "int":
            schema.add_field(name, DataType.INT64)
        else:
            schema.add_field(name, DataType.VARCHAR, max_length=MAX_TEXT, nullable=kind == "str?")
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    return schema


FILE_FIELDS = {"size": "int", "mtime_ns": "int", "sha256": "str", "title": "str", "date": "str?", "passages": "int"}


_TOKEN = None
_PORTER = None


def analyzed(text: str) -> str:
    """The keyword field: the text tokenized as the local store's FTS5 does it (unicode61 words, lower case,
    diacritics removed, Porter stems), so BM25 sees the same terms on milvus-lite (standard tokenizer only)
    and on any Milvus server, and the two stores rank alike."""
    global _TOKEN, _PORTER
    import unicodedata

    if _TOKEN is None:
        import re

        _TOKEN = re.compile(r"[^\W_]+")
        try:
            import snowballstemmer

            _PORTER = snowballstemmer.stemmer("porter").stemWord  # the original Porter algorithm, as FTS5's
        except ImportError:
            from ..text import stem

            _PORTER = stem
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return " ".join(_PORTER(t) for t in _TOKEN.findall(plain))[: MAX_TEXT // 2]


class _Names:
    def __init__(self, prefix: str, generation: int) -> None:
        self.state = f"{prefix}_state"
        self.passages = f"{prefix}_g{generation}_passages"
        self.files = f"{prefix}_g{generation}_files"
        self.terms = f"{prefix}_g{generation}_terms"
        self.generation = generation


def _create_generation(client, pymilvus, names: _Names, dimension: int) -> None:
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(names.passages, schema=_passage_schema(pymilvus, dimension), index_params=ip, consistency_level="Strong")
    for name, schema in ((names.files, _small_schema(pymilvus, "source", FILE_FIELDS)), (names.terms, _small_schema(pymilvus, "term", {"df": "int"}))):
        small = client.prepare_index_params()
        small.add_index("v", index_type="FLAT", metric_type="L2")
        client.create_collection(name, schema=schema, index_params=small, consistency_level="Strong")


def _ensure_state(client, pymilvus, prefix: str) -> str:
    name = f"{prefix}_state"
    if not client.has_collection(name):
        small = client.prepare_index_params()
        small.add_index("v", index_type="FLAT", metric_type="L2")
        client.create_collection(name, schema=_small_schema(pymilvus, "key", {"value": "str"}), index_params=small, consistency_level="Strong")
    return name


def _state(client, prefix: str, key: str):
    name = f"{prefix}_state"
    if not client.has_collection(name):
        return None
    _load(client, name)
    rows = client.query(name, filter=f"key == {json.dumps(key)}", output_fields=["value"], consistency_level="Strong")
    return json.loads(rows[0]["value"]) if rows and rows[0]["value"] else None


def _put_state(client, prefix: str, items: dict[str, object]) -> None:
    client.upsert(f"{prefix}_state", [{"key": k, "value": json.dumps(v) if v is not None else "", "v": [0.0, 0.0]} for k, v in items.items()])


def _query_all(client, collection: str, filter: str, fields: list[str]) -> list[dict]:
    it = client.query_iterator(collection, batch_size=QUERY_BATCH, filter=filter, output_fields=fields, consistency_level="Strong")
    out: list[dict] = []
    try:
        while True:
            batch = it.next()
            if not batch:
                break
            out.extend(batch)
    finally:
        it.close()
    return out


def _id_list(ids) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def _str_list(items) -> str:
    return "[" + ",".join(json.dumps(s) for s in items) + "]"


def _passage(row: dict) -> Passage:
    values = {f: row.get(f) for f in FIELDS}
    if values.get("title") is None:
        values["title"] = ""
    return Passage(**values)


# ---------------------------------------------------------------- reading


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
        except Exception:
            return True  # the next open reports the problem
        return bool(now) and now["generation"] == self.names.generation and bool(meta) and meta.get("version") == self.meta.version

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:
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
        rows = self._q(_query_all, self.client, self.names.passages, f"source == {json.dumps(source)}", ["id", *FIELDS])
        return sorted((_passage(r) for r in rows), key=lambda p: p.paragraph)

    def ids_between(self, since: str | None, until: str | None) -> list[int]:
        parts = ["date is not null"]
        if since:
            parts.append(f"date >= {json.dumps(since)}")
        if until:
            parts.append(f"date <= {json.dumps(until)}")
        return [int(r["id"]) for r in self._q(_query_all, self.client, self.names.passages, " and ".join(parts), ["id"])]

    def files(self) -> dict[str, FileRecord]:
        rows = self._q(_query_all, self.client, self.names.files, 'source != ""', ["source", *FILE_FIELDS])
        return {r["source"]: FileRecord(r["source"], r["size"], r["mtime_ns"], r["sha256"], r["title"], r.get("date"), r["passages"]) for r in rows}

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


# ---------------------------------------------------------------- writing


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
            rows = _call(self.uri, _query_all, self.client, self.names.passages, f"source == {json.dumps(source)}", ["id", "text"])
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
                rows = q(_query_all, c, n.passages, f"source == {json.dumps(old)}", ["*"])
                for r in rows:
                    r.pop("sparse", None)
                    r.update(source=record.source, title=record.title, date=record.date)
                if rows:
                    q(c.upsert, n.passages, rows)
                q(c.delete, n.files, filter=f"source == {json.dumps(old)}")
            if self.removed_ids:
                q(c.delete, n.passages, filter=f"id in {_id_list(self.removed_ids)}")
            if self.remove:
                q(c.delete, n.files, filter=f"source in {_str_list(self.remove)}")
        records = self.files + [r for _, r in self.renames]
        for begin in range(0, len(records), 1000):
            q(c.upsert, n.files, [{"source": r.source, "size": r.size, "mtime_ns": r.mtime_ns, "sha256": r.sha256, "title": r.title,
                                   "date": r.date, "passages": r.passages, "v": [0.0, 0.0]} for r in records[begin : begin + 1000]])
        self._count_terms()
        self.meta.passages = (self.base.meta.passages if self.base else 0) + len(self.added_texts) - len(self.removed_ids)
        self.meta.files = len(q(_query_all, c, n.files, 'source != ""', ["source"]))
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
            except Exception:
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
    files = {r["source"]: r["passages"] for r in q(_query_all, c, n.files, 'source != ""', ["source", "passages"])}
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
        known = base.files()
        rows = [{"source": r.source, "size": r.size, "mtime_ns": r.mtime_ns, "sha256": known[r.source].sha256, "title": known[r.source].title,
                 "date": known[r.source].date, "passages": known[r.source].passages, "v": [0.0, 0.0]} for r in records if r.source in known]
        if rows:
            _call(base.uri, base.client.upsert, base.names.files, rows)

    def compact(self, base) -> dict:
        started = time.perf_counter()
        _call(base.uri, base.client.compact, base.names.passages)
        return {"segments_before": None, "tombstones_before": None, "seconds": round(time.perf_counter() - started, 3)}

    def tidy(self, base) -> bool:
        """Repair a killed update and drop generations a killed full build left behind."""
        repaired = _repair(base)
        gens = _call(base.uri, _generations, base.client, self.prefix)
        for g in gens:
            if g > base.names.generation:
                _call(base.uri, _drop_generation, base.client, _Names(self.prefix, g))
        return repaired
