"""The engine: build an index from a corpus, open it, and search it (BM25, dense, or both fused)."""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Sequence

import numpy as np

from qa.backends.local.bm25 import BM25Index
from qa.ingest.chunk import chunk_document
from qa.search.cite import format_citation
from qa.config import FusionConfig, IndexConfig
from qa.backends.local.dense import DenseIndex, choose_index_type
from qa.embed import Embedder, EmbeddingCache, SentenceTransformerEmbedder, default_cache_dir, embed_cached
from qa.errors import IndexCorruptError, IndexMismatchError, InvalidArgumentError, InvalidQueryError
from qa.search.filters import document_matches
from qa.search.fuse import reciprocal_rank_fusion, weighted_fusion
from qa.ingest.load import corpus_hash, load_corpus, parallel_map
from qa.records import Chunk, Document, Hit
from qa.backends.local import store
from qa.backends.local.store import new_manifest, read_jsonl, read_manifest, write_index_dir, write_json, write_jsonl
from qa.backends.milvus import is_milvus_uri

if TYPE_CHECKING:
    from qa.backends import DenseRetriever, SparseRetriever
    from qa.search.answer import Answer, AnswerConfig

__all__ = ["Engine", "build", "open_index", "save_index", "quoted_phrases", "MODES", "Mode", "MAX_QUERY_CHARS"]

logger = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
# Longer than any question; keeps a pasted document from tying up the tokenizer.
MAX_QUERY_CHARS = 10_000
_WORD = re.compile(r"(?:[A-Za-z]\.){2,}|[\w’']+")
# A phrase in straight or curly double quotes must occur as written (words in order).
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')
# Two hits sharing more than this share of the shorter one's text are the same passage to a reader.
_MAX_OVERLAP = 0.5


def quoted_phrases(query: str) -> list[str]:
    """The phrases a query puts in double quotes ("…" or “…”), with at least one word each."""
    return [p.strip() for m in _QUOTED.finditer(query) if (p := m.group(1) or m.group(2)) and _plain_words(p).strip()]


def _plain_words(text: str) -> str:
    """Lower case, punctuation as spaces, single-spaced and padded: phrase matching on whole words."""
    return " " + " ".join(re.findall(r"\w+", text.casefold())) + " "


def passage_text(doc: Document, chunk: Chunk) -> str:
    """What both retrievers see: the article title, then the passage."""
    return f"{doc.title}\n{chunk.text}" if doc.title else chunk.text


class Engine:
    """An opened index. Queries never change its state, so one engine can serve many threads."""

    def __init__(self, index_dir: Path | str, manifest: dict, documents: list[Document], chunks: list[Chunk],
                 bm25: "SparseRetriever", dense: "DenseRetriever", embedder: Embedder):
        self.index_dir = index_dir
        self.manifest = manifest
        self.config = IndexConfig.from_dict(manifest["config"])
        self._documents = {d.doc_id: d for d in documents}
        self.chunks = chunks
        self.bm25 = bm25
        self.dense = dense
        self.embedder = embedder
        # doc_id -> the document it repeats (MinHash at index time); its passages are shown once, as that one's.
        self.duplicates: dict[str, str] = dict(manifest.get("duplicates") or {})
        self._model_checked = False
        self._model_lock = threading.Lock()
        # `ask` embeds the question its search already embedded; lru_cache is thread-safe.
        self._query_vectors = lru_cache(maxsize=128)(lambda text: self.embedder.encode_queries([text])[0])

    def __repr__(self) -> str:
        return f"Engine({str(self.index_dir)!r}, documents={len(self._documents)}, chunks={len(self.chunks)})"

    def with_fusion(self, fusion: FusionConfig) -> "Engine":
        """The same index with other fusion settings (for tuning; nothing is copied or rebuilt)."""
        manifest = {**self.manifest, "config": {**self.manifest["config"], "fusion": asdict(fusion)}}
        engine = Engine(self.index_dir, manifest, self.documents, self.chunks, self.bm25, self.dense, self.embedder)
        engine._model_checked = self._model_checked
        return engine

    def ask(self, question: str, k: int = 5, mode: Mode = "hybrid", filters: Mapping[str, Any] | None = None,
            config: "AnswerConfig | None" = None) -> "Answer":
        """Answer ``question`` with the sentences of the top passages that best answer it.

        Args:
            question: the question.
            k: how many passages to draw sentences from (they are the answer's ``hits``, numbered [n]).
            mode: retrieval mode for the passages.
            filters: as for :meth:`search`.
            config: sentence scoring weights and the abstention threshold (defaults were tuned on the eval set).

        Returns:
            An :class:`~qa.search.answer.Answer`: up to three verbatim sentences with their spans and markers,
            or ``found=False`` and "Not found in these articles." when the evidence is weak.

        Raises:
            InvalidQueryError, InvalidArgumentError: as for :meth:`search`.
        """
        from qa.search.answer import AnswerConfig, answer_question

        return answer_question(self, question, k=k, mode=mode, filters=filters, config=config or AnswerConfig())

    @property
    def documents(self) -> list[Document]:
        return list(self._documents.values())

    def document(self, doc_id: str) -> Document:
        """The stored document with its full text and metadata.

        Raises:
            InvalidArgumentError: no document has that id.
        """
        try:
            return self._documents[doc_id]
        except (KeyError, TypeError):
            raise InvalidArgumentError(f"no document with id {doc_id!r} in this index") from None

    def search(self, query: str, k: int = 5, mode: Mode = "hybrid", filters: Mapping[str, Any] | None = None) -> list[Hit]:
        """Rank passages for ``query``.

        Args:
            query: the question, in any words.
            k: how many passages to return; clamped to the number of passages.
            mode: "hybrid" (BM25 and dense fused), "dense" or "bm25".
            filters: keep only passages of matching documents, applied before the top-k cut:
                ``publication``, ``author`` (a name or a list: any of them matches), ``doc_id`` (an id
                or a list), ``since`` and ``until`` (ISO dates, inclusive; undated documents drop out).

        Returns:
            Up to ``k`` hits, best first (BM25 returns only passages sharing a term with the query).

        Raises:
            InvalidQueryError: the query is empty, blank or too long.
            InvalidArgumentError: ``k`` is not a positive integer or ``mode`` is unknown.
        """
        query = clean_query(query)
        k = check_k(k)
        if mode not in MODES:
            raise InvalidArgumentError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        mask = self._filter_mask(filters) if filters else None
        mask = self._and(mask, self._phrase_mask(query))
        mask = self._and(mask, self._canonical_mask())
        if mask is not None and not mask.any():
            return []
        k = min(k, len(self.chunks))
        depth = max(k, self.config.fusion.depth)
        bm25 = self.bm25.search(query, depth, allowed=mask) if mode in ("hybrid", "bm25") else []
        dense = self._dense_search(query, depth, mask) if mode in ("hybrid", "dense") else []
        bm25_rank = {i: r for r, (i, _) in enumerate(bm25, 1)}
        dense_rank = {i: r for r, (i, _) in enumerate(dense, 1)}
        if mode == "bm25":
            ranked = bm25
        elif mode == "dense":
            ranked = dense
        else:
            ranked = self._fuse(bm25, dense)
        kept = self._distinct(ranked, k)
        return [self._hit(rank, index, score, bm25_rank.get(index), dense_rank.get(index))
                for rank, (index, score) in enumerate(kept, 1)]

    def _distinct(self, ranked: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
        """The first ``k`` of ``ranked`` whose text is not mostly another kept hit's (overlapping passages)."""
        kept: list[tuple[int, float]] = []
        for index, score in ranked:
            chunk = self.chunks[index]
            if any(_overlap(chunk, self.chunks[other]) > _MAX_OVERLAP for other, _ in kept):
                continue
            kept.append((index, score))
            if len(kept) == k:
                break
        return kept

    def also_in(self, doc_id: str) -> list[str]:
        """Documents found at index time to be near-duplicates of ``doc_id`` (shown once, as this one)."""
        return sorted(d for d, canonical in self.duplicates.items() if canonical == doc_id)

    def term_idf(self, token: str) -> float:
        """BM25's (positive) IDF of a token; a token no passage holds weighs as much as the rarest one."""
        index = self.bm25.vocabulary.get(token)
        return float(self.bm25.positive_idf[index]) if index is not None else float(np.log(1 + self.bm25.size))

    def in_archive(self, token: str) -> bool:
        """Whether the archive uses this BM25 token: in a passage, or in who wrote or published a document
        ("Did Snopes find …" asks of a page Snopes.com published, whose text may never name it)."""
        return token in self.bm25.vocabulary or token in self._source_vocabulary()

    def name_in_archive(self, key: str) -> bool:
        """Whether some token of the archive (``in_archive``) has this name key (``countries.name_key``):
        "american" answers for "America"."""
        keys = self.__dict__.get("_name_keys")
        if keys is None:
            from qa.search.countries import name_key

            keys = self.__dict__["_name_keys"] = frozenset(
                name_key(token) for token in (*self.bm25.vocabulary, *self._source_vocabulary()))
        return key in keys

    def source_tokens(self, doc_id: str) -> set[str]:
        """The BM25 tokens of a document's authors and publication: a sentence speaks with its source's name."""
        cache = self.__dict__.setdefault("_source_tokens", {})
        if doc_id not in cache:
            doc = self.document(doc_id)
            cache[doc_id] = set(self.bm25.tokenizer(" ".join([*doc.authors, doc.publication or ""])))
        return cache[doc_id]

    def _source_vocabulary(self) -> frozenset[str]:
        vocabulary = self.__dict__.get("_source_vocabulary_set")
        if vocabulary is None:
            vocabulary = self.__dict__["_source_vocabulary_set"] = frozenset().union(
                *(self.source_tokens(doc_id) for doc_id in self._documents))
        return vocabulary

    def truecased(self, question: str, doc_ids: Sequence[str]) -> str:
        """The question with its names typed in lower case written as names (``evidence.truecase``), as the
        documents of its passages write them (``evidence.word_cases``) or as countries. Only those documents are
        read, each once, so the cost does not grow with the archive; remembered, since tuning asks the same
        question of the same passages under every setting."""
        from qa.search.countries import countries_named
        from qa.search.evidence import truecase, word_cases, written_as

        key = (question, *dict.fromkeys(doc_ids))
        memo = self.__dict__.setdefault("_truecased", {})
        if key not in memo:
            cache = self.__dict__.setdefault("_word_cases", {})
            for doc_id in key[1:]:
                if doc_id not in cache:
                    document = self.document(doc_id)
                    cache[doc_id] = word_cases(f"{document.title}\n{document.text}")
            cases = [cache[doc_id] for doc_id in key[1:]]

            def casing(word: str) -> str | None:
                forms = sum((c[word] for c in cases if word in c), Counter())
                return written_as(forms) if forms else None

            if len(memo) >= 1 << 16:
                memo.clear()
            memo[key] = truecase(question, casing, lambda phrase: bool(countries_named(phrase, self.cached_tokenizer)))
        return memo[key]

    def abbreviated_in_archive(self, abbreviation: str) -> bool:
        """Whether some document spells out the abbreviation: "AGM" is the initials of "Annual General Meeting"
        in a notice that never writes "AGM" (``evidence.capitalised_initials``)."""
        spelled_out = self.__dict__.get("_archive_abbreviations")
        if spelled_out is None:
            from qa.search.evidence import capitalised_initials

            # Every run of consecutive initials an abbreviation could be (2 to 6 letters), gathered once, so that
            # each question looks one up instead of scanning every run of the archive.
            runs = set().union(*(capitalised_initials(f"{doc.title}\n{doc.text}") for doc in self._documents.values()))
            spelled_out = self.__dict__["_archive_abbreviations"] = frozenset(
                run[i:j] for run in runs for i in range(len(run)) for j in range(i + 2, min(len(run), i + 6) + 1))
        return abbreviation in spelled_out

    def document_tokens(self, doc_id: str) -> set[str]:
        """The BM25 tokens of a document, title included (for the answer's evidence checks)."""
        cache = self.__dict__.setdefault("_document_tokens", {})
        if doc_id not in cache:
            doc = self.document(doc_id)
            cache[doc_id] = set(self.bm25.tokenizer(f"{doc.title}\n{doc.text}"))
        return cache[doc_id]

    @staticmethod
    def _and(mask: np.ndarray | None, other: np.ndarray | None) -> np.ndarray | None:
        if other is None:
            return mask
        return other if mask is None else mask & other

    def _phrase_mask(self, query: str) -> np.ndarray | None:
        phrases = [_plain_words(p) for p in quoted_phrases(query)]
        if not phrases:
            return None
        if not hasattr(self, "_plain_chunks"):
            self._plain_chunks = [_plain_words(c.text) for c in self.chunks]
        return np.fromiter((all(p in text for p in phrases) for text in self._plain_chunks), dtype=bool,
                           count=len(self.chunks))

    def _canonical_mask(self) -> np.ndarray | None:
        if not self.duplicates:
            return None
        if not hasattr(self, "_canonical"):
            self._canonical = np.fromiter((c.doc_id not in self.duplicates for c in self.chunks), dtype=bool,
                                          count=len(self.chunks))
        return self._canonical

    def term_spans(self, query: str, text: str) -> list[tuple[int, int]]:
        """Character spans of the words in ``text`` that match a term of ``query`` (after stemming)."""
        terms = set(self.bm25.tokenizer(query))
        if not terms:
            return []
        return [(m.start(), m.end()) for m in _WORD.finditer(text) if any(t in terms for t in self.bm25.tokenizer(m.group(0)))]

    def _fuse(self, bm25: list[tuple[int, float]], dense: list[tuple[int, float]]) -> list[tuple[int, float]]:
        fusion = self.config.fusion
        if fusion.method == "weighted":
            return weighted_fusion([dict(bm25), dict(dense)], [1 - fusion.dense_weight, fusion.dense_weight])
        return reciprocal_rank_fusion([[i for i, _ in bm25], [i for i, _ in dense]], k=fusion.rrf_k)

    def _dense_search(self, query: str, depth: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        allowed = np.flatnonzero(mask) if mask is not None else None
        if allowed is not None and not len(allowed):
            return []
        return self.dense.search(self.query_vector(query), depth, allowed=allowed)

    @property
    def cached_tokenizer(self) -> "Callable[[str], tuple[str, ...]]":
        """BM25's tokenizer, remembering the last 65,536 texts: the evidence checks tokenize the same sentences
        under every setting that tuning tries."""
        tokenizer = self.bm25.tokenizer
        cached = self.__dict__.get("_cached_tokenizer")
        if cached is None or cached[0] is not tokenizer:  # a rebuilt BM25 index brings its own tokenizer
            memo = functools.lru_cache(maxsize=1 << 16)(lambda text: tuple(tokenizer(text)))
            cached = self.__dict__["_cached_tokenizer"] = (tokenizer, memo)
        return cached[1]

    def sentence_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Short texts at question time (answer sentences, a question and its variants) through the exact
        encoder, each remembered (the last 4,096): tuning asks for the same sentences under every setting."""
        self._check_model()
        memo = self.__dict__.setdefault("_sentence_memo", {})
        # Read into a local dict first: another thread may clear the shared memo meanwhile.
        found = {t: vector for t in texts if (vector := memo.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            encode = getattr(self.embedder, "encode_sentences", self.embedder.encode_documents)
            fresh = dict(zip(missing, encode(missing)))
            found.update(fresh)
            if len(memo) + len(fresh) > 4096:
                memo.clear()
            memo.update(fresh)
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, self.embedder.dimension), np.float32)

    def query_vector(self, query: str) -> np.ndarray:
        """The question's embedding (remembered for the last 128 questions; treat it as read-only)."""
        self._check_model()
        return self._query_vectors(query)

    def _filter_mask(self, filters: Mapping[str, Any]) -> np.ndarray:
        """Boolean mask over chunks for the documents that pass ``filters``."""
        documents = list(self._documents.values())
        passing = np.fromiter((document_matches(d, filters) for d in documents), dtype=bool, count=len(documents))
        return passing[self._chunk_documents()]

    def _chunk_documents(self) -> np.ndarray:
        # Position of each chunk's document, built once: per query, a filter is then one array lookup.
        if not hasattr(self, "_chunk_doc_index"):
            position = {doc_id: i for i, doc_id in enumerate(self._documents)}
            self._chunk_doc_index = np.fromiter((position[c.doc_id] for c in self.chunks), dtype=np.int64,
                                                count=len(self.chunks))
        return self._chunk_doc_index

    def _check_model(self) -> None:
        # Deferred to the first dense query so that BM25-only use never loads (or hashes) the model.
        if self._model_checked:
            return
        with self._model_lock:
            if self._model_checked:
                return
            expected = self.manifest["model"].get("weights_sha256")
            if expected and self.embedder.fingerprint != expected:
                raise IndexMismatchError(
                    f"the index at {self.index_dir} was built with other weights for model "
                    f"{self.manifest['model'].get('name')!r}; rebuild with `qa index CORPUS --index {self.index_dir}`")
            self._model_checked = True

    def _hit(self, rank: int, index: int, score: float, bm25_rank: int | None, dense_rank: int | None) -> Hit:
        chunk = self.chunks[index]
        doc = self._documents[chunk.doc_id]
        return Hit(rank=rank, score=float(score), doc_id=doc.doc_id, chunk_id=chunk.chunk_id, title=doc.title,
                   text=chunk.text, char_start=chunk.char_start, char_end=chunk.char_end,
                   citation=format_citation(doc, chunk.char_start, chunk.char_end),
                   bm25_rank=bm25_rank, dense_rank=dense_rank)


def _overlap(a: Chunk, b: Chunk) -> float:
    """Shared characters of two passages as a share of the shorter one (0 for different documents)."""
    if a.doc_id != b.doc_id:
        return 0.0
    shared = min(a.char_end, b.char_end) - max(a.char_start, b.char_start)
    return max(0, shared) / max(1, min(a.char_end - a.char_start, b.char_end - b.char_start))


def clean_query(query: object) -> str:
    if not isinstance(query, str):
        raise InvalidQueryError(f"the question must be text, not {type(query).__name__}")
    # Control characters (other than whitespace) and U+FFFD, what undecodable bytes become,
    # carry no meaning for search; drop them.
    query = "".join(" " if ch == "\ufffd" or (not ch.isspace() and unicodedata.category(ch)[0] == "C") else ch
                    for ch in query).strip()
    if not query:
        raise InvalidQueryError("the question is empty; type a question")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQueryError(f"the question is {len(query):,} characters long; the limit is {MAX_QUERY_CHARS:,}")
    return query


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InvalidArgumentError(f"k must be a whole number, not {k!r}")
    if k <= 0:
        raise InvalidArgumentError(f"k of {k} must be at least 1")
    return int(k)


def _model_manifest(embedder: Embedder, dimension: int) -> dict:
    return {"name": embedder.name, "weights_sha256": embedder.fingerprint, "dimension": dimension,
            "encoder": getattr(embedder, "encoder", "sentence-transformers")}


def build(corpus: str | Path, index: str | Path = "index", *, config: IndexConfig | None = None,
          embedder: Embedder | None = None, cache_dir: str | Path | None = None,
          progress: bool = False, strict: bool = False) -> Engine:
    """Build (or refresh) the index at ``index`` from ``corpus`` and return it opened.

    Passages already embedded (by this or an earlier build, with the same model)
    come from the embedding cache; an unchanged corpus with unchanged settings
    leaves the index untouched. The new index is written beside the old one and
    swapped in only when complete.

    Args:
        corpus: a folder of .md/.txt articles or a BEIR-style .jsonl file.
        index: the index directory to create or replace.
        config: chunking, BM25, model and fusion settings (defaults if None).
        embedder: the embedding model (default: the one ``config`` names).
        cache_dir: where embeddings are cached (default ``$QA_CACHE_DIR`` or ``~/.cache/qa``).
        progress: show a progress bar while embedding.
        strict: stop at the first unreadable file instead of skipping it with a warning.

    Raises:
        CorpusError: the corpus is missing or holds no readable document (or, when strict, a file is unreadable).
        ModelError: the model cannot be loaded offline.
    """
    config = config or IndexConfig()
    milvus = is_milvus_uri(index)
    index_dir = index if milvus else Path(index)
    if milvus:
        from qa.backends.milvus import MilvusStore

        MilvusStore(index_dir)  # an unreachable server is said now, not after the corpus is embedded
    embedder = embedder or SentenceTransformerEmbedder(config.dense.model, batch_size=config.dense.batch_size)
    started = time.perf_counter()
    skipped: list[str] = []
    documents = load_corpus(corpus, strict=strict, skipped=skipped, progress=progress)
    content_hash = corpus_hash(documents)
    if _up_to_date(index_dir, content_hash, config, embedder):
        logger.info("index at %s is up to date", index_dir)
        if hasattr(embedder, "use_encoder"):
            embedder.use_encoder(config.dense.encoder)  # questions go through the index's encoder
        return open_index(index_dir, embedder=embedder)

    by_id = {d.doc_id: d for d in documents}
    # pysbd costs ~10 ms a document: large corpora are chunked in worker processes, in document order.
    chunks = [c for doc_chunks in parallel_map(functools.partial(chunk_document, config=config.chunk), documents,
                                               "chunking", progress, parallel=len(documents) >= 200)
              for c in doc_chunks]
    if hasattr(embedder, "use_encoder"):
        # Exports once per weights (verified); every passage of this index goes through the same encoder.
        embedder.use_encoder(config.dense.encoder)
    texts = [passage_text(by_id[c.doc_id], c) for c in chunks]
    bm25 = BM25Index.build(texts, config.bm25)  # Milvus scores BM25 itself; the engine keeps term statistics
    cache = EmbeddingCache(Path(cache_dir) if cache_dir else default_cache_dir(),
                           getattr(embedder, "cache_key", embedder.fingerprint))
    try:
        vectors, embedded = embed_cached(embedder, texts, cache, progress=progress)
    finally:
        cache.close()
    index_type = "milvus-hnsw" if milvus else choose_index_type(config.dense.index_type, len(chunks),
                                                                config.dense.hnsw_threshold)
    dense = None if milvus else DenseIndex.build(vectors, index_type)
    from qa.ingest.dedup import near_duplicates

    manifest = new_manifest(
        duplicates=near_duplicates(documents),
        model=_model_manifest(embedder, int(vectors.shape[1])),
        config=config.to_dict(),
        corpus={"path": str(corpus), "hash": content_hash, "documents": len(documents), "chunks": len(chunks),
                "skipped": skipped},
        dense={"index_type": index_type},
        build={"seconds": round(time.perf_counter() - started, 3), "passages_embedded": embedded},
        files=["manifest.json", "documents.jsonl", "chunks.jsonl", "bm25.npz", "bm25_vocab.json", "dense.faiss"],
    )
    if milvus:
        from qa.backends.milvus import MilvusStore

        tokenized = [" ".join(bm25.tokenizer(text)) for text in texts]
        written = MilvusStore(index_dir).write(manifest, documents, chunks, tokenized, vectors)
        logger.info("Milvus: %d passages upserted, %d deleted", written["upserted"], written["deleted"])
        return open_index(index_dir, embedder=embedder, _bm25=bm25)
    save_index(index_dir, manifest, documents, chunks, bm25, dense)
    logger.info("indexed %d documents as %d passages (%d embedded) in %.1fs", len(documents), len(chunks),
                embedded, time.perf_counter() - started)
    return Engine(index_dir, manifest, documents, chunks, bm25, dense, embedder)


def save_index(index_dir: Path, manifest: dict, documents: Sequence[Document], chunks: Sequence[Chunk],
               bm25: BM25Index, dense: DenseIndex) -> None:
    """Write an index directory aside and swap it in whole (see ``store.write_index_dir``)."""
    with write_index_dir(index_dir) as staging:
        with store.writing(staging / "documents.jsonl"):
            write_jsonl(staging / "documents.jsonl", [
                {"doc_id": d.doc_id, "title": d.title, "text": d.text, "metadata": d.metadata, "source": d.source}
                for d in documents])
        with store.writing(staging / "chunks.jsonl"):
            write_jsonl(staging / "chunks.jsonl", [
                {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "char_start": c.char_start, "char_end": c.char_end,
                 "position": c.position, **({"page": c.page} if c.page is not None else {})} for c in chunks])
        bm25.save(staging)  # names its own files in errors
        with store.writing(staging / "dense.faiss"):
            dense.save(staging)
        with store.writing(staging / "manifest.json"):
            write_json(staging / "manifest.json", manifest)  # last: a directory with a manifest is complete


def _read_any_manifest(index) -> dict:
    if is_milvus_uri(index):
        from qa.backends.milvus import MilvusStore

        return MilvusStore(index).read_manifest()
    return read_manifest(index)


def _up_to_date(index_dir: Path, content_hash: str, config: IndexConfig, embedder: Embedder) -> bool:
    try:
        manifest = _read_any_manifest(index_dir)
    except Exception:  # no index, or one we would rebuild anyway
        return False
    return (manifest["corpus"].get("hash") == content_hash
            and manifest["config"] == config.to_dict()
            and manifest["model"].get("name") == embedder.name
            and manifest["model"].get("weights_sha256") == embedder.fingerprint)


def open_index(index: str | Path = "index", *, embedder: Embedder | None = None, model: str | None = None,
               _bm25: BM25Index | None = None) -> Engine:
    """Open a built index.

    Args:
        index: the index directory.
        embedder: the embedding model to embed questions with (default: the one the index was built with).
        model: the model you expect the index to use; a different one is an error.

    Raises:
        IndexNotFoundError: there is no index at ``index``.
        IndexCorruptError: a file of the index is missing or damaged.
        IndexMismatchError: the index has another format or was built with another model.
    """
    if is_milvus_uri(index):
        return _open_milvus(str(index), embedder=embedder, model=model, _bm25=_bm25)
    index_dir = Path(index)
    manifest = read_manifest(index_dir)
    built_with = _check_model_name(index_dir, manifest, embedder, model)
    config = IndexConfig.from_dict(manifest["config"])
    documents = [Document(doc_id=r["doc_id"], title=r["title"], text=r["text"], metadata=r.get("metadata") or {},
                          source=r.get("source", "")) for r in _records(index_dir / "documents.jsonl")]
    texts = {d.doc_id: d.text for d in documents}
    chunks = []
    for r in _records(index_dir / "chunks.jsonl"):
        text = texts.get(r["doc_id"])
        if text is None or not 0 <= r["char_start"] < r["char_end"] <= len(text):
            raise IndexCorruptError(f"{index_dir / 'chunks.jsonl'} does not match its documents; rebuild with `qa index`")
        chunks.append(Chunk(chunk_id=r["chunk_id"], doc_id=r["doc_id"], text=text[r["char_start"]:r["char_end"]],
                            char_start=r["char_start"], char_end=r["char_end"], position=r["position"],
                            page=r.get("page")))
    bm25 = BM25Index.load(index_dir, config.bm25)
    dense = DenseIndex.load(index_dir, (manifest.get("dense") or {}).get("index_type", "flat"))
    if not (bm25.size == dense.size == len(chunks)):
        raise IndexCorruptError(f"the index at {index_dir} is inconsistent ({len(chunks)} passages, {bm25.size} in BM25, "
                                f"{dense.size} in FAISS); rebuild with `qa index`")
    embedder = embedder or SentenceTransformerEmbedder(built_with, batch_size=config.dense.batch_size,
                                                       encoder=manifest["model"].get("encoder", "sentence-transformers"))
    return Engine(index_dir, manifest, documents, chunks, bm25, dense, embedder)


def _check_model_name(index, manifest: dict, embedder: Embedder | None, model: str | None) -> str:
    """The model the index was built with; an error if the caller expects another."""
    built_with = manifest["model"].get("name")
    asked = model or (embedder.name if embedder is not None else None)
    if asked is not None and asked != built_with:
        raise IndexMismatchError(f"the index at {index} was built with model {built_with!r}, not {asked!r}; "
                                 f"rebuild it with `qa index CORPUS --index {index} --model {asked}`")
    return built_with


def _open_milvus(uri: str, *, embedder: Embedder | None, model: str | None, _bm25: BM25Index | None) -> Engine:
    """An index in Milvus: documents, passages' offsets and the manifest read from it; candidates searched in it."""
    from qa.backends.local.store import FORMAT_VERSION
    from qa.backends.milvus import MilvusDense, MilvusSparse, MilvusStore

    store = MilvusStore(uri)
    manifest = store.read_manifest()
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(f"the index at {uri} has format {manifest.get('format_version')}; this qa reads format "
                                 f"{FORMAT_VERSION}; rebuild with `qa index CORPUS --index {uri}`")
    built_with = _check_model_name(uri, manifest, embedder, model)
    config = IndexConfig.from_dict(manifest["config"])
    documents = store.read_documents()
    chunks, idx = store.read_chunks(documents)
    if _bm25 is None:  # term statistics for answers and highlighting, from the passages as the engine sees them
        by_id = {d.doc_id: d for d in documents}
        _bm25 = BM25Index.build([passage_text(by_id[c.doc_id], c) for c in chunks], config.bm25)
    embedder = embedder or SentenceTransformerEmbedder(built_with, batch_size=config.dense.batch_size,
                                                       encoder=manifest["model"].get("encoder", "sentence-transformers"))
    return Engine(uri, manifest, documents, chunks, MilvusSparse(store, _bm25, idx, chunks),
                  MilvusDense(store, idx, chunks), embedder)


def _records(path: Path) -> list[dict]:
    records = read_jsonl(path)
    try:
        for r in records:
            r["doc_id"]  # noqa: B018 - a record without it is damage
    except (KeyError, TypeError):
        raise IndexCorruptError(f"{path} is damaged; rebuild with `qa index`") from None
    return records
