import pytest

import qa
from qa.search.answer import NOT_FOUND, AnswerConfig, Candidate, select_sentences
from qa.records import Hit

from conftest import FakeEmbedder

TRICKY = ("---\ntitle: Tricky “Quotes”\n---\n"
          "  The  zebra\u00a0crossing   was painted  “white” in 1999.\u2003It cost $5\u202fmillion.\n\n"
          "Ünïcödé naïve café—résumé: the zebra’s stripes are unique!\tTabs\tand\r\nodd line ends here.\n\n"
          "Short one. The zebra herd migrates south every winter across the plains.\n")


@pytest.fixture
def tricky_engine(tmp_path, cache_dir):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tricky.md").write_text(TRICKY, encoding="utf-8")
    (corpus / "other.md").write_text("---\ntitle: Lions\n---\nLions hunt at night on the savanna.\n", encoding="utf-8")
    return qa.build(corpus, tmp_path / "index", embedder=FakeEmbedder(), cache_dir=cache_dir)


@pytest.mark.parametrize("question", ["zebra crossing painted white", "zebra stripes unique café", "zebra migrates",
                                      "what did it cost?", "“white”", "naïve résumé"])
def test_answer_sentences_are_verbatim_at_their_spans(tricky_engine, question):
    answer = tricky_engine.ask(question, config=AnswerConfig(min_evidence=0.0))
    assert answer.found and 1 <= len(answer.sentences) <= 3
    for sentence in answer.sentences:
        text = tricky_engine.document(sentence.doc_id).text
        assert text[sentence.char_start:sentence.char_end] == sentence.text
        assert sentence.text == sentence.text.strip() and sentence.text
        assert sentence.marker in {h.rank for h in answer.hits}
        hit = answer.hits[sentence.marker - 1]
        assert hit.char_start <= sentence.char_start and sentence.char_end <= hit.char_end
    assert answer.text == " ".join(f"{s.text} [{s.marker}]" for s in answer.sentences)


def test_weak_evidence_abstains(tricky_engine):
    answer = tricky_engine.ask("quantum chromodynamics of gluons", config=AnswerConfig(min_evidence=0.99))
    assert not answer.found and answer.text == NOT_FOUND and answer.sentences == ()
    assert answer.hits  # the closest passages are still there to look at


def test_bad_questions_raise_like_search(tricky_engine):
    with pytest.raises(qa.InvalidQueryError):
        tricky_engine.ask("   ")
    with pytest.raises(qa.InvalidArgumentError):
        tricky_engine.ask("zebra", k=0)


def _hit(rank=1, doc="d"):
    return Hit(rank=rank, score=1.0, doc_id=doc, chunk_id=f"{doc}#0", title="", text="", char_start=0, char_end=100,
               citation="", bm25_rank=None, dense_rank=None)


def test_selection_keeps_three_unique_sentences_over_the_cutoff():
    hit = _hit()
    cands = [Candidate(hit, i * 20, i * 20 + 19, "word " * 12, dense=0.9 - i * 0.05, lexical=0.5) for i in range(6)]
    found, chosen = select_sentences(cands, AnswerConfig(relative_cutoff=0.0, short_sentence_words=0))
    assert found and [c.char_start for c in chosen] == [0, 20, 40]
    duplicate = Candidate(_hit(rank=2), 0, 19, "word " * 12, dense=0.95, lexical=0.5)  # same span from another chunk
    _, chosen = select_sentences([duplicate, *cands], AnswerConfig(relative_cutoff=0.0, short_sentence_words=0))
    assert [c.char_start for c in chosen] == [0, 20, 40]


def test_a_short_sentence_brings_the_one_before_it():
    hit = _hit()
    before = Candidate(hit, 0, 60, "The main complaint is that it is not paid for its role here.", dense=0.3, lexical=0.1)
    short = Candidate(hit, 61, 90, "It feels taken for granted.", dense=0.9, lexical=0.5, previous=before)
    found, chosen = select_sentences([before, short], AnswerConfig(max_sentences=1 + 1, relative_cutoff=0.99))
    assert found and chosen == [before, short]


def test_a_table_row_or_heading_stands_alone():
    hit = _hit()
    before = Candidate(hit, 0, 30, "PRODUCT SERVICE CODE | R799", dense=0.3, lexical=0.1)
    config = AnswerConfig(max_sentences=2, relative_cutoff=0.99)
    for text in ("NAICS CODE | 611430", "Management Developmental Coaching"):
        alone = Candidate(hit, 31, 31 + len(text), text, dense=0.9, lexical=0.5, previous=before)
        found, chosen = select_sentences([before, alone], config)
        assert found and chosen == [alone], text


@pytest.mark.slow
def test_example_question_answers_with_weitz_on_compensation(real_engine):
    answer = real_engine.ask("what did Kazakhstan want from the US?")
    assert answer.found
    weitz = [s for s in answer.sentences if "does not compensate Kazakhstan suitably" in s.text]
    assert weitz and weitz[0].doc_id == "weitz-2013-toward-a-new-kazakhstan-us-partnership"
    assert answer.hits[weitz[0].marker - 1].citation.startswith("Richard Weitz")


@pytest.mark.slow
@pytest.mark.parametrize("question", ["What is the capital of France?", "How do I bake sourdough bread?"])
def test_out_of_scope_questions_abstain(real_engine, question):
    assert not real_engine.ask(question).found
