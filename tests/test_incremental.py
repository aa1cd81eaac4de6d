"""Updating an index re-embeds only what changed and ranks exactly as a full rebuild does."""

from dataclasses import replace

import pytest

import qa
from qa.backends.local.dense import choose_index_type

from conftest import FakeEmbedder

QUESTIONS = ["grain harvest rail", "oil pipeline investors", "launch site rockets", "horses steppe", "wheat"]


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_add_change_remove_equals_a_full_rebuild(small_corpus, tmp_path, index_type):
    config = qa.IndexConfig()
    config = replace(config, dense=replace(config.dense, index_type=index_type))
    cache = tmp_path / "cache"
    qa.build(small_corpus, tmp_path / "index", config=config, embedder=FakeEmbedder(), cache_dir=cache)

    (small_corpus / "delta.md").write_text("---\ntitle: Horses\n---\nThe steppe horses run free across the plains.\n")
    (small_corpus / "alpha.md").write_text((small_corpus / "alpha.md").read_text().replace(
        "Wheat is the largest crop.", "Barley overtook wheat this year."))
    (small_corpus / "gamma.md").unlink()

    updating = FakeEmbedder()
    updated = qa.build(small_corpus, tmp_path / "index", config=config, embedder=updating, cache_dir=cache)
    fresh = qa.build(small_corpus, tmp_path / "fresh", config=config, embedder=FakeEmbedder(),
                     cache_dir=tmp_path / "fresh-cache")
    changed = [c for c in fresh.chunks if c.doc_id == "delta" or "Barley" in c.text]
    assert 0 < updating.documents_encoded <= len(changed) < len(fresh.chunks)
    assert updated.manifest["dense"]["index_type"] == index_type
    assert [c.chunk_id for c in updated.chunks] == [c.chunk_id for c in fresh.chunks]
    for question in QUESTIONS:
        for mode in ("hybrid", "dense", "bm25"):
            assert updated.search(question, k=10, mode=mode) == fresh.search(question, k=10, mode=mode)
    assert "gamma" not in {d.doc_id for d in updated.documents}


def test_index_type_is_chosen_by_size_and_recorded(small_corpus, tmp_path):
    assert choose_index_type("auto", 49_999, 50_000) == "flat"
    assert choose_index_type("auto", 50_000, 50_000) == "hnsw"
    assert choose_index_type("flat", 10**7, 50_000) == "flat"
    config = qa.IndexConfig()
    config = replace(config, dense=replace(config.dense, hnsw_threshold=2))
    engine = qa.build(small_corpus, tmp_path / "index", config=config, embedder=FakeEmbedder(),
                      cache_dir=tmp_path / "cache")
    assert engine.manifest["dense"]["index_type"] == "hnsw"
    assert qa.open(tmp_path / "index", embedder=FakeEmbedder()).dense.index_type == "hnsw"


def test_progress_bar_reports_rate_and_eta(small_corpus, tmp_path, capsys):
    qa.build(small_corpus, tmp_path / "index", embedder=FakeEmbedder(), cache_dir=tmp_path / "cache", progress=True)
    err = capsys.readouterr().err
    assert "embedding passages" in err and "passage/s" in err
