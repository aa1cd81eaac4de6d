import json

import pytest

from qa.errors import CorpusError
from qa.ingest.load import corpus_hash, load_corpus

from conftest import CORPUS


def test_front_matter_fields_become_metadata(small_corpus):
    docs = {d.doc_id: d for d in load_corpus(small_corpus)}
    alpha = docs["alpha"]
    assert alpha.title == "Grain Exports"
    assert alpha.authors == ["Ann Author"]
    assert alpha.publication == "Farm Weekly"
    assert alpha.date == "2020-05-01"  # a YAML date comes back as an ISO string
    assert alpha.text.startswith("Kazakhstan exports grain")


def test_without_front_matter_the_first_line_is_the_title(small_corpus):
    beta = {d.doc_id: d for d in load_corpus(small_corpus)}["beta"]
    assert beta.title == "Oil and Pipelines"
    assert beta.text.startswith("Oil and Pipelines")  # the text itself is kept verbatim


def test_long_first_line_falls_back_to_file_name(tmp_path):
    (tmp_path / "long_note.txt").write_text("word " * 100, encoding="utf-8")
    assert load_corpus(tmp_path)[0].title == "long note"


def test_jsonl_extra_fields_become_metadata(tmp_path):
    path = tmp_path / "docs.jsonl"
    rows = [{"_id": "d1", "title": "T1", "text": "first text", "year": 2001, "metadata": {"source": "x"}},
            {"_id": "d2", "title": "T2", "text": "second text"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    docs = load_corpus(path)
    assert [d.doc_id for d in docs] == ["d1", "d2"]
    assert docs[0].metadata == {"year": 2001, "source": "x"}


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe\x00bad", "not UTF-8"),
    (b"text with a \x00 null byte", "binary"),
    (b"---\ntitle: [unclosed\n---\nbody\n", "front matter"),
])
def test_unreadable_file_is_skipped_with_a_warning_naming_it(tmp_path, content, message, caplog):
    (tmp_path / "bad.md").write_bytes(content)
    (tmp_path / "good.md").write_text("Readable text.\n", encoding="utf-8")
    skipped = []
    assert [d.doc_id for d in load_corpus(tmp_path, skipped=skipped)] == ["good"]
    assert len(skipped) == 1 and "bad.md" in skipped[0] and message in skipped[0]
    assert any("bad.md" in r.getMessage() for r in caplog.records)
    with pytest.raises(CorpusError, match=message) as info:
        load_corpus(tmp_path, strict=True)
    assert "bad.md" in str(info.value)


def test_unsupported_files_are_skipped_and_a_corpus_of_only_those_is_an_error(tmp_path):
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(CorpusError, match="no readable document.*unsupported file type"):
        load_corpus(tmp_path)


def test_empty_or_missing_corpus_raises(tmp_path):
    with pytest.raises(CorpusError, match="no readable document"):
        load_corpus(tmp_path)
    (tmp_path / "blank.md").write_text("   \n\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no readable document"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "missing")


def test_bad_jsonl_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"_id": "a", "text": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="line 2"):
        load_corpus(path)


def test_corpus_hash_changes_with_content(small_corpus):
    before = corpus_hash(load_corpus(small_corpus))
    assert corpus_hash(load_corpus(small_corpus)) == before
    (small_corpus / "gamma.md").write_text("---\ntitle: Space Launches\n---\nChanged text.\n", encoding="utf-8")
    assert corpus_hash(load_corpus(small_corpus)) != before


def test_shipped_corpus_is_clean_with_metadata():
    docs = {d.doc_id: d for d in load_corpus(CORPUS)}
    assert len(docs) == 5
    weitz = docs["weitz-2013-toward-a-new-kazakhstan-us-partnership"]
    assert weitz.authors == ["Richard Weitz"]
    assert weitz.publication == "CACI Analyst"
    assert weitz.date == "2013-03-20"
    assert "does not compensate Kazakhstan suitably" in weitz.text
    edm = docs["edm-v3-i165-nazarbayev-visit-to-us"]
    assert (edm.metadata["volume"], edm.metadata["issue"]) == ("3", "165")
    assert edm.authors == [] and edm.date == ""  # the source gives neither: left empty, not invented
    clutter = ["Read 12471 times", "Visit also", "Staff Publications", "Sign up for upcoming events",
               "> Kazakhstan Map", "Foreign Policy Journal", "Read more articles", "Publication: Eurasia"]
    for doc in docs.values():
        assert not doc.text.startswith("Home")
        for line in clutter:
            assert line not in doc.text, (doc.doc_id, line)
