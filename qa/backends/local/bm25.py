"""BM25 retrieval: rank-bm25's BM25Okapi scores, precomputed as a sparse term-weight matrix.

A query is one sparse product plus a top-k, instead of rank-bm25's Python loop
over every chunk; ``tests/test_bm25.py`` checks the scores equal
``BM25Okapi.get_scores`` on the same tokens.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy import sparse

from qa.config import BM25Config
from qa.errors import IndexCorruptError

__all__ = ["Tokenizer", "BM25Index", "ENGLISH_STOPWORDS", "top_k"]

# NLTK's English stop word list, minus the negations and "against", which carry meaning in questions.
# "us" is a stop word as the pronoun; the country, written "US" or "U.S.", is told apart by its capitals.
ENGLISH_STOPWORDS = frozenset("""
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is are
was were be been being have has had having do does did doing a an the and but if or because as until while
of at by for with about between into through during before after above below to from up down in out on off
over under again further then once here there when where why how all any both each few more most other some
such only own same so than too very s t can will just don should now d ll m o re ve y us
""".split())

_ACRONYM = re.compile(r"\b(?:[A-Za-z]\.){2,}")  # U.S., U.K., e.g. -> us, uk, eg
_POSSESSIVE = re.compile(r"['’]s\b")
_WORD = re.compile(r"\w+")


class Tokenizer:
    """Lowercase, drop possessives, split on punctuation, remove stop words, Snowball-stem."""

    def __init__(self, config: BM25Config = BM25Config()):
        self.stopwords = ENGLISH_STOPWORDS if config.stopwords == "english" else frozenset()
        self._stemmer = _stemmer(config.stemmer) if config.stemmer else None

    def __call__(self, text: str) -> list[str]:
        text = _ACRONYM.sub(lambda m: m.group(0).replace(".", "").upper(), _POSSESSIVE.sub("", text))
        found = _WORD.findall(text)
        words = []
        for i, word in enumerate(found):
            lower = word.lower()
            if lower in self.stopwords and not _is_acronym(found, i):
                continue
            words.append(lower)
        return self._stemmer.stemWords(words) if self._stemmer else words


def _is_acronym(words: list[str], i: int) -> bool:
    """An all-capital word in mixed-case text ("US", "IT", "U.S." once its dots are gone) names something;
    in a line set in capitals ("FROM THE US") its neighbours decide, and there it is a stop word like the rest."""
    word = words[i]
    if len(word) < 2 or not word.isupper():
        return False
    neighbours = [w for w in words[max(0, i - 1):i] + words[i + 1:i + 2] if any(ch.isalpha() for ch in w)]
    return not neighbours or not all(w.isupper() for w in neighbours)


@lru_cache(maxsize=4)
def _stemmer(algorithm: str):
    import Stemmer  # PyStemmer

    return Stemmer.Stemmer(algorithm)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first; ties broken by lower index."""
    k = min(k, scores.shape[0])
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    # argpartition on the negated array: the other way round is pathologically slow on mostly-zero scores.
    candidates = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(scores.shape[0])
    return candidates[np.lexsort((candidates, -scores[candidates]))]


class BM25Index:
    """Per-term BM25Okapi weights for every chunk, as a (terms x chunks) CSR matrix."""

    def __init__(self, weights: sparse.csr_matrix, vocabulary: dict[str, int], config: BM25Config):
        self.weights = weights
        self.vocabulary = vocabulary
        self.config = config
        self.tokenizer = Tokenizer(config)
        # With every weight positive, a chunk matches a query exactly when its score is > 0, and the
        # top-k can run on the plain scores. BM25Okapi gives zero or negative weights only when a
        # term's idf is exactly 0 or epsilon times a negative mean idf (tiny corpora).
        self._all_positive = bool(weights.nnz == 0 or weights.data.min() > 0)

    @property
    def size(self) -> int:
        return self.weights.shape[1]

    @cached_property
    def positive_idf(self) -> np.ndarray:
        """Per-term ln(1 + (N - df + 0.5) / (df + 0.5)): always positive, unlike BM25Okapi's raw idf.

        Derived once from the matrix (rows are terms), for term-overlap scoring of answer sentences.
        """
        df = np.diff(self.weights.indptr).astype(np.float64)
        return np.log(1 + (self.size - df + 0.5) / (df + 0.5))

    @classmethod
    def build(cls, texts: Iterable[str], config: BM25Config = BM25Config()) -> "BM25Index":
        tokenizer = Tokenizer(config)
        return cls.from_tokens([tokenizer(t) for t in texts], config)

    @classmethod
    def from_tokens(cls, corpus_tokens: Sequence[Sequence[str]], config: BM25Config = BM25Config()) -> "BM25Index":
        vocabulary: dict[str, int] = {}
        rows, cols, counts = [], [], []
        doc_len = np.zeros(len(corpus_tokens), dtype=np.float64)
        for doc, tokens in enumerate(corpus_tokens):
            doc_len[doc] = len(tokens)
            for term, count in Counter(tokens).items():
                rows.append(vocabulary.setdefault(term, len(vocabulary)))
                cols.append(doc)
                counts.append(count)
        n_docs, n_terms = len(corpus_tokens), len(vocabulary)
        rows_a = np.asarray(rows, dtype=np.int64)
        cols_a = np.asarray(cols, dtype=np.int64)
        tf = np.asarray(counts, dtype=np.float64)

        # Exactly BM25Okapi: idf = ln(N - df + 0.5) - ln(df + 0.5); negative idfs are
        # replaced by epsilon times the mean idf over the whole vocabulary.
        df = np.bincount(rows_a, minlength=n_terms).astype(np.float64)
        idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
        if n_terms:
            idf[idf < 0] = config.epsilon * idf.mean()
        avgdl = doc_len.sum() / n_docs if n_docs else 0.0
        norm = 1 - config.b + config.b * doc_len[cols_a] / avgdl if avgdl > 0 else np.ones_like(tf)
        data = idf[rows_a] * tf * (config.k1 + 1) / (tf + config.k1 * norm)
        weights = sparse.csr_matrix((data, (rows_a, cols_a)), shape=(n_terms, n_docs), dtype=np.float64)
        weights.sum_duplicates()
        return cls(weights, vocabulary, config)

    def _query_terms(self, query: str | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        tokens = self.tokenizer(query) if isinstance(query, str) else list(query)
        counts = Counter(t for t in tokens if t in self.vocabulary)
        term_ids = np.fromiter((self.vocabulary[t] for t in counts), dtype=np.int64, count=len(counts))
        return term_ids, np.fromiter(counts.values(), dtype=np.float64, count=len(counts))

    def scores(self, query: str | Sequence[str]) -> np.ndarray:
        """BM25 scores of every chunk; a query term repeated counts again, as in rank-bm25."""
        term_ids, query_weights = self._query_terms(query)
        if not len(term_ids):
            return np.zeros(self.size, dtype=np.float64)
        return np.asarray(self.weights[term_ids].T @ query_weights).ravel()

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The top ``k`` (chunk index, score) pairs among chunks sharing a term with the query.

        ``allowed`` is an optional boolean mask over chunks (a filter).

        Matching is read from the matrix structure, not from the score: in a tiny
        corpus BM25Okapi's idf can be exactly 0, and such a chunk still matches.
        """
        term_ids, query_weights = self._query_terms(query)
        if not len(term_ids):
            return []
        rows = self.weights[term_ids]
        scores = np.asarray(rows.T @ query_weights).ravel()
        if self._all_positive:
            if allowed is not None:  # filter before the top-k cut, so k hits come back whenever k match
                scores[~allowed] = 0.0
            # On mostly-zero scores this is the fast way round (a mask and -inf cost 2x at 1M chunks).
            order = top_k(scores, k)
            return [(int(i), float(scores[i])) for i in order if scores[i] > 0]
        matched = np.zeros(self.size, dtype=bool)
        matched[rows.indices] = True
        if allowed is not None:
            matched &= allowed
        scores = np.where(matched, scores, -np.inf)
        order = top_k(scores, k)
        return [(int(i), float(scores[i])) for i in order if scores[i] != -np.inf]

    def save(self, directory: Path) -> None:
        from qa.backends.local import store  # looked up at call time, so a test can put real write errors on one file

        w = self.weights
        with store.writing(directory / "bm25.npz"):
            np.savez(directory / "bm25.npz", data=w.data, indices=w.indices, indptr=w.indptr, shape=np.asarray(w.shape))
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        with store.writing(directory / "bm25_vocab.json"):
            (directory / "bm25_vocab.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, config: BM25Config) -> "BM25Index":
        try:
            with np.load(directory / "bm25.npz", allow_pickle=False) as arrays:
                shape = tuple(int(x) for x in arrays["shape"])
                weights = sparse.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)
            terms = json.loads((directory / "bm25_vocab.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"the BM25 arrays in {directory} are missing or damaged ({exc}); rebuild with `qa index`") from None
        if len(terms) != shape[0]:
            raise IndexCorruptError(f"the BM25 vocabulary in {directory} does not match its arrays; rebuild with `qa index`")
        return cls(weights, {t: i for i, t in enumerate(terms)}, config)
