import pytest

from qa.ingest.chunk import chunk_document, split_sentences
from qa.config import ChunkConfig
from qa.errors import InvalidArgumentError
from qa.ingest.load import load_corpus
from qa.records import Document

from conftest import CORPUS

ODD_TEXT = ("Dr. Smith went to Washington, D.C. on Jan. 5.  He met the U.S. envoy!\n\n"
            "  • A bullet without a stop\n  • Another bullet “with quotes”.\n\n"
            "Ünïcödé text… and more?   Yes.\tTabs\there. Final sentence without a stop")


def test_sentence_spans_are_exact_and_trimmed():
    spans = split_sentences(ODD_TEXT)
    pieces = [ODD_TEXT[s.start:s.end] for s in spans]
    assert pieces[0] == "Dr. Smith went to Washington, D.C. on Jan. 5."
    assert all(p == p.strip() and p for p in pieces)
    assert "A bullet without a stop" in pieces[2] and "Another bullet" not in pieces[2]
    assert pieces[-1] == "Final sentence without a stop"


@pytest.mark.parametrize("config", [ChunkConfig(), ChunkConfig(max_words=10, overlap_sentences=0),
                                    ChunkConfig(max_words=25, overlap_sentences=2), ChunkConfig(max_words=1)])
def test_chunk_text_is_the_document_span(config):
    docs = load_corpus(CORPUS) + [Document("odd", "Odd", ODD_TEXT)]
    for doc in docs:
        for chunk in chunk_document(doc, config):
            assert doc.text[chunk.char_start:chunk.char_end] == chunk.text


def test_chunks_hold_whole_sentences_within_the_size():
    doc = load_corpus(CORPUS)[0]
    config = ChunkConfig(max_words=60, overlap_sentences=1)
    spans = split_sentences(doc.text)
    starts, ends = {s.start for s in spans}, {s.end for s in spans}
    long_sentences = {(s.start, s.end) for s in spans if len(doc.text[s.start:s.end].split()) > 60}
    for chunk in chunk_document(doc, config):
        assert chunk.char_start in starts and chunk.char_end in ends  # never cut inside a sentence
        if (chunk.char_start, chunk.char_end) not in long_sentences:
            assert len(chunk.text.split()) <= 60


def test_overlap_repeats_the_last_sentence():
    doc = Document("d", "", "One two three. Four five six. Seven eight nine. Ten eleven twelve.")
    chunks = chunk_document(doc, ChunkConfig(max_words=6, overlap_sentences=1, paragraph_break_fill=1.0))
    assert [c.text for c in chunks] == ["One two three. Four five six.", "Four five six. Seven eight nine.",
                                        "Seven eight nine. Ten eleven twelve."]
    no_overlap = chunk_document(doc, ChunkConfig(max_words=6, overlap_sentences=0))
    assert [c.text for c in no_overlap] == ["One two three. Four five six.", "Seven eight nine. Ten eleven twelve."]


def test_chunks_end_at_paragraph_breaks_once_half_full():
    doc = Document("d", "", "Aa bb cc dd. Ee ff gg hh.\n\nIi jj kk ll. Mm nn oo pp.")
    chunks = chunk_document(doc, ChunkConfig(max_words=12, overlap_sentences=0, paragraph_break_fill=0.5))
    assert [c.text for c in chunks] == ["Aa bb cc dd. Ee ff gg hh.", "Ii jj kk ll. Mm nn oo pp."]


def test_chunk_ids_are_deterministic():
    doc = load_corpus(CORPUS)[0]
    first = [c.chunk_id for c in chunk_document(doc)]
    assert first == [c.chunk_id for c in chunk_document(doc)]
    assert first[0] == f"{doc.doc_id}#0" and len(set(first)) == len(first)


def test_bad_settings_are_rejected():
    with pytest.raises(InvalidArgumentError):
        chunk_document(Document("d", "", "Text."), ChunkConfig(max_words=0))


def test_chunks_never_cross_a_page_and_carry_its_number():
    text = "Page one a. Page one b.\n\nPage two a. Page two b. Page two c.\n\nPage three a."
    starts = [0, text.index("Page two a"), text.index("Page three")]
    doc = Document("pdf", "", text, {"page_starts": starts})
    chunks = chunk_document(doc, ChunkConfig(max_words=50, overlap_sentences=1))
    assert [(c.page, c.text) for c in chunks] == [(1, "Page one a. Page one b."),
                                                  (2, "Page two a. Page two b. Page two c."), (3, "Page three a.")]


def test_blank_document_has_no_chunks_and_bad_settings_name_the_value():
    from qa.ingest.chunk import chunk_document
    from qa.config import ChunkConfig
    from qa.errors import InvalidArgumentError
    from qa.records import Document

    assert chunk_document(Document("d", "T", "   \n\n  ")) == []
    with pytest.raises(InvalidArgumentError, match="max_words of 0 must be positive"):
        chunk_document(Document("d", "T", "Text."), ChunkConfig(max_words=0))
    with pytest.raises(InvalidArgumentError, match="overlap_sentences of -1 must be zero or more"):
        chunk_document(Document("d", "T", "Text."), ChunkConfig(overlap_sentences=-1))


def test_a_paragraph_break_ends_a_chunk_exactly_at_the_fill_share():
    from qa.ingest.chunk import chunk_document
    from qa.config import ChunkConfig
    from qa.records import Document

    text = "One two three four five.\n\nSix seven eight nine ten."
    config = ChunkConfig(max_words=10, overlap_sentences=0, paragraph_break_fill=0.5)  # 5 words = half full
    assert [c.text for c in chunk_document(Document("d", "T", text), config)] == [
        "One two three four five.", "Six seven eight nine ten."]
    fuller = ChunkConfig(max_words=10, overlap_sentences=0, paragraph_break_fill=0.6)  # 5 < 6: keep going
    assert [c.text for c in chunk_document(Document("d", "T", text), fuller)] == [text]


def test_chunk_documents_uses_the_settings_it_is_given():
    from qa.config import ChunkConfig
    from qa.ingest.chunk import chunk_document, chunk_documents
    from qa.records import Document

    text = " ".join(f"Sentence number {i} says something about grain and oil." for i in range(30))
    docs = [Document(doc_id=f"d{i}", title="", text=text) for i in range(2)]
    small = ChunkConfig(max_words=20, overlap_sentences=0)
    chunks = chunk_documents(docs, small)
    assert chunks == [c for doc in docs for c in chunk_document(doc, small)]
    assert len(chunks) > len(chunk_documents(docs))  # smaller passages than the default's
