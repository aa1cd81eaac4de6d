import json
from dataclasses import fields

import pytest

import qa
from qa.backends.local.dense import DenseIndex
from qa.errors import (CorpusError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, InvalidArgumentError,
                       InvalidQueryError)

from conftest import FakeEmbedder

HIT_FIELDS = ["rank", "score", "doc_id", "chunk_id", "title", "text", "char_start", "char_end", "citation",
              "bm25_rank", "dense_rank"]


def test_hit_has_the_promised_fields():
    assert [f.name for f in fields(qa.Hit)] == HIT_FIELDS


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_search_finds_the_passage_in_every_mode(fake_engine, mode):
    hits = fake_engine.search("Caspian pipeline oil", k=2, mode=mode)
    assert hits[0].doc_id == "beta"
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    doc = fake_engine.document(hits[0].doc_id)
    assert doc.text[hits[0].char_start:hits[0].char_end] == hits[0].text
    if mode == "bm25":
        assert hits[0].bm25_rank == 1 and hits[0].dense_rank is None
    elif mode == "dense":
        assert hits[0].dense_rank == 1 and hits[0].bm25_rank is None
    else:
        assert hits[0].bm25_rank is not None and hits[0].dense_rank is not None


def test_hybrid_records_both_ranks_and_fused_score(fake_engine):
    hits = fake_engine.search("grain harvest rail", k=10)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert fake_engine.config.fusion.method == "rrf"
    k = fake_engine.config.fusion.rrf_k
    for hit in hits:
        expected = sum(1 / (k + r) for r in (hit.bm25_rank, hit.dense_rank) if r is not None)
        assert hit.score == pytest.approx(expected)


def test_citation_names_author_publication_date_and_place(fake_engine):
    hit = fake_engine.search("wheat grain", k=1, mode="bm25")[0]
    assert hit.citation.startswith("Ann Author, “Grain Exports”, Farm Weekly, 1 May 2020, ¶")


def test_k_is_clamped_to_the_number_of_passages(fake_engine):
    assert len(fake_engine.search("oil", k=10_000, mode="dense")) == len(fake_engine.chunks)


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "\x00\x01", None, 42])
def test_unusable_questions_raise(fake_engine, query):
    with pytest.raises(InvalidQueryError):
        fake_engine.search(query)


def test_overlong_question_raises(fake_engine):
    with pytest.raises(InvalidQueryError, match="limit"):
        fake_engine.search("oil " * 300_000)


@pytest.mark.parametrize("k", [0, -1, "abc", 2.5, True, None])
def test_bad_k_raises(fake_engine, k):
    with pytest.raises(InvalidArgumentError):
        fake_engine.search("oil", k=k)


def test_unknown_mode_raises(fake_engine):
    with pytest.raises(InvalidArgumentError, match="unknown mode"):
        fake_engine.search("oil", mode="sparse")


def test_document_returns_text_and_metadata(fake_engine):
    doc = fake_engine.document("alpha")
    assert doc.title == "Grain Exports" and doc.metadata["publication"] == "Farm Weekly"
    with pytest.raises(InvalidArgumentError):
        fake_engine.document("nope")


def test_open_gives_the_same_results_as_build(fake_engine, fake_embedder):
    reopened = qa.open(fake_engine.index_dir, embedder=fake_embedder)
    for mode in ("hybrid", "dense", "bm25"):
        assert reopened.search("oil grain", k=5, mode=mode) == fake_engine.search("oil grain", k=5, mode=mode)


def test_manifest_records_how_the_index_was_built(fake_engine):
    manifest = json.loads((fake_engine.index_dir / "manifest.json").read_text())
    assert manifest["format_version"] == qa.backends.local.store.FORMAT_VERSION and manifest["qa_version"] == qa.__version__
    assert manifest["model"]["name"] == "fake-embedder" and len(manifest["model"]["weights_sha256"]) == 64
    assert manifest["config"]["chunk"]["max_words"] > 0 and manifest["config"]["bm25"]["k1"] == 1.5
    assert len(manifest["corpus"]["hash"]) == 64 and manifest["created_at"]
    assert not list(fake_engine.index_dir.parent.glob(".index.*"))  # no staging directories left behind


def test_unchanged_corpus_embeds_nothing(small_corpus, tmp_path, cache_dir):
    first = FakeEmbedder()
    qa.build(small_corpus, tmp_path / "index", embedder=first, cache_dir=cache_dir)
    assert first.documents_encoded > 0
    again = FakeEmbedder()
    qa.build(small_corpus, tmp_path / "index", embedder=again, cache_dir=cache_dir)
    assert again.documents_encoded == 0


def test_changed_article_embeds_only_its_new_passages(small_corpus, tmp_path, cache_dir):
    qa.build(small_corpus, tmp_path / "index", embedder=FakeEmbedder(), cache_dir=cache_dir)
    (small_corpus / "delta.md").write_text("---\ntitle: New\n---\nA brand new article about horses.\n")
    second = FakeEmbedder()
    engine = qa.build(small_corpus, tmp_path / "index", embedder=second, cache_dir=cache_dir)
    assert second.documents_encoded == 1
    assert engine.search("horses", k=1, mode="bm25")[0].doc_id == "delta"


def test_failed_build_leaves_the_previous_index(small_corpus, tmp_path, cache_dir, monkeypatch):
    index = tmp_path / "index"
    before = qa.build(small_corpus, index, embedder=FakeEmbedder(), cache_dir=cache_dir).search("oil", k=3)
    (small_corpus / "delta.md").write_text("More oil news.\n")

    def broken_save(self, directory):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(DenseIndex, "save", broken_save)
    with pytest.raises(OSError):
        qa.build(small_corpus, index, embedder=FakeEmbedder(), cache_dir=cache_dir)
    monkeypatch.undo()
    assert qa.open(index, embedder=FakeEmbedder()).search("oil", k=3) == before
    assert not list(tmp_path.glob(".index.*"))


def test_missing_index_raises(tmp_path):
    with pytest.raises(IndexNotFoundError, match="qa index"):
        qa.open(tmp_path / "nowhere")


def test_index_from_another_model_is_refused(fake_engine):
    with pytest.raises(IndexMismatchError, match="rebuild"):
        qa.open(fake_engine.index_dir, embedder=FakeEmbedder(name="other-model"))
    with pytest.raises(IndexMismatchError, match="other-model"):
        qa.open(fake_engine.index_dir, model="other-model")


def test_same_name_other_weights_is_refused_at_first_dense_query(fake_engine):
    impostor = FakeEmbedder()
    impostor.fingerprint = "0" * 64
    engine = qa.open(fake_engine.index_dir, embedder=impostor)
    assert engine.search("oil", mode="bm25")  # BM25 never touches the model
    with pytest.raises(IndexMismatchError, match="other weights"):
        engine.search("oil", mode="dense")


def test_index_from_another_format_is_refused(fake_engine, fake_embedder):
    path = fake_engine.index_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 999
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format"):
        qa.open(fake_engine.index_dir, embedder=fake_embedder)


@pytest.mark.parametrize("damage", ["manifest", "faiss", "npz", "chunks", "chunks_missing"])
def test_damaged_index_raises_corrupt(fake_engine, fake_embedder, damage):
    d = fake_engine.index_dir
    if damage == "manifest":
        (d / "manifest.json").write_text("{ not json")
    elif damage == "faiss":
        (d / "dense.faiss").write_bytes((d / "dense.faiss").read_bytes()[:40])
    elif damage == "npz":
        (d / "bm25.npz").write_bytes(b"garbage")
    elif damage == "chunks":
        (d / "chunks.jsonl").write_text('{"chunk_id": "x", "doc_id": "alpha", "char_start": 0, "char_end": 99999, "position": 0}\n')
    else:
        (d / "chunks.jsonl").unlink()
    with pytest.raises(IndexCorruptError, match="rebuild"):
        qa.open(d, embedder=fake_embedder)


def test_build_of_an_empty_corpus_raises(tmp_path, fake_embedder):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError):
        qa.build(tmp_path / "empty", tmp_path / "index", embedder=fake_embedder)


def test_jsonl_corpus_builds(tmp_path, fake_embedder, cache_dir):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"_id": "1", "title": "Zebras", "text": "Zebras have stripes."}\n'
                    '{"_id": "2", "title": "Lions", "text": "Lions hunt at night."}\n')
    engine = qa.build(path, tmp_path / "index", embedder=fake_embedder, cache_dir=cache_dir)
    assert engine.search("stripes", k=1, mode="bm25")[0].doc_id == "1"
    assert engine.search("zebras", k=1, mode="bm25")[0].title == "Zebras"  # the title is searchable too


def test_filters_apply_before_the_top_k_cut(fake_engine):
    for mode in ("hybrid", "dense", "bm25"):
        hits = fake_engine.search("oil grain launch", k=1, mode=mode, filters={"publication": "Sky Review"})
        assert [h.doc_id for h in hits] == ["gamma"], mode
    hits = fake_engine.search("grain oil", k=5, filters={"doc_id": ["alpha", "beta"]})
    assert {h.doc_id for h in hits} <= {"alpha", "beta"}
    assert fake_engine.search("grain", filters={"author": "ann author"})[0].doc_id == "alpha"


def test_date_filters_are_inclusive_and_drop_undated(fake_engine):
    assert {h.doc_id for h in fake_engine.search("grain oil", k=10, filters={"since": "2020-05-01"})} == {"alpha"}
    assert fake_engine.search("grain", filters={"until": "2020-04-30"}) == []
    assert fake_engine.search("grain", filters={"until": "2020"})[0].doc_id == "alpha"


def test_bad_filters_raise(fake_engine):
    with pytest.raises(InvalidArgumentError, match="unknown filter"):
        fake_engine.search("oil", filters={"colour": "red"})
    with pytest.raises(InvalidArgumentError, match="not a date"):
        fake_engine.search("oil", filters={"since": "last week"})


def test_weighted_fusion_setting_is_used(fake_engine):
    weighted = fake_engine.with_fusion(qa.FusionConfig(method="weighted", dense_weight=1.0))
    assert [h.chunk_id for h in weighted.search("grain harvest", k=3)] == \
        [h.chunk_id for h in fake_engine.search("grain harvest", k=3, mode="dense")]
