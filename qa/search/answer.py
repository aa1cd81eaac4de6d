"""Answers: the sentences of the top passages that best answer a question, cited, or an honest "not found".

No generative model: each candidate sentence is scored by its dense similarity to the
question, its IDF-weighted term overlap with it, and the rank of its passage. The
weights and the abstention threshold were chosen on the eval set's train split
(``qa tune --answers``; the evidence is in the README).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

from qa.ingest.chunk import split_sentences
from qa.search.cite import format_citation
from qa.search.evidence import Evidence
from qa.records import Hit

if TYPE_CHECKING:
    from qa.search.engine import Engine

__all__ = ["AnswerConfig", "AnswerSentence", "Answer", "Candidate", "candidate_sentences", "select_sentences",
           "decide", "answer_question", "NOT_FOUND"]

NOT_FOUND = "Not found in these articles."


@dataclass(frozen=True)
class AnswerConfig:
    """Sentence scoring; the defaults are what ``qa tune --answers`` chose on the eval set's train split."""

    dense_weight: float = 0.8
    lexical_weight: float = 0.2
    rank_weight: float = 0.0
    # Similarity of the sentence with its neighbours in the passage: a short sentence
    # ("Fundamentally, it feels taken for granted.") means little alone.
    context_weight: float = 0.0
    # Below this best-sentence evidence (dense similarity and term overlap combined) we abstain.
    min_evidence: float = 0.3
    max_sentences: int = 3
    # Further sentences must score at least this share of the best one.
    relative_cutoff: float = 0.8
    # A chosen sentence shorter than this (in words) is quoted with the sentence before it
    # in its passage: alone, "Fundamentally, it feels taken for granted." answers nothing.
    short_sentence_words: int = 10
    # Evidence beyond similarity (qa/search/evidence.py): where the question's specific terms (names, numbers,
    # rare words) must occur besides the archive ("off", "document", "passage", "paragraph" or "sentences"), and
    # whether a how-many question needs a number and a when question a date. Chosen on the train split.
    specific_terms: Literal["off", "document", "passage", "paragraph", "sentences"] = "sentences"
    # Share of those terms that must occur (in the archive, and around a chosen sentence).
    min_term_coverage: float = 0.75
    check_answer_kind: bool = True
    # A how-many question's count must stand within this many words of what it counts (0: off).
    counted_word_window: int = 2
    # ... or a word there must be this close (cosine) to a counted word: "soldiers" counts troops (above 1: off).
    counted_word_similarity: float = 0.6
    # A country is present in any of its forms ("the U.S." for "American"), and a count beside another country's
    # name counts something else ("U.S. firms" for "Chinese firms"). Forms from the countryinfo package.
    country_forms: bool = True
    # Share of the question's words (IDF-weighted) that the chosen sentences must contain between them.
    min_question_coverage: float = 0.0
    # A question word no passage of the archive holds fails the answer when leaving it out of the question
    # raises the chosen sentences' similarity to it by more than this (0: off). Chosen on the train split.
    unknown_word_margin: float = 0.03


@dataclass(frozen=True)
class AnswerSentence:
    """A sentence quoted verbatim from an article: ``document.text[char_start:char_end] == text``."""

    text: str
    doc_id: str
    chunk_id: str
    char_start: int
    char_end: int
    marker: int  # the [n] of the hit it comes from
    score: float
    citation: str = ""  # the sentence's own paragraph (or page), not its passage's range


@dataclass(frozen=True)
class Answer:
    question: str
    found: bool
    text: str
    sentences: tuple[AnswerSentence, ...]
    hits: tuple[Hit, ...]  # the passages searched; when not found, the closest ones, for the user to check
    reason: str = ""  # one line saying why nothing was found; empty when found


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    char_start: int
    char_end: int
    text: str
    dense: float  # cosine of sentence and question
    lexical: float  # share of the question's IDF mass found in the sentence, 0..1
    context: float = 0.0  # cosine of the sentence with its neighbours, and the question
    previous: "Candidate | None" = None  # the sentence before it in the same passage

    def score(self, config: AnswerConfig) -> float:
        return (config.dense_weight * self.dense + config.lexical_weight * self.lexical
                + config.context_weight * self.context + config.rank_weight / self.hit.rank)

    def evidence(self, config: AnswerConfig) -> float:
        # Rank is relative (every question has a rank-1 passage), so it says nothing about
        # whether the articles answer at all: only the absolute signals count as evidence.
        total = config.dense_weight + config.lexical_weight + config.context_weight
        absolute = (config.dense_weight * self.dense + config.lexical_weight * self.lexical
                    + config.context_weight * self.context)
        return absolute / total if total else 0.0


def candidate_sentences(engine: "Engine", question: str, hits: Sequence[Hit]) -> list[Candidate]:
    """Every sentence of the hits, with its dense and lexical similarity to the question."""
    spans, windows = [], []
    for hit in hits:
        sentences = split_sentences(hit.text)
        for i, s in enumerate(sentences):
            spans.append((hit, hit.char_start + s.start, hit.char_start + s.end))
            first, last = sentences[max(0, i - 1)], sentences[min(len(sentences) - 1, i + 1)]
            windows.append(hit.text[first.start:last.end])
    if not spans:
        return []
    texts = [engine.document(hit.doc_id).text[start:end] for hit, start, end in spans]
    if hasattr(engine.embedder, "encode_sentences"):
        # Sentences and question through one encoder (the exact one): an int8 index's question vector
        # would compare int8 with exact, and the answer settings were tuned on exact vectors. Through the
        # engine's memo, so the evidence checks that follow do not embed the chosen sentences again.
        vectors = engine.sentence_vectors(texts + windows + [question])
        vectors, query = vectors[:-1], vectors[-1]
    else:
        vectors = engine.embedder.encode_documents(texts + windows)
        query = engine.query_vector(question)
    dense, context = vectors[: len(texts)] @ query, vectors[len(texts):] @ query

    tokenizer, vocabulary = engine.bm25.tokenizer, engine.bm25.vocabulary
    idf = engine.bm25.positive_idf
    terms = {t: float(idf[vocabulary[t]]) if t in vocabulary else math.log(1 + engine.bm25.size) for t in set(tokenizer(question))}
    mass = sum(terms.values())
    candidates = []
    for (hit, start, end), text, similarity, around in zip(spans, texts, dense, context):
        present = set(tokenizer(text))
        lexical = sum(w for t, w in terms.items() if t in present) / mass if mass else 0.0
        previous = candidates[-1] if candidates and candidates[-1].hit is hit else None
        candidates.append(Candidate(hit, start, end, text, float(similarity), lexical, float(around), previous))
    return candidates


def _continues(text: str) -> bool:
    """Whether a short sentence is prose that leans on the one before it ("Fundamentally, it feels taken for
    granted."), rather than a heading or a table row ("NAICS CODE | 611430"), which stands alone."""
    return "|" not in text and text.rstrip(" ”’\"')").endswith((".", "!", "?"))


def select_sentences(candidates: Sequence[Candidate], config: AnswerConfig) -> tuple[bool, list[Candidate]]:
    """Whether the evidence suffices, and the chosen sentences in reading order of their score."""
    if not candidates:
        return False, []
    ranked = sorted(candidates, key=lambda c: (-c.score(config), c.hit.rank, c.char_start))
    best = ranked[0]
    if best.evidence(config) < config.min_evidence:
        return False, []
    chosen: list[Candidate] = []

    def quoted(cand: Candidate) -> bool:  # overlapping chunks repeat sentences: quote each span once
        return any(c.hit.doc_id == cand.hit.doc_id and c.char_start < cand.char_end and cand.char_start < c.char_end
                   for c in chosen)

    for cand in ranked:
        if len(chosen) >= config.max_sentences or cand.score(config) < config.relative_cutoff * best.score(config):
            break
        if quoted(cand):
            continue
        unit = [cand]
        if (len(cand.text.split()) < config.short_sentence_words and _continues(cand.text) and cand.previous is not None
                and not quoted(cand.previous)):
            unit.insert(0, cand.previous)
        if len(chosen) + len(unit) > config.max_sentences:
            unit = unit[-1:]
        chosen.extend(unit)
    return True, chosen


def decide(engine: "Engine", question: str, candidates: Sequence[Candidate],
           config: AnswerConfig) -> tuple[bool, list[Candidate], str]:
    """(found, chosen, reason): the sentences most similar to the question, kept only when they pass the
    evidence checks (``qa/search/evidence.py``); when they fail, nothing is answered, and the reason says why.

    The chosen sentences are checked together, rather than searching further down for sentences that pass:
    on the train split, searching for passing sentences answered near-miss questions far more often.
    """
    if not candidates:
        return False, [], "No passage matches the question."
    # Names typed in lower case are checked as names: "how many chinese firms …" counts Chinese firms.
    question = engine.truecased(question, [c.hit.doc_id for c in candidates])
    evidence = Evidence(question, config, engine.cached_tokenizer, engine.in_archive,
                        engine.document_tokens, engine.term_idf, lambda doc_id: engine.document(doc_id).text,
                        engine.name_in_archive, engine.source_tokens, engine.abbreviated_in_archive)
    if reason := evidence.archive_reason():
        return False, [], reason
    found, chosen = select_sentences(candidates, config)
    if not found:
        return False, [], "No sentence in the closest passages is close enough to the question."
    if reason := evidence.reason(chosen, engine.sentence_vectors):
        return False, [], reason
    if reason := evidence.unknown_word_reason(chosen, engine.sentence_vectors):
        return False, [], reason
    return True, chosen, ""


def answer_question(engine: "Engine", question: str, k: int = 5, mode: str = "hybrid",
                    filters: Mapping[str, Any] | None = None, config: AnswerConfig = AnswerConfig()) -> Answer:
    from qa.search.engine import clean_query, quoted_phrases

    question = clean_query(question)  # the text search embeds, so its vector is reused below
    hits = engine.search(question, k=k, mode=mode, filters=filters)  # type: ignore[arg-type]
    if not hits and quoted_phrases(question):
        phrases = " and ".join(f"“{p}”" for p in quoted_phrases(question))
        return Answer(question=question, found=False, text=NOT_FOUND, sentences=(), hits=(),
                      reason=f"No passage contains the phrase {phrases}.")
    found, chosen, reason = decide(engine, question, candidate_sentences(engine, question, hits), config)
    if not found:
        return Answer(question=question, found=False, text=NOT_FOUND, sentences=(), hits=tuple(hits), reason=reason)
    # Reading order: articles in the order of their best sentence, each article's sentences as it has them.
    first_seen = {}
    for cand in chosen:
        first_seen.setdefault(cand.hit.doc_id, len(first_seen))
    chosen = sorted(chosen, key=lambda c: (first_seen[c.hit.doc_id], c.char_start))
    sentences = []
    for cand in chosen:
        document = engine.document(cand.hit.doc_id)
        # Quotes are verbatim or they are not shown: a mismatch here is a bug, never paraphrase.
        if document.text[cand.char_start:cand.char_end] != cand.text:
            raise AssertionError(f"answer sentence is not verbatim at {cand.hit.doc_id}[{cand.char_start}:{cand.char_end}]")
        sentences.append(AnswerSentence(text=cand.text, doc_id=cand.hit.doc_id, chunk_id=cand.hit.chunk_id,
                                        char_start=cand.char_start, char_end=cand.char_end, marker=cand.hit.rank,
                                        score=round(cand.score(config), 6),
                                        citation=format_citation(document, cand.char_start, cand.char_end)))
    text = " ".join(f"{s.text} [{s.marker}]" for s in sentences)
    return Answer(question=question, found=True, text=text, sentences=tuple(sentences), hits=tuple(hits))
