"""The evidence checks one rule at a time, on hand-made sentences (no index, no model): what each rule accepts,
what it refuses, and the reason it gives. Written against mutmut's survivors in qa/search/evidence.py."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qa.records import Hit
from qa.search.answer import AnswerConfig, Candidate
from qa.search.evidence import (Evidence, _paragraph, capitalised_initials, counted_words, is_abbreviation)


def tokenize(text: str) -> list[str]:
    return [w.casefold().strip(".,?!") for w in text.split() if w.strip(".,?!")]


def evidence(question: str, archive: set[str] | None = None, config: AnswerConfig = AnswerConfig(),
             idf=lambda token: 1.0, document_text=lambda doc_id: "") -> Evidence:
    archive = archive if archive is not None else set(tokenize(question))
    return Evidence(question, config, tokenize, archive.__contains__, lambda doc_id: set(), idf, document_text)


def sentences(*texts: str, title: str = "", passage: str = "") -> list[Candidate]:
    hit = Hit(rank=1, score=1.0, chunk_id="d#0", doc_id="d", title=title, text=passage or " ".join(texts),
              char_start=0, char_end=0, citation="", bm25_rank=None, dense_rank=None)
    return [Candidate(hit, 0, len(t), t, 1.0, 1.0) for t in texts]


def test_reasons_name_every_missing_term_in_a_list():
    five = "What did Nazarbayev and Putin say about Mars and Venus in 2012?"
    assert evidence(five, {"nazarbayev", "putin"}).archive_reason() == \
        "The articles mention Nazarbayev and Putin but never Mars, Venus or 2012."
    assert evidence("What did Zog and Blip say?", set()).archive_reason() == "The articles never mention Zog or Blip."
    assert evidence(five).reason(sentences("Nazarbayev and Putin met in 2012.")) == \
        "The closest passages do not mention Mars or Venus."


def test_question_coverage_names_the_heaviest_words_missing():
    weights = {"wheat": 3.0, "harvest": 2.0, "records": 1.5, "farmers": 1.0}
    config = AnswerConfig(specific_terms="off", check_answer_kind=False, min_question_coverage=0.5)
    check = evidence("wheat harvest records farmers", config=config, idf=lambda token: weights.get(token, 0.0))
    # wheat alone is 3 of 7.5: too little; the two heaviest missing words are named, heaviest first.
    assert check.reason(sentences("The wheat was sold.")) == "The closest passages do not speak of harvest or records."
    assert check.reason(sentences("The wheat harvest was sold.")) == ""  # 5 of 7.5
    assert check.reason(sentences("Farmers kept records of the harvest.")) == ""  # 4.5 of 7.5: 0.6
    exact = replace(config, min_question_coverage=0.6)
    assert evidence("wheat harvest records farmers", config=exact, idf=lambda t: weights.get(t, 0.0)).reason(
        sentences("Farmers kept records of the harvest.")) == ""  # the share met exactly is met
    assert evidence("wheat harvest records farmers", config=replace(config, min_question_coverage=0.0)).reason(
        sentences("Nothing here.")) == ""  # off


def test_a_when_question_needs_a_date_and_says_so():
    check = evidence("When did the pipeline open?")
    assert check.reason(sentences("The pipeline opened after long talks.")) == \
        "The question asks when, and the closest passages give no date."
    assert check.reason(sentences("The pipeline opened in 2005.")) == ""


def test_the_paragraph_of_an_offset():
    text = "First one.\n\nSecond one here.\n\nThird."
    assert _paragraph(text, 0) == "First one."
    assert _paragraph(text, text.index("here")) == "Second one here."
    assert _paragraph(text, len(text) - 1) == "Third."
    assert _paragraph("\n\nAfter a break.", 5) == "After a break."


def test_what_counts_as_an_abbreviation_and_initials():
    assert is_abbreviation("VA") and is_abbreviation("ABCDEF")
    assert not any(map(is_abbreviation, ["V", "ABCDEFG", "Va", "V1", "va"]))
    assert capitalised_initials("the Department of Veterans Affairs, in Paris") == {"DVA"}  # one letter is none
    assert capitalised_initials("Northern Distribution Network") == {"NDN"}


def test_where_specific_terms_must_occur():
    question = "What did the Steppe Fund buy in Almaty?"
    text = "Steppe Fund report.\n\nIt bought wheat. Almaty is the city.\n\nOther things."
    (sentence,) = sentences("It bought wheat.", title="Steppe Fund report", passage="It bought wheat. Almaty is the city.")
    at = text.index("It bought")
    chosen = [replace(sentence, char_start=at, char_end=at + len(sentence.text))]

    def absent(scope: str) -> list[str]:
        config = AnswerConfig(specific_terms=scope)
        return evidence(question, config=config, document_text=lambda doc_id: text).absent_terms(chosen)

    assert absent("sentences") == ["Steppe Fund", "Almaty"]
    assert absent("passage") == []  # the passage has both, its title the fund
    assert absent("paragraph") == []  # the paragraph has Almaty, the title the fund
    assert evidence(question, config=AnswerConfig(specific_terms="off")).absent_terms(chosen) == []


def test_a_name_meets_its_initials_only_when_it_has_several_words():
    assert evidence("What did the United States give?").absent_terms(sentences("The US gave aid.")) == []
    assert evidence("What did the Northern Distribution Network carry?").absent_terms(
        sentences("The NDN carried fuel.")) == []
    assert evidence("What did the Mars rover find?").absent_terms(sentences("The M rover found ice.")) == ["Mars"]


def test_country_forms_in_the_sentences():
    on = evidence("What aid did America give?")
    assert on.absent_terms(sentences("The U.S. gave aid.")) == []
    off = evidence("What aid did America give?", config=AnswerConfig(country_forms=False))
    assert off.absent_terms(sentences("The U.S. gave aid.")) == ["America"]


def test_what_a_how_many_question_counts():
    assert counted_words("How many gas fields are there?") == ["gas", "fields"]  # "gas" is no plural
    assert counted_words("How many boss roles are there?") == ["boss", "roles"]
    assert counted_words("How many cars parked cheaply?") == ["cars"]


def test_a_count_beside_what_is_counted():
    config = AnswerConfig(specific_terms="off", counted_word_window=1)
    check = evidence("How many Kazakh troops served?", config=config)
    assert check.reason(sentences("The state pays hundreds of scholarships for troops.")) == \
        "The closest passages give numbers, but none of Kazakh troops."  # a window of one word is on
    assert check.reason(sentences("Some 300 Kazakhstani soldiers served.")) == ""  # "Kazakhstani" is "Kazakh"
    china = evidence("How many Chinese firms operate here?", config=replace(config, counted_word_window=3))
    assert china.reason(sentences("Hundreds of U.S. firms and 40 Chinese firms operate here.")) == ""
    # What is counted has a country: the count must name it, not merely stand beside a word like it.
    def embed(texts):  # "military" means "soldiers"
        rows = np.array([[1.0, 0.0] if t.casefold() in ("military", "soldiers") else [0.0, 1.0] for t in texts])
        return rows

    russian = evidence("How many Russian soldiers are based here?",
                       config=replace(config, counted_word_window=2, counted_word_similarity=0.6))
    assert russian.reason(sentences("Three joint military exercises were held, and 15,000 Kazakh soldiers trained."),
                          embed) == "The closest passages give numbers, but none of Russian soldiers."
    assert russian.reason(sentences("Some 2,000 Russian soldiers are based here."), embed) == ""
    assert russian.reason(sentences("Of Russian soldiers abroad, 2,000 are based here."), embed) == ""


def test_a_counted_word_said_another_way_at_the_strictest_setting():
    def embed(texts):  # "soldiers" means "troops", exactly
        words = sorted({("troops" if t == "soldiers" else t) for t in texts})
        rows = np.array([[float(("troops" if t == "soldiers" else t) == w) for w in words] for t in texts])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    config = AnswerConfig(specific_terms="off", counted_word_window=2, counted_word_similarity=1.0)
    check = evidence("How many troops served?", config=config)
    assert check.reason(sentences("Some 300 soldiers served."), embed) == ""
    assert check.reason(sentences("Some 300 engineers served."), embed) != ""


def test_no_sentences_no_unknown_word_reason():
    check = evidence("What is the population of Astana?", {"astana", "what", "is", "the", "of"})
    assert check.unknown and check.unknown_word_reason([], lambda texts: np.eye(len(texts))) == ""


def test_a_name_meets_its_people_in_the_sentences_and_only_a_name_does():
    config = AnswerConfig(country_forms=False)  # the demonym rule alone, not the country forms
    assert evidence("What did the Americans build?", config=config).absent_terms(
        sentences("American engineers built it.")) == []
    assert evidence("What did the Americans build?", config=config).absent_terms(sentences("They built it.")) == \
        ["Americans"]
    # A rare word is not a name: "oblasts" does not meet "oblast" by the name rule.
    assert evidence("Which oblasts voted?", config=config).absent_terms(sentences("One oblast voted.")) == ["oblasts"]


def test_word_cases_learn_names_from_inside_sentences():
    from collections import Counter

    from qa.search.evidence import word_cases, written_as

    merged: dict[str, Counter] = {}  # two documents, as Engine.truecased adds up their counts
    for text in ["Oil is big. In Astana, Nazarbayev met Nazarbayev’s aides. Nazarbayev spoke.",
                 "The oil of the CSTO and the CSTO itself. Grain, oil and the Caspian. Caspian sturgeon."]:
        for key, forms in word_cases(text).items():
            merged.setdefault(key, Counter()).update(forms)
    casing = {key: form for key, forms in merged.items() if (form := written_as(forms))}
    assert casing["nazarbayev"] == "Nazarbayev"  # twice inside a sentence; its place at a sentence's start is no evidence
    assert casing["csto"] == "CSTO"
    assert casing["oil"] == "oil"  # "Oil" opens a sentence: lower case wherever it stands inside one
    assert "caspian" not in casing  # once inside a sentence: too little to call it a name
    assert "astana" not in casing  # after "In" … but once only


def test_truecase_writes_names_as_the_archive_does_and_countries_as_names():
    from qa.search.evidence import truecase

    casing = {"nazarbayev": "Nazarbayev", "us": "US", "csto": "CSTO", "oil": "oil"}.get
    countries = {"saudi arabia", "canadian", "kazakhstan"}.__contains__
    assert truecase("what did nazarbayev say about the csto?", casing, countries) == "what did Nazarbayev say about the CSTO?"
    assert truecase("did saudi arabia sell oil to canadian firms?", casing, countries) == (
        "did Saudi Arabia sell oil to Canadian firms?")
    assert truecase("kazakhstan's oil", casing, countries) == "Kazakhstan's oil"
    assert truecase("what can you tell us?", casing, countries) == "what can you tell us?"  # "us" stays the pronoun
    assert truecase("What did Nazarbayev say?", casing, countries) == "What did Nazarbayev say?"
    assert truecase("arabia", casing, countries) == "arabia"  # half a country's name is none
