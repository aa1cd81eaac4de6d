"""Whether the chosen sentences answer the question, on evidence beyond similarity, and why not.

Similarity alone answers "What did Nazarbayev say about exploring Mars?" with the sentence closest
to "Nazarbayev" and "say". The checks here ask what a careful reader asks:

- the question's specific terms (names, numbers and years, rare words) must occur in the archive at
  all, and in the evidence chosen for the answer;
- a question asking how many or how much needs a number in the answer, and one asking when needs a date.

Which checks run, and where the specific terms must occur, are settings in ``AnswerConfig``, chosen
on the eval set's train split (README, "Answers").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from .lexicon import known_words

if TYPE_CHECKING:
    from .answer import AnswerConfig, Candidate

__all__ = ["specific_terms", "answer_kind", "judge", "Verdict"]

_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|[\w’'\-]+")
# Words that open or shape a question; capitalised only because they start it.
_QUESTION_WORDS = {"what", "who", "whom", "whose", "when", "where", "why", "how", "which", "is", "are", "was", "were",
                   "did", "do", "does", "can", "could", "should", "would", "will", "has", "have", "had", "tell", "list",
                   "give", "show", "name", "i", "in", "on", "at", "the", "a", "an"}
_NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|" \
                r"thousands?|millions?|billions?|dozens?|half|third|quarter|percent|several|few|many"
_HAS_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.I)
_MONTHS = r"january|february|march|april|may|june|july|august|september|october|november|december"
_HAS_DATE = re.compile(rf"\b(?:1[5-9]\d\d|20\d\d|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})|(?:{_MONTHS})(?:\s+\d{{1,2}})?|"
                       rf"(?:19|20)\d0s|yesterday|today|tomorrow|last (?:year|month|week)|next (?:year|month|week)|"
                       rf"(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b", re.I)


@dataclass(frozen=True)
class Verdict:
    found: bool
    reason: str = ""  # one line, empty when found


def specific_terms(question: str) -> list[str]:
    """The words of a question that name something specific: numbers and years, names (capitalised
    words past the first), and rare words (not among ~20k common English words)."""
    tokens = _TOKEN.findall(question)
    known = known_words()
    terms: list[str] = []
    previous_name = -2
    for position, token in enumerate(tokens):
        word = token.strip("’'-").removesuffix("’s").removesuffix("'s")
        if not word or word.casefold() in _QUESTION_WORDS:
            continue
        if any(ch.isdigit() for ch in word):
            terms.append(word)
        elif word[0].isupper() and (position > 0 or word.isupper() or "." in word):
            if previous_name == position - 1:  # "United States", "National Fund": one name
                terms[-1] += " " + word
            else:
                terms.append(word)
            previous_name = position
        elif word.isalpha() and word.islower() and len(word) > 3 and word not in known:
            terms.append(word)
    return list(dict.fromkeys(terms))


def _alternatives(term: str, tokenize: Callable[[str], list[str]]) -> list[list[str]]:
    """The token lists that count as the term: its own, and for a name of several words its initials
    ("United States" -> "US"), the way texts abbreviate names."""
    options = [tokenize(term)]
    words = term.split()
    if len(words) > 1:
        options.append(tokenize("".join(w[0] for w in words)))
    return [o for o in options if o]


def answer_kind(question: str) -> str:
    """"quantity" for how many/how much, "date" for when/what year; "" for anything else."""
    q = question.casefold()
    if re.search(r"\bhow (?:many|much|large|big|long|far|old)\b|\bwhat (?:percentage|share|number|amount)\b", q):
        return "quantity"
    if re.search(r"^\s*when\b|\bwhat (?:year|date|day|month)\b|\bin which year\b", q):
        return "date"
    return ""


def judge(question: str, chosen: Sequence["Candidate"], config: "AnswerConfig",
          tokenize: Callable[[str], list[str]], in_archive: Callable[[str], bool],
          document_tokens: Callable[[str], set[str]]) -> Verdict:
    """Whether ``chosen`` answers ``question``; when not, the one-line reason.

    Terms are compared as the BM25 tokenizer sees them (lower case, stemmed, "U.S." = "US"), so a
    name matches its possessive and a word its inflections.

    Args:
        tokenize: the index's tokenizer.
        in_archive: whether a token occurs anywhere in the archive.
        document_tokens: the set of tokens of a document (by doc_id), title included.
    """
    terms = [(t, options) for t in (specific_terms(question) if config.specific_terms != "off" else [])
             if (options := _alternatives(t, tokenize))]

    def present(options: list[list[str]], has: Callable[[str], bool]) -> bool:
        return any(all(has(tok) for tok in tokens) for tokens in options)

    missing = [t for t, options in terms if not present(options, in_archive)]
    if missing:
        present = [t for t, _ in terms if t not in missing]
        return Verdict(False, f"The articles mention {_join(present, 'and')} but never {_join(missing, 'or')}."
                       if present else f"The articles never mention {_join(missing, 'or')}.")
    if terms and chosen:
        if config.specific_terms == "sentences":
            seen = set(tokenize(" ".join(c.text for c in chosen)))
        elif config.specific_terms == "passage":
            seen = set(tokenize(" ".join(f"{c.hit.title} {c.hit.text}" for c in chosen)))
        else:  # "document"
            seen = set().union(*(document_tokens(c.hit.doc_id) for c in chosen))
        absent = [t for t, options in terms if not present(options, seen.__contains__)]
        if absent:
            return Verdict(False, f"The closest passages do not mention {_join(absent, 'or')}.")
    if config.check_answer_kind and chosen:
        kind = answer_kind(question)
        text = " ".join(c.text for c in chosen)
        if kind == "quantity" and not _HAS_NUMBER.search(text):
            return Verdict(False, "The question asks for a number, and the closest passages give none.")
        if kind == "date" and not _HAS_DATE.search(text):
            return Verdict(False, "The question asks when, and the closest passages give no date.")
    return Verdict(True)


def _join(terms: Sequence[str], conjunction: str) -> str:
    terms = list(terms)
    return terms[0] if len(terms) == 1 else ", ".join(terms[:-1]) + f" {conjunction} " + terms[-1]
