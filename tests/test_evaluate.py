import json

import pytest

from qa.errors import CorpusError, InvalidArgumentError
from qa.evaluation.evaluate import (EvalQuestion, Relevant, documents_by_best_passage, evaluate_set, load_beir,
                         load_eval_set, passage_qrels, score_run)

from conftest import CORPUS, REPO


def test_perfect_and_empty_runs_score_one_and_zero():
    qrels = {"q1": {"a": 2, "b": 1}, "q2": {"c": 1}}
    perfect, _ = score_run(qrels, {"q1": ["a", "b"], "q2": ["c"]})
    assert perfect == {"recall@1": pytest.approx(0.75), "recall@5": 1.0, "recall@10": 1.0, "mrr@10": 1.0,
                       "ndcg@10": 1.0}
    nothing, per_query = score_run(qrels, {"q1": ["x"]})
    assert all(value == 0.0 for value in nothing.values()) and per_query["q2"]["ndcg@10"] == 0.0


def test_rank_order_is_what_is_scored():
    qrels = {"q1": {"a": 1}}
    assert score_run(qrels, {"q1": ["x", "y", "a"]})[0]["mrr@10"] == pytest.approx(1 / 3)


def test_quotes_become_passage_relevance(fake_engine):
    doc = fake_engine.document("beta")
    question = EvalQuestion("q1", "pipeline?", (Relevant("beta", "Tengiz is the largest oil field.", 2),))
    qrels = passage_qrels(fake_engine, [question])
    assert qrels["q1"]
    for chunk_id, grade in qrels["q1"].items():
        chunk = next(c for c in fake_engine.chunks if c.chunk_id == chunk_id)
        assert "Tengiz" in chunk.text and grade == 2
    assert doc.text.count("Tengiz") == 1


def test_a_quote_missing_from_its_article_is_an_error(fake_engine):
    question = EvalQuestion("q1", "?", (Relevant("beta", "words that are not there", 1),))
    with pytest.raises(InvalidArgumentError, match="not in beta"):
        passage_qrels(fake_engine, [question])


def test_evaluate_set_reports_every_mode(fake_engine):
    questions = [EvalQuestion("q1", "Caspian pipeline to the Black Sea", (Relevant("beta", "The Caspian pipeline carries oil to the Black Sea.", 2),)),
                 EvalQuestion("q2", "launch site leased to Russia", (Relevant("gamma", "Baikonur is a launch site leased to Russia.", 2),)),
                 EvalQuestion("oos", "capital of France")]
    results = evaluate_set(fake_engine, questions)
    assert results["questions"] == 2
    assert results["modes"]["bm25"]["metrics"]["mrr@10"] == 1.0  # the fake embedder is no judge of dense quality
    for mode in ("hybrid", "dense", "bm25"):
        metrics = results["modes"][mode]["metrics"]
        assert set(metrics) == {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"}
        assert all(0.0 <= value <= 1.0 for value in metrics.values())
        assert len(results["modes"][mode]["recall_curve"]) == 20


def test_shipped_eval_set_is_well_formed():
    questions = load_eval_set(REPO / "eval" / "kazakhstan.jsonl")
    in_scope = [q for q in questions if q.in_scope]
    assert len(in_scope) >= 60 and len(questions) - len(in_scope) >= 10
    assert len({q.id for q in questions}) == len(questions)
    assert {q.split for q in questions} == {"train", "test"}
    from qa.ingest.load import load_corpus

    texts = {d.doc_id: d.text for d in load_corpus(CORPUS)}
    for q in in_scope:
        for rel in q.relevant:
            assert texts[rel.doc_id].count(rel.quote) == 1, (q.id, rel.quote[:40])


def test_bad_eval_line_is_reported(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "q1", "question": "ok?"}\n{"question": "no id"}\n')
    with pytest.raises(CorpusError, match="line 2"):
        load_eval_set(path)


def test_beir_loader_reads_crlf_qrels_and_only_the_split(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "", "text": "x"}\n')
    (tmp_path / "queries.jsonl").write_text(
        json.dumps({"_id": "1", "text": "claim one", "metadata": {"label": "SUPPORT"}}) + "\n"
        + json.dumps({"_id": "2", "text": "train claim"}) + "\n")
    (tmp_path / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\r\n1\td1\t1\r\n")
    corpus, queries, qrels = load_beir(tmp_path)
    assert queries == {"1": "claim one"} and qrels == {"1": {"d1": 1}}


def test_documents_are_ranked_by_their_best_passage(fake_engine):
    chunk_ids = [c.chunk_id for c in fake_engine.chunks]
    beta = [c for c in chunk_ids if c.startswith("beta")]
    alpha = [c for c in chunk_ids if c.startswith("alpha")]
    assert documents_by_best_passage(fake_engine, [beta[0], alpha[0], *beta[1:]]) == ["beta", "alpha"]
