"""What users depend on that had no test: CLI ask/eval/tune/index options, tuning, filters, rebuilds, corpus
edge cases, citations, model errors, add refusals."""

from __future__ import annotations

import json

import pytest

import qa
from qa.search.cite import format_citation
from qa.config import FusionConfig
from qa.search.filters import document_matches
from qa.ingest.load import load_corpus
from qa.records import Document

from conftest import ARTICLES, FakeEmbedder, run_cli


def test_cli_ask_plain_and_json(fake_engine, capsys, cli_fake):
    code, out, err = run_cli(["ask", "Which sea does the Caspian pipeline carry oil to?", "--index",
                              str(fake_engine.index_dir), "--json"], capsys)
    assert code == 0, err
    answer = json.loads(out)
    assert set(answer) == {"question", "found", "text", "sentences", "hits", "reason"}
    assert (answer["reason"] == "") == answer["found"]
    for s in answer["sentences"]:
        assert set(s) == {"text", "doc_id", "chunk_id", "char_start", "char_end", "marker", "score", "citation"}
        assert fake_engine.document(s["doc_id"]).text[s["char_start"]:s["char_end"]] == s["text"]
    code, out, err = run_cli(["ask", "Which sea does the Caspian pipeline carry oil to?", "--index",
                              str(fake_engine.index_dir)], capsys)
    assert code == 0, err
    if answer["found"]:
        assert answer["sentences"][0]["text"].split()[0] in out and "¶" in out
    else:
        assert out.startswith("Not found in these articles.") and answer["reason"] in out


def test_cli_ask_not_found_shows_reason_and_closest_passages(fake_engine, capsys, cli_fake):
    code, out, err = run_cli(["ask", "What did the Baikonur crews say about Neptune?", "--index",
                              str(fake_engine.index_dir)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Not found in these articles."
    assert lines[1] == "The articles mention Baikonur but never Neptune."
    assert "Closest passages:" in out


def test_cli_ask_with_filters(fake_engine, capsys, cli_fake):
    code, out, err = run_cli(["ask", "oil pipeline grain", "--index", str(fake_engine.index_dir), "--json",
                              "--publication", "Farm Weekly"], capsys)
    assert code == 0, err
    assert {h["doc_id"] for h in json.loads(out)["hits"]} == {"alpha"}


def test_cli_index_options_reach_the_manifest(small_corpus, tmp_path, cli_fake, capsys):
    index = tmp_path / "index"
    code, _, err = run_cli(["index", str(small_corpus), "--index", str(index), "--max-words", "12", "--overlap", "0",
                            "-q"], capsys)
    assert code == 0, err
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["config"]["chunk"]["max_words"] == 12 and manifest["config"]["chunk"]["overlap_sentences"] == 0
    engine = qa.open(index, embedder=cli_fake)
    assert all(len(c.text.split()) <= 12 or "." not in c.text[:-1] for c in engine.chunks)


def test_cli_eval_on_a_small_set(fake_engine, tmp_path, capsys, cli_fake):
    eval_set = tmp_path / "set.jsonl"
    rows = [{"id": "a", "question": "Where does the Caspian pipeline carry oil?", "split": "test",
             "relevant": [{"doc_id": "beta", "quote": "The Caspian pipeline carries oil to the Black Sea.", "grade": 2}]},
            {"id": "b", "question": "What did the Baikonur crews say about Neptune?", "type": "near_miss", "split": "test",
             "relevant": []}]
    eval_set.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, out, err = run_cli(["eval", "--set", str(eval_set), "--index", str(fake_engine.index_dir), "--json",
                              "--reports", str(tmp_path / "reports")], capsys)
    assert code == 0, err
    results = json.loads(out)
    assert results["modes"]["bm25"]["metrics"]["recall@1"] == 1.0
    assert results["answers"]["near_miss"] == 1 and results["answers"]["abstention_near_miss"] == 1.0
    low, high = results["answers"]["intervals_95"]["abstention_near_miss"]
    assert low < 1.0 == high  # one question of one: the rate is 1, the interval wide
    assert "abstention_off_topic" not in results["answers"]["intervals_95"]  # no off-topic question: no interval
    assert (tmp_path / "reports" / "set.md").exists()


def test_rate_intervals_are_wilson_score_intervals():
    from math import sqrt

    from qa.evaluation.tune import rate_intervals

    def wilson(k, n, z=1.959964):
        p = k / n
        centre, half = p + z * z / (2 * n), z * sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return round((centre - half) / (1 + z * z / n), 3), round((centre + half) / (1 + z * z / n), 3)

    metrics = {"answer_accuracy": 35 / 42, "answered": 38 / 42, "in_scope": 42, "abstention_near_miss": 20 / 22,
               "near_miss": 22, "abstention_off_topic": 0.0, "off_topic": 6}
    intervals = rate_intervals(metrics)
    assert intervals["answer_accuracy"] == wilson(35, 42) == (0.694, 0.917)
    assert intervals["abstention_near_miss"] == wilson(20, 22)
    assert intervals["abstention_off_topic"][0] == 0.0 < intervals["abstention_off_topic"][1]


def test_tune_fusion_picks_the_setting_that_ranks_best(fake_engine):
    from qa.evaluation.tune import tune_fusion

    queries = {"a": "Caspian pipeline oil Black Sea"}
    qrels = {"a": {fake_engine.chunks[[c.doc_id for c in fake_engine.chunks].index("beta")].chunk_id: 1}}
    grid = [FusionConfig(method="rrf", rrf_k=10, depth=1), FusionConfig(method="rrf", rrf_k=60, depth=100)]
    rows = tune_fusion(fake_engine, queries, qrels, grid=grid)
    assert len(rows) == 2 and rows[0]["ndcg@10"] >= rows[1]["ndcg@10"]
    assert rows[0]["ndcg@10"] == 1.0


def _tuning_questions():
    from qa.evaluation.evaluate import EvalQuestion, Relevant

    return [EvalQuestion("a", "Where does the Caspian pipeline carry oil?", (Relevant("beta", "The Caspian pipeline carries oil to the Black Sea.", 2),), split="train"),
            EvalQuestion("b", "What is the largest crop?", (Relevant("alpha", "Wheat is the largest crop.", 2),), split="train"),
            EvalQuestion("c", "What did the Baikonur crews say about Neptune?", type="near_miss", split="train"),
            EvalQuestion("d", "Who leases the Baikonur launch site?", (Relevant("gamma", "Baikonur is a launch site leased to Russia.", 2),), split="train"),
            EvalQuestion("e", "What is the capital of France?", type="out_of_scope", split="train")]


def test_answer_tuning_pools_collections_as_one(fake_engine):
    """Questions split over two collections score exactly as the same questions in one: each counts once."""
    from qa.evaluation.tune import answer_metrics, pool_metrics, tune_evidence
    from qa.search.answer import AnswerConfig

    questions = _tuning_questions()
    for config in (AnswerConfig(), AnswerConfig(min_evidence=0.0, specific_terms="off", unknown_word_margin=0.0)):
        together = answer_metrics(fake_engine, questions, config)
        pooled = pool_metrics([answer_metrics(fake_engine, questions[:2], config),
                               answer_metrics(fake_engine, questions[2:], config)])
        assert pooled.keys() == together.keys()
        assert all(pooled[key] == pytest.approx(together[key]) for key in together), (pooled, together)
    assert together["in_scope"] == 3 and together["near_miss"] == 1 and together["off_topic"] == 1
    _, alone = tune_evidence(fake_engine, questions[:2], AnswerConfig())
    _, joined = tune_evidence(fake_engine, questions[:2], AnswerConfig(), also=[(fake_engine, questions[2:])])
    assert {r["in_scope"] + r["out_of_scope"] for r in alone} == {2}
    assert {r["in_scope"] + r["out_of_scope"] for r in joined} == {5}


def test_cli_tune_also_reports_the_other_set(fake_engine, tmp_path, capsys, cli_fake):
    rows = [{"id": q.id, "question": q.question, "type": q.type, "split": split,
             "relevant": [{"doc_id": r.doc_id, "quote": r.quote, "grade": r.grade} for r in q.relevant]}
            for q in _tuning_questions() for split in ("train", "test")]
    main, other = tmp_path / "main.jsonl", tmp_path / "other.jsonl"
    main.write_text("\n".join(json.dumps({**r, "id": r["id"] + r["split"]}) for r in rows[:6]) + "\n")
    other.write_text("\n".join(json.dumps({**r, "id": r["id"] + r["split"]}) for r in rows[6:]) + "\n")
    code, out, err = run_cli(["tune", "--set", str(main), "--index", str(fake_engine.index_dir), "--also", str(other),
                              str(fake_engine.index_dir), "--reports", str(tmp_path / "reports")], capsys)
    assert code == 0, err
    assert "tuned on the train split of main.jsonl, other.jsonl" in out
    assert "chosen, other.jsonl" in out and "shipped, other.jsonl" in out
    other_rows = [line.split(" | ") for line in out.splitlines() if line.startswith("| chosen, other.jsonl")]
    assert [row[1] for row in other_rows] == ["train", "test"]
    assert all(row[4] == "—" for row in other_rows)  # no near-miss question there: no rate, not 0.000
    report = json.loads((tmp_path / "reports" / "tuning.json").read_text())
    assert report["answers"]["other.jsonl"]["train"]["in_scope"] == 1  # d (train); a, b and c went to main
    assert report["evidence_train_top"][0]["in_scope"] + report["evidence_train_top"][0]["out_of_scope"] == 5
    code, _, err = run_cli(["tune", "--set", str(main), "--index", str(fake_engine.index_dir), "--also",
                            str(tmp_path / "missing.jsonl"), str(fake_engine.index_dir)], capsys)
    assert code != 0 and "missing.jsonl" in err


def test_rebuild_when_config_or_model_changes(small_corpus, tmp_path):
    cache = tmp_path / "cache"
    first = FakeEmbedder()
    qa.build(small_corpus, tmp_path / "index", embedder=first, cache_dir=cache)
    same = FakeEmbedder()
    qa.build(small_corpus, tmp_path / "index", embedder=same, cache_dir=cache)
    assert same.documents_encoded == 0  # unchanged: nothing rebuilt or embedded
    smaller = qa.build(small_corpus, tmp_path / "index", config=qa.IndexConfig(chunk=qa.ChunkConfig(max_words=8)),
                       embedder=FakeEmbedder(), cache_dir=cache)
    assert smaller.manifest["config"]["chunk"]["max_words"] == 8
    other = FakeEmbedder(name="other-model")
    rebuilt = qa.build(small_corpus, tmp_path / "index", embedder=other, cache_dir=cache)
    assert rebuilt.manifest["model"]["name"] == "other-model" and other.documents_encoded == len(rebuilt.chunks)


def test_strict_build_raises_on_an_unreadable_file(small_corpus, tmp_path):
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(qa.CorpusError, match="broken.pdf"):
        qa.build(small_corpus, tmp_path / "index", embedder=FakeEmbedder(), cache_dir=tmp_path / "c", strict=True)
    assert not (tmp_path / "index").exists()


def test_corpus_edge_cases(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    (folder / "sub" / "deeper" / "note.md").write_text("A note in a subfolder.\n")
    (folder / ".hidden" / "secret.md").write_text("Never indexed.\n")
    (folder / ".swap.md").write_text("Never indexed either.\n")
    assert [d.doc_id for d in load_corpus(folder)] == ["sub/deeper/note"]
    (folder / "a.md").write_text("One.\n")
    (folder / "a.txt").write_text("Two.\n")
    with pytest.raises(qa.CorpusError, match="two documents with the id 'a'"):
        load_corpus(folder)
    single = tmp_path / "one.md"
    single.write_text("# Only One\n\nThe only article.\n")
    (doc,) = load_corpus(single)
    assert doc.doc_id == "one" and doc.title == "Only One"


@pytest.mark.parametrize("metadata, span, expected", [
    ({"authors": ["Ann Lee", "Bo Chan", "Cy Dee"], "publication": "Steppe Review", "volume": "3", "issue": "7",
      "date": "2011-07"}, (0, 10), "Ann Lee, Bo Chan, and Cy Dee, “T”, Steppe Review, vol. 3, no. 7, July 2011, ¶ 1"),
    ({"authors": ["Ann Lee", "Bo Chan"], "date": "2011-07-04"}, (0, 40), "Ann Lee and Bo Chan, “T”, 4 July 2011, ¶¶ 1–3"),
    ({"publication": "Steppe Review"}, (25, 30), "“T”, Steppe Review, ¶ 3"),
    ({"page_starts": [0, 20], "page_labels": ["iv", "v"]}, (22, 30), "“T”, p. v"),
    ({"page_starts": [0, 20]}, (5, 30), "“T”, pp. 1–2"),
])
def test_citations(metadata, span, expected):
    doc = Document(doc_id="d", title="T", text="First one.\n\nSecond.\n\nThird para.", metadata=metadata)
    assert format_citation(doc, *span) == expected


@pytest.mark.parametrize("date, filters, passes", [
    ("2011", {"since": "2011-06-01"}, True),       # a year covers its whole span
    ("2011", {"until": "2010"}, False),
    ("2011-07", {"since": "2011-07-31"}, True),
    ("2011-07", {"since": "2011-08"}, False),
    ("2011-07-04", {"since": "2011", "until": "2011"}, True),
    ("", {"since": "1900"}, False),                 # undated documents drop out of date filters
])
def test_date_filters_on_partial_dates(date, filters, passes):
    assert document_matches(Document("d", "T", "x", {"date": date}), filters) is passes


def test_model_error_when_the_model_cannot_load_offline(tmp_path, small_corpus):
    from qa.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(str(tmp_path / "not-a-model"))
    with pytest.raises(qa.ModelError, match="without a download"):
        embedder.encode_documents(["text"])


def test_add_refusals(fake_engine, small_corpus, tmp_path, capsys):
    index = str(fake_engine.index_dir)
    clash = tmp_path / "alpha.md"
    clash.write_text("Different text under a name the corpus already has.\n")
    for path, message in [(tmp_path / "missing.md", "no such file"), (tmp_path / "x.xyz", "unsupported file type"),
                          (clash, "already exists with other content")]:
        if path.suffix == ".xyz":
            path.write_text("x")
        code, _, err = run_cli(["add", str(path), "--corpus", str(small_corpus), "--index", index], capsys)
        assert code == 1 and message in err and err.count("\n") == 1
    assert (small_corpus / "alpha.md").read_text() == ARTICLES["alpha.md"]  # nothing overwritten
