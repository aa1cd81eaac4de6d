"""Answers on evidence: reasons, quoted phrases, no repeated passages, near-duplicate articles, sentence citations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import qa
from qa.search.answer import AnswerConfig
from qa.search.evidence import Evidence, answer_kind, name_key, specific_terms

from conftest import FakeEmbedder

SENTENCES = [
    "The wheat harvest in the northern provinces reached record levels this year.",
    "Farmers in Kostanay reported yields far above the average of the last decade.",
    "Exporters shipped most of the grain through the port of Aktau on the Caspian Sea.",
    "The ministry expects exports to rise again once the new railway opens.",
    "Prices for barley fell because the southern harvest was larger than expected.",
    "Color revolutions in neighbouring states worried the government in the capital.",
    "Officials said the revolutions of color in the region were a warning.",
]


@pytest.fixture
def engine(tmp_path) -> qa.Engine:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    article = "\n\n".join(" ".join(SENTENCES[i:i + 2]) for i in range(0, len(SENTENCES), 2))
    (corpus / "grain.md").write_text("---\ntitle: Grain Report\n---\n" + article + "\n", encoding="utf-8")
    # The same article saved again from another site, with its own furniture: one article to a reader.
    (corpus / "grain-copy.md").write_text("---\ntitle: Grain Report (syndicated)\n---\n" + article
                                          + "\n\nRead more at the Steppe Wire.\n", encoding="utf-8")
    (corpus / "horses.md").write_text("---\ntitle: Horses\nauthors: [Aigerim Sadykova]\npublication: Steppe Gazette\n---\n"
                                      "The steppe horse breeders met in Almaty in May.\n", encoding="utf-8")
    return qa.build(corpus, tmp_path / "index", config=qa.IndexConfig(chunk=qa.ChunkConfig(max_words=30, overlap_sentences=1)),
                    embedder=FakeEmbedder(), cache_dir=tmp_path / "cache")


def test_near_duplicate_documents_are_found_and_shown_once(engine):
    assert engine.duplicates == {"grain-copy": "grain"}
    assert engine.also_in("grain") == ["grain-copy"]
    hits = engine.search("wheat harvest exporters barley", k=10, mode="bm25")
    assert hits and all(h.doc_id != "grain-copy" for h in hits)
    from qa.interfaces.web import render_hits

    assert "also in: Grain Report (syndicated)" in render_hits(engine, "wheat", hits[:1])


def test_cli_search_says_where_else_an_article_appears(engine, capsys, monkeypatch):
    from conftest import run_cli
    import qa.search.engine

    monkeypatch.setattr(qa.search.engine, "SentenceTransformerEmbedder", lambda *a, **k: FakeEmbedder())
    code, out, err = run_cli(["search", "wheat harvest", "-k", "1", "--mode", "bm25", "--index",
                              str(engine.index_dir)], capsys)
    assert code == 0, err
    assert "also in: Grain Report (syndicated)" in out


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_no_two_hits_share_more_than_half_their_text(engine, mode):
    hits = engine.search("harvest exports grain prices railway", k=10, mode=mode)
    assert len(hits) >= 3
    for i, a in enumerate(hits):
        for b in hits[i + 1:]:
            if a.doc_id == b.doc_id:
                shared = min(a.char_end, b.char_end) - max(a.char_start, b.char_start)
                assert shared <= 0.5 * min(a.char_end - a.char_start, b.char_end - b.char_start)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_quoted_phrase_keeps_only_passages_holding_it(engine, mode):
    hits = engine.search('"color revolutions" government', k=10, mode=mode)
    assert hits and all("color revolutions" in h.text.casefold() for h in hits)
    # Case and punctuation are ignored inside the quotes; the words must still be in order.
    assert engine.search('“COLOR, revolutions”', k=5, mode=mode)
    assert engine.search('"revolutions color"', k=5, mode=mode) == []


def test_phrase_nothing_holds_gives_no_hits_and_a_reason(engine):
    answer = engine.ask('"purple elephants" harvest')
    assert not answer.found and answer.hits == () and "purple elephants" in answer.reason


def test_reason_names_what_the_archive_never_mentions(engine):
    answer = engine.ask("What did Kostanay farmers say about Mars?", config=AnswerConfig(min_evidence=0.0))
    assert not answer.found
    assert answer.reason == "The articles mention Kostanay but never Mars."
    assert answer.hits  # the closest passages are still listed


def test_how_many_needs_a_number_in_the_answer(engine):
    answer = engine.ask("How many farmers live in Kostanay?", config=AnswerConfig(min_evidence=0.0, specific_terms="off"))
    assert not answer.found and "number" in answer.reason


def test_found_answers_cite_each_sentence_in_reading_order(engine):
    answer = engine.ask("wheat harvest northern provinces record levels Kostanay yields",
                        config=AnswerConfig(min_evidence=0.0, specific_terms="off", check_answer_kind=False))
    assert answer.found and answer.reason == ""
    document = engine.document(answer.sentences[0].doc_id)
    for s in answer.sentences:
        assert document.text[s.char_start:s.char_end] == s.text
        assert s.citation.endswith("¶ 1") or "¶" in s.citation
    by_doc = [s for s in answer.sentences if s.doc_id == answer.sentences[0].doc_id]
    assert [s.char_start for s in by_doc] == sorted(s.char_start for s in by_doc)


def test_specific_terms_and_answer_kinds():
    assert specific_terms("What did Nazarbayev say about exploring Mars in 2012?") == ["Nazarbayev", "Mars", "2012"]
    assert specific_terms("What does the United States get from Kazakhstan?") == ["United States", "Kazakhstan"]
    assert specific_terms("what did kazakhstan want from the us?") == []
    # A possessive ends a name; the day of a dated month is no topic of its own, the year is.
    assert specific_terms("Who spoke at Garratt's AGM?") == ["Garratt", "AGM"]
    assert specific_terms("What does Kazakhstan's National Fund hold?") == ["Kazakhstan", "National Fund"]
    assert specific_terms("Which case was argued on January 13, 2009?") == ["January", "2009"]
    assert specific_terms("What happened on 3 May 2010?") == ["May", "2010"]
    # A name goes on through a capitalised question word, not through a short function word.
    assert specific_terms("What SUV did Ford show at the Detroit Auto Show?") == ["SUV", "Ford", "Detroit Auto Show"]
    assert specific_terms("What did Kazakhstan In 2010 do?") == ["Kazakhstan", "2010"]
    assert answer_kind("How many troops are there?") == "quantity"
    assert answer_kind("When did it open?") == "date"
    assert answer_kind("Why did it open?") == ""


def test_a_name_meets_its_demonym_but_not_a_neighbour():
    # Snowball stems, as the BM25 tokenizer gives them.
    assert name_key("america") == name_key("american")
    assert name_key("china") == name_key("chines")
    assert name_key("japan") == name_key("japanes") == "japan"  # "jap" would be too short to stand for it
    assert name_key("iraq") == name_key("iraqi") != name_key("iran")
    assert name_key("austria") != name_key("australia")
    assert name_key("2012") == "2012"
    # A land named "-stan" meets its people: Kazakhstan, Kazakhstani, Kazakh; Afghanistan and Afghans.
    assert name_key("kazakhstan") == name_key("kazakhstani") == name_key("kazakh") == name_key("kazakhs")
    assert name_key("afghanistan") == name_key("afghan") == name_key("afghans")
    assert name_key("uzbekistan") == name_key("uzbek") != name_key("kazakh")
    assert name_key("pakistan") == name_key("pakistani") == "pakistan"  # "pak" would be too short


def _evidence(question: str, archive: set[str], config: AnswerConfig = AnswerConfig()) -> Evidence:
    from qa.search.evidence import name_key as key

    tokenize = lambda text: [w.casefold().strip(".,?") for w in text.split() if w.strip(".,?")]
    names = {key(t) for t in archive}
    return Evidence(question, config, tokenize, archive.__contains__, lambda doc_id: set(),
                    name_in_archive=names.__contains__)


def test_a_name_in_another_form_counts_as_in_the_archive():
    assert _evidence("What did the Americans build in Almaty?", {"american", "almaty"}).archive_reason() == ""
    assert _evidence("What did the Americans build in Almaty?", {"almaty"}).archive_reason() == \
        "The articles mention Almaty but never Americans."


def test_two_of_three_terms_meet_a_two_thirds_setting():
    question = "What did Kostanay and Aktau farmers say about Mars?"  # three names; Mars is nowhere
    archive = {"kostanay", "aktau"}
    assert _evidence(question, archive, AnswerConfig(min_term_coverage=0.67)).archive_reason() == ""
    assert _evidence(question, archive, AnswerConfig(min_term_coverage=0.75)).archive_reason() != ""


def test_a_day_of_the_month_is_not_the_number_a_how_many_question_needs(engine):
    from qa.search.answer import Candidate

    evidence = _evidence("How many horses were sold?", set(), AnswerConfig(specific_terms="off"))
    hit = engine.search("horse breeders", k=1)[0]

    def said(text: str) -> str:
        return evidence.reason([Candidate(hit, 0, len(text), text, 1.0, 1.0)])

    assert "number" in said("The breeders met on August 28 in Almaty.")
    assert "number" in said("They met on the 3rd of May.")
    assert said("They sold 1,200 horses on August 28.") == ""
    assert said("They sold three hundred horses.") == ""


def test_a_year_and_a_number_that_points_back_are_no_count_and_an_ordinal_is(engine):
    from qa.search.answer import Candidate

    evidence = _evidence("How many horses were sold?", set(), AnswerConfig(specific_terms="off", counted_word_window=0))
    hit = engine.search("horse breeders", k=1)[0]

    def said(text: str) -> str:
        return evidence.reason([Candidate(hit, 0, len(text), text, 1.0, 1.0)])

    assert "number" in said("In 2010, the breeders met in Almaty.")  # a year before a comma is still a year
    assert "number" in said("Trade in horses began in 1994.")
    assert "number" in said("Horses were traded between the two countries.")  # "the two" counts nothing new
    assert said("It was their sixth sale of horses.") == ""
    assert said("Two countries traded 1,200 horses in 2010, the ministry said.") == ""


def test_a_count_must_stand_beside_what_the_question_counts(engine):
    from qa.search.answer import Candidate

    question = "How many Kazakh students study abroad?"
    hit = engine.search("horse breeders", k=1)[0]

    def said(text: str, window: int = 2) -> str:
        evidence = _evidence(question, {"kazakh", "students"}, AnswerConfig(specific_terms="off", counted_word_window=window))
        return evidence.reason([Candidate(hit, 0, len(text), text, 1.0, 1.0)])

    counts_other = "The state pays hundreds of scholarships for Afghan students."
    assert said(counts_other) == "The closest passages give numbers, but none of Kazakh students."
    assert said("Some 3,000 Kazakh students study in Europe.") == ""
    assert said("Of Kazakh students abroad, 3,000 study in Europe.") == ""  # what it counts may come first
    assert said("A record 1.2 million Kazakh students enrolled.") == ""  # "1.2 million" is one count
    assert said(counts_other, window=0) == ""  # off


def test_a_count_of_what_the_question_counts_under_another_name_counts(engine):
    from qa.search.answer import Candidate

    # A fake model that knows "soldiers" for "troops" and nothing else.
    embed = _bag_of_words({"soldiers": "troops"})
    hit = engine.search("horse breeders", k=1)[0]

    def said(text: str, similarity: float = 0.6) -> str:
        evidence = _evidence("How many troops did Kazakhstan send?", {"kazakhstan", "troops"},
                             AnswerConfig(specific_terms="off", counted_word_window=2, counted_word_similarity=similarity))
        return evidence.reason([Candidate(hit, 0, len(text), text, 1.0, 1.0)], embed)

    assert said("Kazakhstan sent 300 soldiers.") == ""
    assert said("Kazakhstan sent 300 soldiers.", similarity=1.01) != ""  # off: the words differ
    assert said("Kazakhstan sent 300 engineers.") == "The closest passages give numbers, but none of troops."


def test_a_when_question_takes_any_era_of_date_and_no_modal_verb(engine):
    from qa.search.answer import Candidate

    evidence = _evidence("When was the fortress built?", set(), AnswerConfig(specific_terms="off"))
    hit = engine.search("horse breeders", k=1)[0]

    def said(text: str) -> str:
        return evidence.reason([Candidate(hit, 0, len(text), text, 1.0, 1.0)])

    for dated in ("It was built in 1066.", "It was built in the 19th century.", "It was built in the twelfth century.",
                  "It dates from 800 AD.", "Work began on May 3.", "It went up in the 1920s."):
        assert said(dated) == "", dated
    assert "no date" in said("Visitors may see the fortress walls.")  # "may" dates nothing
    assert "no date" in said("The fortress was built by 300 workers.")


def test_a_measure_named_in_the_question_asks_for_a_quantity():
    assert answer_kind("What is the capacity of the pipeline?") == "quantity"
    assert answer_kind("What was the price of oil per barrel?") == "quantity"
    assert answer_kind("How much oil flows through it per day?") == "quantity"
    assert answer_kind("What is the role of Russia?") == ""
    assert answer_kind("What was the outcome of the vote?") == ""


def test_a_share_asked_for_needs_a_share_not_any_number(engine):
    from qa.search.answer import Candidate

    assert answer_kind("What share of its exports goes to China?") == "proportion"
    assert answer_kind("What percentage of voters backed him?") == "proportion"
    assert answer_kind("What body manages the government's shares?") == ""  # shares held, not a part of a whole
    hit = engine.search("horse breeders", k=1)[0]
    evidence = _evidence("What share of its exports goes to China?", {"share", "exports", "china"},
                         AnswerConfig(specific_terms="off"))

    def reason(text: str) -> str:
        return evidence.reason([Candidate(hit, 0, len(text), text, 1.0, 1.0)])

    assert reason("Exports to China reached US$ 20 billion.") == \
        "The question asks for a share, and the closest passages give none."
    for share in ("Some 12% of exports go to China.", "China takes less than three percent of exports.",
                  "China takes two-thirds of exports.", "Half of its exports go to China."):
        assert reason(share) == "", share
    assert _evidence("What share of its exports goes to China?", {"china"}, AnswerConfig(
        specific_terms="off", check_answer_kind=False)).reason(
        [Candidate(hit, 0, 10, "Exports reached US$ 20 billion.", 1.0, 1.0)]) == ""  # off


def _bag_of_words(synonyms: dict[str, str]):
    """A fake sentence encoder: normalised word counts, with each synonym counted as its one meaning."""
    def words(text):
        return [synonyms.get(w, w) for w in (w.strip("?.") for w in text.casefold().split()) if w]

    def embed(texts):
        vocabulary = sorted({w for t in texts for w in words(t)})
        vectors = np.array([[words(t).count(v) for v in vocabulary] for t in texts], dtype=float)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return embed


def test_a_word_the_archive_never_uses_fails_the_answer_only_when_the_answer_ignores_it(engine):
    from qa.search.answer import Candidate

    # "told" and "said" are one meaning: removing "told" from the question takes away something the
    # sentence says, removing "population" takes away something it does not.
    embed = _bag_of_words({"told": "said"})

    archive = {"astana", "capital", "analyst", "said", "nazarbayev", "wait", "to", "of"}
    hit = engine.search("horse breeders", k=1)[0]
    config = AnswerConfig(specific_terms="off", check_answer_kind=False, unknown_word_margin=0.03)

    def reason(question: str, sentence: str, config: AnswerConfig = config) -> str:
        evidence = _evidence(question, archive, config)
        return evidence.unknown_word_reason([Candidate(hit, 0, len(sentence), sentence, 1.0, 1.0)], embed)

    assert reason("What is the population of Astana?", "Astana is the capital.") == \
        "The articles never use the word “population”, and the closest passages do not speak to it."
    assert reason("Which analyst told Nazarbayev to wait?", "The analyst said Nazarbayev should wait.") == ""
    assert reason("What is the population of Astana?", "Astana is the capital.", replace(config, unknown_word_margin=0.0)) == ""


def test_british_and_american_spellings_are_one_word():
    from qa.search.evidence import spelling_variants

    assert "defense" in spelling_variants("defence") and "defence" in spelling_variants("defense")
    assert "criticize" in spelling_variants("criticise") and "center" in spelling_variants("centre")
    assert spelling_variants("population") == ["population"]
    # A question in one spelling about an archive in the other has no unknown word.
    archive = {"astana", "defense", "policy", "of"}
    assert [m.group() for m in _evidence("What is the defence policy of Astana?", archive).unknown] == []
    assert [m.group() for m in _evidence("What is the population of Astana?", archive).unknown] == ["population"]


def test_who_wrote_or_published_an_article_counts_as_what_the_archive_mentions(engine):
    from qa.search.answer import Candidate

    question = "What did the Steppe Gazette report about the breeders?"
    config = AnswerConfig(check_answer_kind=False)
    evidence = Evidence(question, config, engine.bm25.tokenizer, engine.in_archive, engine.document_tokens,
                        name_in_archive=engine.name_in_archive, source_tokens=engine.source_tokens)
    hit = engine.search("horse breeders", k=1)[0]
    assert hit.doc_id == "horses"
    assert evidence.archive_reason() == ""
    assert evidence.absent_terms([Candidate(hit, hit.char_start, hit.char_end, hit.text, 1.0, 1.0)]) == []
    # The passages alone never name it.
    blind = Evidence(question, config, engine.bm25.tokenizer, engine.bm25.vocabulary.__contains__, engine.document_tokens)
    assert blind.archive_reason() == "The articles never mention Steppe Gazette."


def test_an_abbreviation_in_the_question_meets_the_name_spelled_out(engine):
    from qa.search.answer import Candidate

    hit = engine.search("horse breeders", k=1)[0]
    evidence = _evidence("What did the VA notice ask for?", {"va", "notic", "ask"}, AnswerConfig(check_answer_kind=False))

    def absent(text: str) -> list[str]:
        return evidence.absent_terms([Candidate(hit, 0, len(text), text, 1.0, 1.0)])

    assert absent("The Department of Veterans Affairs asks for coaching.") == []
    assert absent("The Department of Defense asks for coaching.") == ["VA"]
    assert absent("Very few asked.") == ["VA"]  # one capitalised word is no abbreviation


def test_an_abbreviation_the_archive_spells_out_counts_as_in_the_archive(engine):
    assert engine.abbreviated_in_archive("GR")  # the title "Grain Report"
    assert not engine.abbreviated_in_archive("WTO")
    assert engine.ask("What did the WTO say about the wheat harvest?").reason == "The articles never mention WTO."
    # In the archive, spelled out: whether the closest passages speak of it is the next check's to say.
    assert "never" not in engine.ask("What did the GR say about the wheat harvest?").reason


def test_a_name_of_several_unknown_words_is_left_out_whole(engine):
    from qa.search.answer import Candidate

    # Without "Hillary" alone the question still names Clinton, as the sentence does not; only without the
    # whole name does the question ask what the sentence says.
    embed = _bag_of_words({})
    archive = {"say", "about", "osce", "kazakhstan", "did", "what"}
    hit = engine.search("horse breeders", k=1)[0]
    evidence = _evidence("What did Hillary Clinton say about OSCE?", archive,
                         AnswerConfig(specific_terms="off", check_answer_kind=False, unknown_word_margin=0.03))
    assert evidence._unknown_spans() == [(9, 24)]
    sentence = "officials say osce about kazakhstan"
    assert evidence.unknown_word_reason([Candidate(hit, 0, len(sentence), sentence, 1.0, 1.0)], embed) == \
        "The articles never use the name “Hillary Clinton”, and the closest passages do not speak to it."


def test_a_name_said_another_way_counts_and_a_name_ignored_does_not(engine):
    from qa.search.answer import Candidate

    embed = _bag_of_words({"fed": "bank"})  # one meaning for "the Fed" and "the central bank"

    archive = {"fed", "bank", "bonds", "putin", "bases", "did", "buy", "say", "about"}
    hit = engine.search("horse breeders", k=1)[0]
    config = AnswerConfig(check_answer_kind=False, unknown_word_margin=0.03)

    def reason(question, sentence, config=config, embed=embed):
        return _evidence(question, archive, config).reason([Candidate(hit, 0, len(sentence), sentence, 1.0, 1.0)], embed)

    assert reason("What bonds did the Fed buy?", "the central bank bonds") == ""
    assert reason("What bonds did the Fed buy?", "the central bank bonds", embed=None) == \
        "The closest passages do not mention Fed."
    assert reason("What did Putin say about bases?", "bases") == "The closest passages do not mention Putin."
    assert reason("What bonds did the Fed buy?", "the central bank bonds", replace(config, unknown_word_margin=0.0)) != ""


def test_a_country_counts_in_any_of_its_forms_and_never_as_another_country(engine):
    from qa.search.answer import Candidate
    from qa.search.countries import countries_in, countries_named

    tokenize = lambda text: [w.casefold().strip(".,?’'s") for w in text.split() if w.strip(".,?")]
    assert countries_named("American", tokenize) & countries_named("U.S.", tokenize) & countries_named("Washington", tokenize)
    assert not countries_named("Turkmenistan", tokenize) & countries_named("Kazakhstan", tokenize)
    assert countries_named("Nazarbayev", tokenize) == frozenset()
    assert countries_in("THE US ECONOMY", tokenize) == frozenset()  # an upper-case heading, not the U.S.

    # A fake model for which one -stan is much like another: only the country check tells them apart.
    embed = _bag_of_words({"turkmenistan": "stan", "kazakhstan": "stan"})
    archive = {"america", "turkmenistan", "kazakhstan", "aid", "did", "give", "firms", "operate", "here"}
    hit = engine.search("horse breeders", k=1)[0]
    config = AnswerConfig(unknown_word_margin=0.03, counted_word_window=2)

    def reason(question, sentence, paragraph="", config=config):
        evidence = Evidence(question, config, tokenize, archive.__contains__, lambda doc_id: set(),
                            document_text=lambda doc_id: paragraph or sentence)
        return evidence.reason([Candidate(hit, 0, len(sentence), sentence, 1.0, 1.0)], embed)

    assert reason("What aid did America give?", "The U.S. gave aid.") == ""
    assert reason("What did Turkmenistan give?", "Kazakhstan gave aid.") == \
        "The closest passages do not mention Turkmenistan."
    assert reason("What did Turkmenistan give?", "Kazakhstan gave aid.", config=replace(config, country_forms=False)) == ""
    # Left unsaid in the sentence, a country its paragraph speaks of may still be the one meant.
    assert reason("What did Turkmenistan give?", "Its neighbour gave aid.",
                  paragraph="Turkmenistan borders Kazakhstan. Its neighbour gave aid.") == ""
    counting = replace(config, specific_terms="off", counted_word_window=3)  # the count's own check alone
    assert reason("How many Chinese firms operate here?", "Hundreds of U.S. firms operate here.", config=counting) == \
        "The closest passages give numbers, but none of Chinese firms."
    assert reason("How many Chinese firms operate here?", "Hundreds of Chinese firms operate here.", config=counting) == ""
    assert reason("How many Chinese firms operate here?", "Hundreds of U.S. firms operate here.",
                  config=replace(counting, country_forms=False)) == ""
