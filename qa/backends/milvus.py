"""The Milvus backend: an index kept in a Milvus collection, for a team's archive past one machine.

``milvus://HOST:PORT/NAME`` (or ``milvus+https://HOST:PORT/NAME``, token from ``QA_MILVUS_TOKEN``) names
an alias. Behind it sit two collections of one build, ``NAME__<stamp>`` (passages: ids, offsets, the
filter fields, a dense vector with an HNSW index, and a BM25 sparse field that Milvus's BM25 function
fills from the title and passage) and ``NAME__<stamp>__docs`` (documents and the manifest, as JSON in
parts). A rebuild fills a new pair and moves the alias when complete; a refresh with unchanged settings
upserts and deletes only what changed.

Candidates come from Milvus, filters applied inside each search as a filter expression; fusion,
answers, citations and hits stay in the engine, so ``bm25_rank`` and ``dense_rank`` are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import urlsplit

import numpy as np

from qa.errors import IndexCorruptError, IndexNotFoundError, QAError
from qa.records import Chunk, Document

__all__ = ["is_milvus_uri", "MilvusTarget", "MilvusStore", "MilvusSparse", "MilvusDense"]

logger = logging.getLogger(__name__)

_PART = 16_000  # characters of JSON per row of the documents collection (VARCHAR rows hold at most 65,535 bytes)
_MAX_TEXT = 65_535
# Milvus is given the local tokenizer's own tokens (lowercased, English stop words out, Snowball stems, acronyms
# such as "US" kept by case), joined by spaces; its "standard" tokenizer with no filters splits them apart again
# (Lite has no whitespace tokenizer). Its English filters (lowercase + stop + stemmer) would drop "US" as the
# pronoun "us" and split "U.S.".
ANALYZER = {"tokenizer": "standard"}
# BM25 as rank-bm25's BM25Okapi, which the local index reproduces: k1 1.5, b 0.75.
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}


def is_milvus_uri(index: object) -> bool:
    return isinstance(index, str) and index.startswith(("milvus://", "milvus+https://", "milvus+http://"))


@dataclass(frozen=True)
class MilvusTarget:
    endpoint: str
    name: str
    token: str = ""

    @classmethod
    def parse(cls, uri: str) -> "MilvusTarget":
        parts = urlsplit(uri)
        name = parts.path.strip("/")
        if not parts.hostname or not name or "/" in name:
            raise QAError(f"cannot read {uri!r} as an index; write milvus://HOST:PORT/COLLECTION")
        scheme = "https" if parts.scheme == "milvus+https" else "http"
        token = os.environ.get("QA_MILVUS_TOKEN", "") if scheme == "https" else ""
        return cls(f"{scheme}://{parts.hostname}:{parts.port or 19530}", name, token)


def _milvus_errors(action: str):
    """Milvus and gRPC failures as one QAError line that says what failed and where."""
    import functools

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            for attempt in (1, 2):
                try:
                    return method(self, *args, **kwargs)
                except QAError:
                    raise
                except Exception as exc:
                    if attempt == 1 and _connection_lost(exc):
                        try:
                            self.client = self._connect(fresh=True)  # once: the server may have closed the channel
                            continue
                        except Exception:
                            pass
                    raise QAError(f"Milvus at {self.target.endpoint} failed while {action}: {_short(exc)}") from None
        return wrapper
    return decorate


class MilvusStore:
    """Reads and writes one qa index in Milvus."""

    def __init__(self, uri: str, hnsw_m: int = 16, hnsw_ef_construction: int = 200, hnsw_ef: int = 128):
        # pymilvus warns on every query iterator that Milvus Lite gives no MVCC timestamp, and gRPC's C core
        # logs each GOAWAY Lite sends to an idle client: noise for a user, and handled (see _connect).
        logging.getLogger("pymilvus").setLevel(logging.ERROR)
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        self.uri = uri
        self.target = MilvusTarget.parse(uri)
        self.hnsw_m, self.hnsw_ef_construction, self.hnsw_ef = hnsw_m, hnsw_ef_construction, hnsw_ef
        try:
            self.client = self._connect()
        except Exception as exc:  # pymilvus raises its own MilvusException, or a gRPC error
            raise QAError(f"cannot reach Milvus at {self.target.endpoint} ({_short(exc)}); start it (`qa milvus-local`) "
                          f"or check the address") from None

    def _connect(self, fresh: bool = False):
        """A client; pymilvus shares one channel per address, and a channel the server closed (Milvus Lite sends
        GOAWAY to a client that keeps pinging while idle) fails every later client: then open a channel of our own."""
        from pymilvus import MilvusClient

        for dedicated in ([True] if fresh else [False, True]):
            try:
                client = MilvusClient(uri=self.target.endpoint, token=self.target.token or "", timeout=10,
                                      dedicated=dedicated)
                client.list_collections()
                return client
            except Exception:
                if dedicated:
                    raise
        raise AssertionError("unreachable")

    # --- reading -------------------------------------------------------------------------------------------------

    def collection(self) -> str | None:
        """The physical passages collection behind the alias, or None when there is no index yet."""
        try:
            if self.target.name in self.client.list_aliases().get("aliases", []):
                return self.client.describe_alias(self.target.name)["collection_name"]
        except Exception as exc:
            raise QAError(f"Milvus at {self.target.endpoint} failed: {_short(exc)}") from None
        return None

    @_milvus_errors("reading the manifest")
    def read_manifest(self) -> dict[str, Any]:
        collection = self._existing()
        manifest = self._read_json_rows(f"{collection}__docs", 'kind == "manifest"').get("manifest")
        if manifest is None:
            raise IndexCorruptError(f"{self.uri} has no manifest (its build never finished); rebuild with "
                                    f"`qa index CORPUS --index {self.uri}`")
        return manifest

    @_milvus_errors("reading documents")
    def read_documents(self) -> list[Document]:
        collection = self._existing()
        records = self._read_json_rows(f"{collection}__docs", 'kind == "document"')
        ordered = sorted(records.values(), key=lambda r: r["order"])
        return [Document(doc_id=r["doc_id"], title=r["title"], text=r["text"], metadata=r.get("metadata") or {},
                         source=r.get("source", "")) for r in ordered]

    @_milvus_errors("reading passages")
    def read_chunks(self, documents: Sequence[Document]) -> tuple[list[Chunk], np.ndarray]:
        """The passages in document order, and each one's Milvus ``idx`` (the key searches return)."""
        collection = self._existing()
        texts = {d.doc_id: d.text for d in documents}
        order = {d.doc_id: i for i, d in enumerate(documents)}
        rows = self._query_all(collection, "idx >= 0", ["chunk_id", "doc_id", "idx", "char_start", "char_end",
                                                         "position", "page"])
        rows.sort(key=lambda r: (order.get(r["doc_id"], len(order)), r["position"]))
        chunks = []
        for r in rows:
            text = texts.get(r["doc_id"])
            if text is None:
                raise IndexCorruptError(f"{self.uri} holds passages of a document it does not hold; rebuild it")
            chunks.append(Chunk(chunk_id=r["chunk_id"], doc_id=r["doc_id"], text=text[r["char_start"]:r["char_end"]],
                                char_start=r["char_start"], char_end=r["char_end"], position=r["position"],
                                page=r["page"] if r["page"] >= 0 else None))
        return chunks, np.array([r["idx"] for r in rows], dtype=np.int64)

    def _existing(self) -> str:
        collection = self.collection()
        if collection is None:
            raise IndexNotFoundError(f"no index at {self.uri}; build one with `qa index CORPUS --index {self.uri}`")
        return collection

    def _query_all(self, collection: str, expr: str, fields: list[str]) -> list[dict]:
        iterator = self.client.query_iterator(collection, batch_size=4096, filter=expr, output_fields=fields)
        rows: list[dict] = []
        try:
            while batch := iterator.next():
                rows += [dict(r) for r in batch]
        finally:
            iterator.close()
        return rows

    def _read_json_rows(self, collection: str, expr: str) -> dict[str, Any]:
        parts: dict[str, list[tuple[int, str]]] = {}
        for row in self._query_all(collection, expr, ["key", "part", "body"]):
            parts.setdefault(row["key"], []).append((row["part"], row["body"]))
        return {key: json.loads("".join(body for _, body in sorted(pieces))) for key, pieces in parts.items()}

    # --- writing -------------------------------------------------------------------------------------------------

    @_milvus_errors("writing the index")
    def write(self, manifest: dict, documents: Sequence[Document], chunks: Sequence[Chunk], texts: Sequence[str],
              vectors: np.ndarray) -> dict[str, int]:
        """``texts``: each passage as BM25 sees it, already tokenized (tokens joined by spaces). Bring the index to this state: in place when its settings and model match, else a new build
        that the alias moves to when complete. Returns counts of what was written."""
        current = self.collection()
        if current is not None and self._compatible(manifest):
            return self._refresh(current, manifest, documents, chunks, texts, vectors)
        stamp = time.strftime("%Y%m%d%H%M%S") + f"{int(time.time() * 1000) % 1000:03d}"
        fresh = f"{self.target.name}__{stamp}"
        try:
            self._create(fresh, int(vectors.shape[1]))
            self._insert_passages(fresh, documents, chunks, texts, vectors, range(len(chunks)))
            self._upsert_json(f"{fresh}__docs", self._document_rows(documents), fresh=True)
            self._upsert_json(f"{fresh}__docs", {"manifest": manifest}, kind="manifest", fresh=True)
            self.client.flush(fresh)
            self.client.flush(f"{fresh}__docs")
            # Readers see the new build only now, whole; a failure before this leaves the old one serving.
            if current is None:
                self.client.create_alias(fresh, self.target.name)
            else:
                self.client.alter_alias(fresh, self.target.name)
        except BaseException:
            for name in (fresh, f"{fresh}__docs"):
                try:
                    self.client.drop_collection(name)
                except Exception:
                    pass
            raise
        if current is not None:
            for name in (current, f"{current}__docs"):
                self.client.drop_collection(name)
        return {"upserted": len(chunks), "deleted": 0}

    def _compatible(self, manifest: dict) -> bool:
        try:
            old = self.read_manifest()
        except QAError:
            return False
        return (old.get("format_version") == manifest.get("format_version") and old.get("config") == manifest["config"]
                and old.get("model") == manifest["model"])

    def _refresh(self, collection: str, manifest: dict, documents: Sequence[Document], chunks: Sequence[Chunk],
                 texts: Sequence[str], vectors: np.ndarray) -> dict[str, int]:
        existing = {r["chunk_id"]: r for r in self._query_all(collection, "idx >= 0", ["chunk_id", "idx", "sha"])}
        wanted = [i for i, c in enumerate(chunks) if existing.get(c.chunk_id, {}).get("sha") != _sha(c, texts[i])]
        stale = sorted(set(existing) - {c.chunk_id for c in chunks})
        if stale:
            self.client.delete(collection, ids=stale)
        next_idx = max((r["idx"] for r in existing.values()), default=-1) + 1
        self._insert_passages(collection, documents, chunks, texts, vectors, wanted,
                              idx={c.chunk_id: existing[c.chunk_id]["idx"] if c.chunk_id in existing else None
                                   for c in (chunks[i] for i in wanted)}, next_idx=next_idx)
        docs = f"{collection}__docs"
        old_docs = {r["key"] for r in self._query_all(docs, 'kind == "document"', ["key"])}
        removed = sorted(old_docs - {d.doc_id for d in documents})
        for start in range(0, len(removed), 1000):
            self.client.delete(docs, filter=f'kind == "document" and key in {json.dumps(removed[start:start + 1000])}')
        self._upsert_json(docs, self._document_rows(documents))
        self._upsert_json(docs, {"manifest": manifest}, kind="manifest")
        self.client.flush(collection)
        return {"upserted": len(wanted), "deleted": len(stale)}

    def _create(self, name: str, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=1024)
        schema.add_field("idx", DataType.INT64)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
        schema.add_field("position", DataType.INT64)
        schema.add_field("char_start", DataType.INT64)
        schema.add_field("char_end", DataType.INT64)
        schema.add_field("page", DataType.INT64)
        schema.add_field("sha", DataType.VARCHAR, max_length=64)
        schema.add_field("title", DataType.VARCHAR, max_length=4096)
        schema.add_field("search_text", DataType.VARCHAR, max_length=_MAX_TEXT, enable_analyzer=True,
                         analyzer_params=ANALYZER)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["search_text"], output_field_names=["sparse"]))
        index = self.client.prepare_index_params()
        index.add_index(field_name="dense", index_type="HNSW", metric_type="IP",
                        params={"M": self.hnsw_m, "efConstruction": self.hnsw_ef_construction})
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params=BM25_PARAMS)
        self.client.create_collection(name, schema=schema, index_params=index)

        docs = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        docs.add_field("id", DataType.VARCHAR, is_primary=True, max_length=1100)
        docs.add_field("kind", DataType.VARCHAR, max_length=16)
        docs.add_field("key", DataType.VARCHAR, max_length=1024)
        docs.add_field("part", DataType.INT64)
        docs.add_field("body", DataType.VARCHAR, max_length=_MAX_TEXT)
        docs.add_field("sha", DataType.VARCHAR, max_length=64)
        docs.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        docs_index = self.client.prepare_index_params()
        docs_index.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
        self.client.create_collection(f"{name}__docs", schema=docs, index_params=docs_index)

    def _insert_passages(self, collection: str, documents: Sequence[Document], chunks: Sequence[Chunk],
                         texts: Sequence[str], vectors: np.ndarray, which, idx: dict | None = None,
                         next_idx: int = 0) -> None:
        titles = {d.doc_id: d.title for d in documents}
        batch: list[dict] = []
        for i in which:
            chunk = chunks[i]
            number = (idx or {}).get(chunk.chunk_id)
            if number is None:
                number = i if idx is None else next_idx
                next_idx += idx is not None
            batch.append({"chunk_id": chunk.chunk_id, "idx": int(number), "doc_id": chunk.doc_id,
                          "position": chunk.position, "char_start": chunk.char_start, "char_end": chunk.char_end,
                          "page": chunk.page if chunk.page is not None else -1, "sha": _sha(chunk, texts[i]),
                          "title": titles.get(chunk.doc_id, "")[:4000], "search_text": _clip(texts[i]),
                          "dense": vectors[i].astype(np.float32).tolist()})
            if len(batch) == 512:
                self.client.upsert(collection, batch)
                batch = []
        if batch:
            self.client.upsert(collection, batch)

    @staticmethod
    def _document_rows(documents: Sequence[Document]) -> dict[str, dict]:
        return {d.doc_id: {"doc_id": d.doc_id, "title": d.title, "text": d.text, "metadata": d.metadata,
                           "source": d.source, "order": n} for n, d in enumerate(documents)}

    def _upsert_json(self, collection: str, records: dict[str, Any], kind: str = "document",
                     fresh: bool = False) -> None:
        """Each record as JSON in parts; a record whose hash is unchanged is left alone (one query finds them)."""
        bodies = {key: json.dumps(value, ensure_ascii=False, sort_keys=True) for key, value in records.items()}
        hashes = {key: hashlib.sha256(body.encode()).hexdigest() for key, body in bodies.items()}
        if not fresh:
            stored = {r["key"]: r["sha"] for r in self._query_all(collection, f'kind == "{kind}" and part == 0',
                                                                    ["key", "sha"])}
            bodies = {key: body for key, body in bodies.items() if stored.get(key) != hashes[key]}
            changed = [key for key in bodies if key in stored]
            for start in range(0, len(changed), 1000):  # old parts go first: a shorter record has fewer
                self.client.delete(collection, filter=f"kind == \"{kind}\" and key in {json.dumps(changed[start:start + 1000])}")
        rows = []
        for key, body in bodies.items():
            pieces = [body[i:i + _PART] for i in range(0, len(body), _PART)] or [""]
            rows += [{"id": f"{kind}:{key}#{n}", "kind": kind, "key": key, "part": n, "body": piece,
                      "sha": hashes[key], "unused": [0.0, 0.0]} for n, piece in enumerate(pieces)]
        for start in range(0, len(rows), 256):
            self.client.upsert(collection, rows[start:start + 256])

    # --- searching -----------------------------------------------------------------------------------------------

    @_milvus_errors("searching")
    def search(self, field: str, data: list, limit: int, expression: str, params: dict) -> list[tuple[int, float]]:
        collection = self._existing()
        found = self.client.search(collection, data=data, anns_field=field, limit=limit, filter=expression,
                                   search_params=params, output_fields=["idx"])
        return [(int(hit["entity"]["idx"]), float(hit["distance"])) for hit in found[0]]


def _sha(chunk: Chunk, text: str) -> str:
    return hashlib.sha256(f"{chunk.char_start}:{chunk.char_end}:{chunk.page}:{text}".encode()).hexdigest()


def _clip(text: str) -> str:
    # VARCHAR limits are bytes; a passage of 80 words is far below, a pathological one is cut, not refused.
    data = text.encode("utf-8")
    return text if len(data) <= _MAX_TEXT else data[:_MAX_TEXT].decode("utf-8", errors="ignore")


def _connection_lost(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("unavailable", "goaway", "connect", "closed channel", "deadline"))


def _short(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())[:200]


class _Restriction:
    """An allowed-passages mask as a Milvus filter expression, applied inside the search before the top-k cut."""

    def __init__(self, idx: np.ndarray, chunks: Sequence[Chunk]):
        self.idx = idx
        # Each passage's document as a number, once: per query the mask is then read with array operations.
        self.doc_ids, self.doc_of = np.unique(np.array([c.doc_id for c in chunks], dtype=object), return_inverse=True)

    def expression(self, allowed: np.ndarray | None) -> str:
        if allowed is None:
            return ""
        kept = np.zeros(len(self.doc_ids), dtype=bool)
        dropped = np.zeros(len(self.doc_ids), dtype=bool)
        kept[self.doc_of[allowed]] = True
        dropped[self.doc_of[~allowed]] = True
        if not (kept & dropped).any():  # whole documents (filters, duplicates): say which, the shorter way
            if kept.sum() <= dropped.sum():
                return f"doc_id in {json.dumps(sorted(self.doc_ids[kept].tolist()))}"
            return f"doc_id not in {json.dumps(sorted(self.doc_ids[dropped].tolist()))}"
        return f"idx in {json.dumps([int(i) for i in self.idx[allowed]])}"  # passage-level (a quoted phrase)


class MilvusSparse:
    """BM25 candidates from Milvus's BM25 function; term statistics for answers from the local tokenizer."""

    def __init__(self, store: MilvusStore, local_stats, idx: np.ndarray, chunks: Sequence[Chunk]):
        self.store, self.local, self.restriction = store, local_stats, _Restriction(idx, chunks)
        self.position = {int(i): p for p, i in enumerate(idx)}
        self.size = len(chunks)
        self.tokenizer, self.vocabulary, self.positive_idf = local_stats.tokenizer, local_stats.vocabulary, local_stats.positive_idf

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        tokens = self.tokenizer(query)
        if not tokens:
            return []
        expression = self.restriction.expression(allowed)
        found = self.store.search("sparse", [" ".join(tokens)], k, expression, {"metric_type": "BM25"})
        # Milvus Lite reports BM25 as a negative distance; a server as a positive score. Larger is better either way.
        scores = [(self.position[i], abs(score)) for i, score in found if i in self.position]
        return sorted(scores, key=lambda s: (-s[1], s[0]))


class MilvusDense:
    """Dense candidates from Milvus's HNSW index (inner product of normalised vectors: cosine)."""

    def __init__(self, store: MilvusStore, idx: np.ndarray, chunks: Sequence[Chunk], ef: int = 128):
        self.store, self.ef, self.restriction = store, ef, _Restriction(idx, chunks)
        self.position = {int(i): p for p, i in enumerate(idx)}
        self.size = len(chunks)
        self.index_type = "milvus-hnsw"

    def search(self, query_vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        mask = None
        if allowed is not None:  # the engine passes allowed row numbers; Milvus wants the mask's expression
            mask = np.zeros(self.size, dtype=bool)
            mask[allowed] = True
        expression = self.restriction.expression(mask)
        found = self.store.search("dense", [query_vector.astype(np.float32).tolist()], k, expression,
                                  {"metric_type": "IP", "params": {"ef": max(self.ef, k)}})
        hits = [(self.position[i], score) for i, score in found if i in self.position]
        return sorted(hits, key=lambda h: (-h[1], h[0]))
