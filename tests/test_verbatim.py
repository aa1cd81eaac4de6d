"""Quotes stay verbatim where text is carried and transformed: CLI text and JSON, the page's HTML, the API."""

from __future__ import annotations

import html
import json
import re

import pytest

import qa
from qa.search.answer import AnswerConfig

from conftest import FakeEmbedder, run_cli

# Unicode, odd spaces (no-break, thin, narrow no-break), quotes, <, &, and markers next to punctuation.
TRICKY = ("Zhanaozen’s oil workers earned 5\u00a0%\u2009more in “Q1” — said <AT&T> & Co.[1] "
          "Naïve café‑owners (in Aktau) agreed;\u202fprices rose.")
OTHER = "Wheat from Kostanay went by rail to the port of Aktau on the Caspian Sea."


@pytest.fixture
def engine(tmp_path) -> qa.Engine:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tricky.md").write_text(f"---\ntitle: Odd <Text> & “Quotes”\n---\n{TRICKY}\n\n{OTHER}\n", encoding="utf-8")
    (corpus / "plain.md").write_text("---\ntitle: Plain\n---\nHorses graze on the steppe in summer.\n", encoding="utf-8")
    return qa.build(corpus, tmp_path / "index", embedder=FakeEmbedder(), cache_dir=tmp_path / "cache")


def _sentence_of(text: str) -> str:
    return TRICKY if TRICKY in text else ""


def test_search_json_carries_text_byte_for_byte(engine, capsys):
    code, out, err = run_cli(["search", "Zhanaozen oil workers café owners", "--mode", "bm25", "--json",
                              "--index", str(engine.index_dir)], capsys)
    assert code == 0, err
    hit = json.loads(out)[0]
    assert TRICKY in hit["text"]
    document = engine.document(hit["doc_id"]).text
    assert document[hit["char_start"]:hit["char_end"]] == hit["text"]


def test_search_plain_output_keeps_every_character(engine, capsys):
    code, out, err = run_cli(["search", "Zhanaozen oil workers café owners", "--mode", "bm25", "-k", "1",
                              "--index", str(engine.index_dir)], capsys)
    assert code == 0, err
    # Lines are wrapped for the terminal at ordinary spaces only; every other character is as written.
    unwrapped = re.sub(r"\n +", " ", out)
    assert TRICKY in unwrapped


def test_ask_json_and_plain_quote_the_sentence_exactly(engine, capsys):
    answer = engine.ask("Zhanaozen oil workers Naïve café owners Aktau prices",
                        config=AnswerConfig(min_evidence=0.0, specific_terms="off", check_answer_kind=False))
    assert answer.found
    document = engine.document(answer.sentences[0].doc_id).text
    for s in answer.sentences:
        assert document[s.char_start:s.char_end] == s.text
    assert any("<AT&T> & Co.[1]" in s.text for s in answer.sentences)
    # The same answer through JSON serialisation keeps the characters.
    payload = json.loads(json.dumps(__import__("dataclasses").asdict(answer), ensure_ascii=False))
    assert [s["text"] for s in payload["sentences"]] == [s.text for s in answer.sentences]


def test_page_html_shows_the_text_exactly_once_unescaped(engine):
    from qa.interfaces.web import render_answer, render_hits

    hits = engine.search("Zhanaozen oil workers café owners", k=2, mode="bm25")
    page = render_hits(engine, "Zhanaozen oil workers café owners", hits)
    assert "<AT&T>" not in page and "&lt;AT&amp;T&gt;" in page  # escaped in the markup
    # With the highlight marks removed and entities decoded, the passage is exactly the article's text.
    text = html.unescape(re.sub(r"</?mark[^>]*>", "", page))
    assert TRICKY in text
    answer = engine.ask("Zhanaozen oil workers Naïve café owners Aktau prices",
                        config=AnswerConfig(min_evidence=0.0, specific_terms="off", check_answer_kind=False))
    shown = html.unescape(re.sub(r"<[^>]+>", "", render_answer(answer)))
    for s in answer.sentences:
        assert s.text in shown
