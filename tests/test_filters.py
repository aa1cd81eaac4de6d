"""Metadata filters: every rule of the date arithmetic, values and errors."""

from __future__ import annotations

import pytest

from qa.errors import InvalidArgumentError
from qa.search.filters import check_date, document_matches
from qa.records import Document


@pytest.mark.parametrize("value, name, expected", [
    ("2013", "since", "2013-01-01"), ("2013", "until", "2013-12-31"),
    ("2013-02", "since", "2013-02-01"), ("2013-02", "until", "2013-02-31"),  # compared as text: the month's end
    ("2013-02-03", "since", "2013-02-03"), ("2013-02-03", "until", "2013-02-03"),
    (None, "since", ""), ("", "until", ""),
])
def test_check_date_pads_partial_dates_to_the_span_they_cover(value, name, expected):
    assert check_date(value, name) == expected


@pytest.mark.parametrize("value", ["13-02", "2013-2-x", "yesterday", "20130203", " "])
def test_check_date_rejects_other_forms_naming_the_filter(value):
    with pytest.raises(InvalidArgumentError, match=r"^until of .* is not a date; write it as YYYY-MM-DD, YYYY-MM or YYYY$"):
        check_date(value, "until")


def doc(**metadata) -> Document:
    return Document(doc_id="weitz", title="T", text="x", metadata=metadata)


@pytest.mark.parametrize("date, filters, passes", [
    ("2013-03-20", {"until": "2013-03-20"}, True), ("2013-03-20", {"until": "2013-03-19"}, False),
    ("2013-03-20", {"since": "2013-03-20"}, True), ("2013-03-20", {"since": "2013-03-21"}, False),
    ("2013-03", {"until": "2013-03-01"}, True), ("2013-03", {"until": "2013-02-28"}, False),
    ("2013-03", {"since": "2013-03-31"}, True), ("2013-03", {"since": "2013-04-01"}, False),
    ("2013", {"since": "2013-12-31"}, True), ("2013", {"since": "2014-01-01"}, False),
    ("2013", {"until": "2013-01-01"}, True), ("2012", {"until": "2013"}, True),
    ("2013-03-20T10:00:00", {"since": "2013-03-20", "until": "2013-03-20"}, True),
])
def test_date_ranges_are_inclusive_and_partial_dates_cover_their_span(date, filters, passes):
    assert document_matches(doc(date=date), filters) is passes


def test_text_filters_ignore_case_and_accept_a_value_or_a_list():
    d = doc(publication="CACI Analyst", authors=["Richard Weitz"])
    assert document_matches(d, {"publication": "caci analyst", "author": ["Nobody", "RICHARD WEITZ"]})
    assert not document_matches(d, {"publication": ["Other"]})
    assert document_matches(d, {"publication": ["  ", "caci analyst"]})  # blank values are ignored
    assert document_matches(d, {"publication": "   "})  # a blank filter filters nothing
    assert document_matches(d, {"doc_id": "weitz"}) and document_matches(d, {"doc_id": ["x", "weitz"]})
    assert not document_matches(d, {"doc_id": "weit"})  # an id is matched whole, never as a substring
    assert not document_matches(d, {"doc_id": ["weit"]})


def test_unknown_filter_names_the_allowed_ones():
    with pytest.raises(InvalidArgumentError, match="unknown filter 'colour'; use publication, author, doc_id, since, until"):
        document_matches(doc(), {"colour": "red"})
