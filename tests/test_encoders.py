"""Passage encoders (ONNX by default, int8 opt-in) and reading in worker processes."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pytest

import qa
from qa.ingest.load import load_corpus

from conftest import FakeEmbedder


class EncoderFake(FakeEmbedder):
    """The fake embedder with the encoder interface: vectors and cache key differ by encoder."""

    def __init__(self):
        super().__init__()
        self.encoder = "sentence-transformers"

    def use_encoder(self, encoder):
        self.encoder = encoder

    @property
    def cache_key(self):
        return hashlib.sha256(f"{self.fingerprint}:{self.encoder}".encode()).hexdigest()


def test_encoder_is_recorded_and_changing_it_re_embeds(small_corpus, tmp_path):
    cache = tmp_path / "cache"
    first = EncoderFake()
    engine = qa.build(small_corpus, tmp_path / "index", embedder=first, cache_dir=cache)
    assert engine.manifest["model"]["encoder"] == "onnx-int8" == engine.manifest["config"]["dense"]["encoder"]
    exact = EncoderFake()
    config = qa.IndexConfig(dense=qa.DenseConfig(encoder="onnx"))
    rebuilt = qa.build(small_corpus, tmp_path / "index", config=config, embedder=exact, cache_dir=cache)
    # Another encoder's vectors are never taken from the cache: every passage is embedded again.
    assert rebuilt.manifest["model"]["encoder"] == "onnx" and exact.documents_encoded == len(rebuilt.chunks)
    again = EncoderFake()
    qa.build(small_corpus, tmp_path / "index2", config=config, embedder=again, cache_dir=cache)
    assert again.documents_encoded == 0  # same encoder: all from the cache


def test_reading_in_worker_processes_keeps_order_and_warnings(tmp_path, caplog):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(40):  # above the threshold for worker processes
        (folder / f"n{i:02d}.md").write_text(f"Note {i} about wheat.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    with caplog.at_level(logging.WARNING):
        documents = load_corpus(folder)
    assert [d.doc_id for d in documents] == [f"n{i:02d}" for i in range(40)]
    assert sum("broken.pdf" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(qa.CorpusError, match="broken.pdf"):
        load_corpus(folder, strict=True)


@pytest.mark.slow
def test_onnx_passage_vectors_equal_sentence_transformers(model_cache, monkeypatch):
    from qa.embed import SentenceTransformerEmbedder

    monkeypatch.setenv("QA_CACHE_DIR", str(model_cache))
    texts = [p.strip() for p in (qa.__path__[0] + "/../corpus/weitz-2013-toward-a-new-kazakhstan-us-partnership.md",)
             for p in open(p, encoding="utf-8").read().split("\n\n") if len(p.split()) > 5][:12]
    texts += ["x", "Naïve café‑owners — “quoted” <text> & 5\u00a0% more; ﬁne ligatures."]
    torch_side = SentenceTransformerEmbedder(encoder="sentence-transformers").encode_documents(texts)
    onnx = SentenceTransformerEmbedder()
    onnx.use_encoder("onnx")
    assert onnx.encoder == "onnx"
    cosine = np.sum(onnx.encode_documents(texts) * torch_side, axis=1)
    assert cosine.min() >= 0.9999
    # A text's vector does not depend on what it is batched with.
    alone = onnx.encode_documents(texts[:1])
    assert np.allclose(alone[0], onnx.encode_documents(texts)[0], atol=1e-5)


@pytest.mark.slow
def test_the_export_is_fused_and_its_int8_quantization_kept(model_cache, monkeypatch):
    import onnx

    from qa.embed import SentenceTransformerEmbedder, onnx_path

    monkeypatch.setenv("QA_CACHE_DIR", str(model_cache))
    embedder = SentenceTransformerEmbedder()
    embedder.use_encoder("onnx-int8")
    assert embedder.encoder == "onnx-int8"  # the int8 export was made and verified, no fallback to torch
    exact = onnx.load(str(onnx_path(embedder.fingerprint)))
    operators = [node.op_type for node in exact.graph.node]
    # One fused Attention a layer (all-MiniLM-L6-v2 has six): the optimizer recognised the eager graph.
    assert operators.count("Attention") == 6 and "SkipLayerNormalization" in operators
    quantized = [node.op_type for node in onnx.load(str(onnx_path(embedder.fingerprint, int8=True))).graph.node]
    assert quantized.count("QAttention") == 6 and "MatMulInteger" in quantized  # int8 attention and feed-forward
