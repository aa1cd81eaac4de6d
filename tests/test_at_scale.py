"""Thousands of passages (fake embedder): where HNSW, filtered HNSW, candidate depth and fusion can differ."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

import qa
from qa.search.fuse import reciprocal_rank_fusion

from conftest import FakeEmbedder

WORDS = [f"w{i}" for i in range(600)]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, Path]:
    """120 articles of 25 paragraphs, ~3,000 passages; words drawn from a Zipf-like distribution."""
    rng = random.Random(7)
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    corpus = tmp_path_factory.mktemp("gen") / "corpus"
    corpus.mkdir()
    for a in range(120):
        paragraphs = [" ".join(rng.choices(WORDS, weights, k=20)) + "." for _ in range(25)]
        publication = ("North Weekly", "South Daily", "East Review")[a % 3]
        (corpus / f"a{a:03d}.md").write_text(
            f"---\ntitle: Article {a}\npublication: {publication}\ndate: {2000 + a % 20}-01-01\n---\n"
            + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return corpus, tmp_path_factory.mktemp("gen-index")


def build(generated, index_type: str, name: str) -> qa.Engine:
    corpus, base = generated
    config = qa.IndexConfig(dense=qa.DenseConfig(index_type=index_type))
    return qa.build(corpus, base / name, config=config, embedder=FakeEmbedder(), cache_dir=base / "cache")


@pytest.fixture(scope="module")
def flat(generated) -> qa.Engine:
    return build(generated, "flat", "flat")


@pytest.fixture(scope="module")
def hnsw(generated) -> qa.Engine:
    return build(generated, "hnsw", "hnsw")


QUESTIONS = [" ".join(random.Random(q).choices(WORDS[:200], k=4)) for q in range(30)]


def test_the_corpus_is_large_enough_for_hnsw_to_be_approximate(flat, hnsw):
    assert len(flat.chunks) >= 2500 and hnsw.manifest["dense"]["index_type"] == "hnsw"


def test_hnsw_recall_against_exact_search(flat, hnsw):
    found = total = 0
    for question in QUESTIONS:
        exact = {h.chunk_id for h in flat.search(question, k=10, mode="dense")}
        approx = {h.chunk_id for h in hnsw.search(question, k=10, mode="dense")}
        found += len(exact & approx)
        total += len(exact)
    assert found / total >= 0.9


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_filters_apply_before_the_cut_on_hnsw(hnsw, flat, mode):
    filters = {"publication": "East Review", "since": "2010"}
    allowed = {d.doc_id for d in hnsw.documents if d.publication == "East Review" and d.date >= "2010"}
    overlap = []
    for question in QUESTIONS[:10]:
        hits = hnsw.search(question, k=20, mode=mode, filters=filters)
        assert len(hits) == 20  # k hits come back, though most passages are filtered out
        assert {h.doc_id for h in hits} <= allowed
        if mode == "dense":  # filtered HNSW finds most of what filtered exact search finds
            exact = {h.chunk_id for h in flat.search(question, k=20, mode=mode, filters=filters)}
            overlap.append(len(exact & {h.chunk_id for h in hits}) / 20)
    if mode == "dense":
        assert sum(overlap) / len(overlap) >= 0.8


def test_hybrid_is_rrf_of_the_two_rankings_at_the_configured_depth(flat):
    fusion = flat.config.fusion
    differs_from_both = 0
    for question in QUESTIONS:
        # The retrievers' own candidate lists (before search collapses overlapping passages).
        bm25 = [i for i, _ in flat.bm25.search(question, fusion.depth)]
        dense = [i for i, _ in flat.dense.search(flat.query_vector(question), fusion.depth)]
        fused = reciprocal_rank_fusion([bm25, dense], k=fusion.rrf_k)
        # Search collapses overlapping passages in every mode; the same collapse over the fused list.
        expected = [flat.chunks[i].chunk_id for i, _ in flat._distinct(fused, 10)]
        hybrid = [h.chunk_id for h in flat.search(question, k=10, mode="hybrid")]
        assert hybrid == expected
        top_bm25 = [flat.chunks[i].chunk_id for i in bm25[:5]]
        top_dense = [flat.chunks[i].chunk_id for i in dense[:5]]
        differs_from_both += hybrid[:5] != top_bm25 and hybrid[:5] != top_dense
    assert differs_from_both >= len(QUESTIONS) // 2


def test_candidate_depth_changes_what_fusion_can_find(flat):
    shallow = flat.with_fusion(replace(flat.config.fusion, depth=10))
    changed = sum([h.chunk_id for h in flat.search(q, k=10)] != [h.chunk_id for h in shallow.search(q, k=10)]
                  for q in QUESTIONS)
    assert changed > 0
    for question in QUESTIONS[:5]:
        bm25 = {h.chunk_id for h in flat.search(question, k=10, mode="bm25")}
        dense = {h.chunk_id for h in flat.search(question, k=10, mode="dense")}
        assert {h.chunk_id for h in shallow.search(question, k=10)} <= bm25 | dense
