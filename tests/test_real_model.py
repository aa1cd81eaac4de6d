"""The real bundled all-MiniLM-L6-v2 over the five shipped articles (built once per session)."""

import hashlib

import numpy as np
import pytest

import qa
from qa.embed import SentenceTransformerEmbedder, resolve_model_path

pytestmark = pytest.mark.slow

EXAMPLE = "what did Kazakhstan want from the US?"
WEITZ = "weitz-2013-toward-a-new-kazakhstan-us-partnership"


def test_example_question_finds_weitz_on_compensation(real_engine):
    hits = real_engine.search(EXAMPLE, k=3)
    weitz = [h for h in hits if h.doc_id == WEITZ and "does not compensate Kazakhstan suitably" in h.text]
    assert weitz, [h.chunk_id for h in hits]
    assert weitz[0].citation.startswith("Richard Weitz, “Toward A New Kazakhstan-U.S. Partnership”, CACI Analyst, "
                                        "20 March 2013, ¶")


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_every_mode_answers_a_factual_question(real_engine, mode):
    hits = real_engine.search("How much have private American firms invested in Kazakhstan?", k=3, mode=mode)
    assert any("US$ 20 billion" in h.text for h in hits)


def test_dense_finds_a_paraphrase_bm25_cannot(real_engine):
    # No word of the question is in the Koizumi passage ("Japanese Prime Minister … uranium cooperation").
    question = "Which head of government from Tokyo came to talk about nuclear fuel?"
    dense = real_engine.search(question, k=3, mode="dense")
    assert any("Koizumi" in h.text for h in dense)
    bm25 = real_engine.search(question, k=10, mode="bm25")
    assert bm25 and not any("Koizumi" in h.text for h in bm25)


def test_manifest_records_the_weights_hash(real_engine):
    weights = resolve_model_path("all-MiniLM-L6-v2") / "model.safetensors"
    assert real_engine.manifest["model"]["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert real_engine.manifest["model"]["dimension"] == 384


def test_query_vectors_are_normalised_and_match_the_library(real_engine):
    from sentence_transformers import SentenceTransformer

    ours = SentenceTransformerEmbedder().encode_queries([EXAMPLE])[0]
    reference = SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu").encode(EXAMPLE)
    assert np.linalg.norm(ours) == pytest.approx(1.0, abs=1e-5)
    assert float(ours @ (reference / np.linalg.norm(reference))) > 0.9999


def test_reopened_index_answers_identically(real_engine):
    reopened = qa.open(real_engine.index_dir)
    assert reopened.search(EXAMPLE, k=5) == real_engine.search(EXAMPLE, k=5)


def test_onnx_query_encoder_gives_the_library_vectors(tmp_path):
    from sentence_transformers import SentenceTransformer

    from qa.embed import OnnxQueryEncoder, export_onnx

    model_dir = resolve_model_path("all-MiniLM-L6-v2")
    model = SentenceTransformer(str(model_dir), device="cpu")
    export_onnx(model, model_dir, tmp_path / "model.onnx")
    questions = ["what did Kazakhstan want from the US?", "Ünïcödé naïve café — “quotes”?", "?",
                 "a very long question about oil and pipelines " * 60]  # past the 256-token limit
    ours = OnnxQueryEncoder(tmp_path / "model.onnx", model_dir).encode(questions)
    reference = model.encode(questions, normalize_embeddings=True)
    assert float(np.min(np.sum(ours * reference, axis=1))) >= 0.999
