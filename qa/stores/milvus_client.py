"""Milvus plumbing shared by the Milvus store's reader and writer: connecting (one clear line when the server is
down), the collections' schemas, the keyword field's analysis, and small query helpers."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

from ..documents import Passage
from ..errors import QAError
from .meta import passage_fields

if TYPE_CHECKING:
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


FILE_FIELDS = {"source": "str", "size": "int", "mtime_ns": "int", "sha256": "str", "title": "str", "date": "str?", "passages": "int"}


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
    for name, schema in ((names.files, _small_schema(pymilvus, "fid", FILE_FIELDS)), (names.terms, _small_schema(pymilvus, "term", {"df": "int"}))):
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
    rows = client.query(name, filter=f"key == {lit(key)}", output_fields=["value"], consistency_level="Strong")
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


def lit(text: str) -> str:
    """A string literal for a Milvus filter: quotes and backslashes escaped, other characters as they are
    (Milvus's expression parser rejects JSON's \\uXXXX escapes: a term like "β" must stay "β")."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'


def file_id(source: str) -> str:
    """The manifest's primary key: a hash of the path. pymilvus's iterator pages by writing the last key into a
    filter unescaped, so a path with a quote in it cannot be the key itself."""
    import hashlib

    return hashlib.sha1(source.encode("utf-8")).hexdigest()


def file_row(record) -> dict:
    return {"fid": file_id(record.source), "source": record.source, "size": record.size, "mtime_ns": record.mtime_ns, "sha256": record.sha256,
            "title": record.title, "date": record.date, "passages": record.passages, "v": [0.0, 0.0]}


def _str_list(items) -> str:
    return "[" + ",".join(lit(s) for s in items) + "]"


def _passage(row: dict) -> Passage:
    values = {f: row.get(f) for f in FIELDS}
    if values.get("title") is None:
        values["title"] = ""
    return Passage(**values)


