import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from qa.backends.local.bm25 import BM25Index, Tokenizer, top_k
from qa.ingest.chunk import chunk_documents
from qa.config import BM25Config
from qa.ingest.load import load_corpus

from conftest import CORPUS


@pytest.fixture(scope="module")
def corpus_tokens():
    tokenizer = Tokenizer()
    return [tokenizer(c.text) for c in chunk_documents(load_corpus(CORPUS))]


QUERIES = ["what did Kazakhstan want from the US?", "oil oil pipeline Caspian", "Nazarbayev visit Bush",
           "word-that-is-nowhere", "the of and", "security security security cooperation NATO"]


@pytest.mark.parametrize("config", [BM25Config(), BM25Config(k1=0.9, b=0.4, epsilon=0.1), BM25Config(k1=2.0, b=1.0)])
def test_scores_equal_rank_bm25(corpus_tokens, config):
    index = BM25Index.from_tokens(corpus_tokens, config)
    reference = BM25Okapi(corpus_tokens, k1=config.k1, b=config.b, epsilon=config.epsilon)
    tokenizer = Tokenizer(config)
    for query in QUERIES:
        tokens = tokenizer(query)
        np.testing.assert_allclose(index.scores(tokens), reference.get_scores(tokens), rtol=0, atol=1e-6)


def test_scores_equal_rank_bm25_with_negative_idf():
    # Terms in more than half the documents get a negative idf, which BM25Okapi floors at epsilon * mean idf.
    docs = [["common", "a"], ["common", "b"], ["common", "c", "c"], ["rare"]]
    index, reference = BM25Index.from_tokens(docs), BM25Okapi(docs)
    for query in (["common"], ["c", "common"], ["rare", "rare"]):
        np.testing.assert_allclose(index.scores(query), reference.get_scores(query), rtol=0, atol=1e-6)


def test_tokenizer_normalises_acronyms_possessives_and_stems():
    tokens = Tokenizer()("Kazakhstan’s exports to the U.S. are growing")
    assert tokens == ["kazakhstan", "export", "us", "grow"]
    assert Tokenizer(BM25Config(stemmer="", stopwords=""))("The Cats") == ["the", "cats"]


def test_search_returns_only_matching_chunks_best_first(corpus_tokens):
    index = BM25Index.from_tokens(corpus_tokens)
    hits = index.search("compensate", 50)
    assert hits and all(score > 0 for _, score in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert index.search("word-that-is-nowhere", 5) == []


def test_top_k_breaks_ties_by_index():
    scores = np.array([0.0, 2.0, 1.0, 2.0, 0.0, 2.0])
    assert top_k(scores, 2).tolist() == [1, 3]
    assert top_k(scores, 10).tolist() == [1, 3, 5, 2, 0, 4]
    assert top_k(scores, 0).tolist() == []


def test_save_and_load_round_trip(tmp_path, corpus_tokens):
    index = BM25Index.from_tokens(corpus_tokens)
    index.save(tmp_path)
    loaded = BM25Index.load(tmp_path, BM25Config())
    np.testing.assert_array_equal(loaded.scores(["kazakhstan", "oil"]), index.scores(["kazakhstan", "oil"]))


def test_a_match_with_zero_idf_is_still_returned():
    # Two documents: a term in one of them has idf ln(1.5) - ln(1.5) = 0 under BM25Okapi.
    index = BM25Index.from_tokens([["zebra", "stripe"], ["lion", "night"]])
    assert index.search(["stripe"], 5) == [(0, 0.0)]
    assert index.search(["tiger"], 5) == []


@pytest.mark.parametrize("docs", [
    [["half", "x"], ["other", "y"]],                  # a term in exactly half the documents: idf 0, kept 0
    [["one"], []],                                    # an empty passage: average length below 1
    [["a", "b"], ["b", "c"], ["c", "d"], ["d", "a"]],
])
def test_edge_corpora_equal_rank_bm25(docs):
    index, reference = BM25Index.from_tokens(docs), BM25Okapi(docs)
    for query in (["half"], ["one"], ["a", "b"], ["b", "d", "d"], ["x", "other"]):
        np.testing.assert_allclose(index.scores(query), reference.get_scores(query), rtol=0, atol=1e-9)


def test_top_k_returns_exactly_the_k_best_in_order():
    rng = np.random.default_rng(3)
    for _ in range(50):
        scores = rng.random(rng.integers(1, 40))
        for k in (1, 2, 3, len(scores) - 1, len(scores), len(scores) + 5):
            if k <= 0:
                continue
            expected = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
            assert list(top_k(scores, k)) == expected
    assert len(top_k(np.array([1.0, 2.0]), 0)) == 0


def test_filtered_search_with_negative_idf_never_returns_a_passage_without_the_terms():
    docs = [["common", "a"], ["common", "b"], ["common", "c"], ["other"]]
    index = BM25Index.from_tokens(docs)
    allowed = np.array([False, True, False, True])
    hits = index.search("common", 10, allowed=allowed)
    assert [i for i, _ in hits] == [1]  # passage 3 is allowed but does not hold "common"


def test_save_and_load_keep_every_passage_and_term(tmp_path):
    docs = [["wheat", "rail"], ["oil"], []]  # the last passage has no terms at all
    index = BM25Index.from_tokens(docs)
    index.save(tmp_path)
    loaded = BM25Index.load(tmp_path, BM25Config())
    assert loaded.size == 3 and loaded.vocabulary == index.vocabulary
    np.testing.assert_array_equal(loaded.scores(["oil"]), index.scores(["oil"]))
    (tmp_path / "bm25_vocab.json").write_text('["wheat"]', encoding="utf-8")
    import qa

    with pytest.raises(qa.IndexCorruptError, match="does not match its arrays; rebuild with `qa index`"):
        BM25Index.load(tmp_path, BM25Config())
