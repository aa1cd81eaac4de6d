"""Split documents into passages of whole sentences, with exact character offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from qa.config import ChunkConfig
from qa.errors import InvalidArgumentError
from qa.records import Chunk, Document

__all__ = ["split_sentences", "chunk_document", "chunk_documents", "Span", "PARAGRAPH_BREAK"]

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# A line that opens with a bullet starts a new sentence even when the previous line has no full stop.
_BULLET_LINE = re.compile(r"\n(?=[ \t]*(?:[•\-*–]|\d+[.)])\s)")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd  # rule-based, offline, no data download; imported lazily because it is slow to import

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of ``text``, trimmed of surrounding whitespace.

    Paragraphs (blank-line separated) and bullet lines are split first, so a
    sentence never runs across them; pysbd splits within each block. Offsets are
    found by searching forward in the original text, so
    ``text[span.start:span.end]`` is always exactly the sentence.
    """
    spans: list[Span] = []
    for block_start, block_end in _blocks(text):
        block = text[block_start:block_end]
        cursor = 0
        for sentence in _segmenter().segment(block):
            piece = sentence.strip()
            if not piece:
                continue
            found = block.find(piece, cursor)
            if found == -1:  # pysbd changed the text (it should not with clean=False); keep the rest whole
                rest = block[cursor:].strip()
                if rest:
                    start = block.index(rest, cursor)
                    spans.append(Span(block_start + start, block_start + start + len(rest)))
                cursor = len(block)
                break
            spans.append(Span(block_start + found, block_start + found + len(piece)))
            cursor = found + len(piece)
    return spans


def _blocks(text: str) -> Iterable[tuple[int, int]]:
    boundaries = sorted({0, len(text), *(m.start() for m in PARAGRAPH_BREAK.finditer(text)),
                         *(m.end() for m in PARAGRAPH_BREAK.finditer(text)),
                         *(m.start() for m in _BULLET_LINE.finditer(text))})
    for start, end in zip(boundaries, boundaries[1:]):
        if text[start:end].strip():
            yield start, end


def chunk_document(doc: Document, config: ChunkConfig = ChunkConfig()) -> list[Chunk]:
    """Greedy packing of whole sentences into chunks of at most ``config.max_words`` words.

    A sentence longer than the limit becomes a chunk of its own; consecutive
    chunks share ``config.overlap_sentences`` sentences.
    """
    if config.max_words <= 0:
        raise InvalidArgumentError(f"max_words of {config.max_words} must be positive")
    if config.overlap_sentences < 0:
        raise InvalidArgumentError(f"overlap_sentences of {config.overlap_sentences} must be zero or more")
    sentences = split_sentences(doc.text)
    words = [len(doc.text[s.start : s.end].split()) for s in sentences]
    paragraph_starts = {m.end() for m in PARAGRAPH_BREAK.finditer(doc.text)}
    min_fill = config.paragraph_break_fill * config.max_words
    page_starts = doc.metadata.get("page_starts")
    chunks: list[Chunk] = []
    first = 0
    while first < len(sentences):
        last, total, page_break = first, words[first], False
        while last + 1 < len(sentences) and total + words[last + 1] <= config.max_words:
            if sentences[last + 1].start in paragraph_starts and total >= min_fill:
                break
            if page_starts and _page_of(page_starts, sentences[last + 1].start) != _page_of(page_starts, sentences[first].start):
                page_break = True  # a passage stays on one page, so its citation names one page
                break
            last += 1
            total += words[last]
        start, end = sentences[first].start, sentences[last].end
        page = _page_of(page_starts, start) if page_starts else None
        chunks.append(Chunk(chunk_id=f"{doc.doc_id}#{len(chunks)}", doc_id=doc.doc_id, text=doc.text[start:end],
                            char_start=start, char_end=end, position=len(chunks), page=page))
        if last + 1 >= len(sentences):
            break
        # No overlap across a page break: the next page starts afresh.
        first = last + 1 if page_break else max(first + 1, last + 1 - config.overlap_sentences)
    return chunks


def _page_of(page_starts: list[int], offset: int) -> int:
    return sum(1 for start in page_starts if start <= offset) or 1


def chunk_documents(documents: Iterable[Document], config: ChunkConfig = ChunkConfig()) -> list[Chunk]:
    return [c for doc in documents for c in chunk_document(doc, config)]
