"""Whether the chosen sentences answer the question, on evidence beyond similarity, and why not.

Similarity alone answers "What did Nazarbayev say about exploring Mars?" with the sentence closest
to "Nazarbayev" and "say". The checks here ask what a careful reader asks:

- the question's specific terms (names, numbers and years, rare words) must occur in the archive at
  all, and in the evidence chosen for the answer;
- a question asking how many or how much needs a number in the answer (beside what it counts), one asking
  what share needs a share, and one asking when needs a date;
- a country counts in any of its forms ("the U.S." for "American"; ``qa/search/countries.py``), and never as
  another country.

Which checks run, and where the specific terms must occur, are settings in ``AnswerConfig``, chosen
on the eval set's train split (README, "Answers").
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from qa.ingest.lexicon import known_words
from qa.search.countries import TOKEN as _TOKEN, countries_in, countries_named, name_key

if TYPE_CHECKING:
    from qa.search.answer import AnswerConfig, Candidate

__all__ = ["specific_terms", "answer_kind", "name_key", "spelling_variants", "word_cases", "written_as", "truecase",
           "Evidence"]

_WORD = re.compile(r"[\w’'\-]+")


def _bare(token: str) -> str:
    """A word without its quotes, hyphens and possessive: "Garratt's" -> "Garratt"."""
    return token.strip("’'-").removesuffix("’s").removesuffix("'s")

# Words that open or shape a question; capitalised only because they start it.
_QUESTION_WORDS = {"what", "who", "whom", "whose", "when", "where", "why", "how", "which", "is", "are", "was", "were",
                   "did", "do", "does", "can", "could", "should", "would", "will", "has", "have", "had", "tell", "list",
                   "give", "show", "name", "i", "in", "on", "at", "the", "a", "an"}
_NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|" \
                r"thousands?|millions?|billions?|dozens?|half|third|quarter|percent|several|few|many|" \
                r"second|fourth|fifth|sixth|seventh|eighth|ninth|tenth|twice|decades?|centur(?:y|ies)"
# A quantity: a number that is not a year, or a number word ("2003" dates something, it counts nothing; "his sixth
# summit" counts summits). A year stays a year before a comma or a full stop ("in 2010, the …"). A number word after
# "the" points back at something already counted ("the two countries"); it answers no how-many question.
_HAS_NUMBER = re.compile(rf"(?<![\d.,])(?!(?:1[5-9]|20)\d\d(?!%|[.,]?\d))\d[\d.,]*|(?<!\bthe )\b(?:{_NUMBER_WORDS})\b"
                         rf"|\b\d+(?:st|nd|rd|th)\b", re.I)
# "May" and "March" are months only when capitalised: "it may rain" dates nothing.
_MONTHS = r"january|february|(?-i:March)|april|(?-i:May)|june|july|august|september|october|november|december"
_MONTH = re.compile(_MONTHS, re.I)
# A day of the month ("August 28", "28th of August") dates something; it is not a quantity.
_DAY_OF_MONTH = re.compile(rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS}))",
                           re.I)
# A date: a year (from 1000, or any year with its era), a month and day, a decade or a century, a weekday.
_HAS_DATE = re.compile(rf"\b(?:1\d\d\d|20\d\d|\d{{1,4}}\s*(?:BCE?|AD|CE)|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})|"
                       rf"(?:{_MONTHS})(?:\s+\d{{1,2}})?|(?:1\d|20)\d0s|\d{{1,2}}(?:st|nd|rd|th)[\s-]+century|"
                       rf"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
                       rf"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|"
                       rf"twenty-first)[\s-]+century|yesterday|today|tomorrow|last (?:year|month|week)|"
                       rf"next (?:year|month|week)|(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b", re.I)


def specific_terms(question: str) -> list[str]:
    """The words of a question that name something specific: numbers and years, names (capitalised
    words past the first), and rare words (not among ~20k common English words)."""
    return list(_specific_terms(question))


@functools.lru_cache(maxsize=4096)  # asked of the same question under every setting tuning tries
def _specific_terms(question: str) -> tuple[str, ...]:
    tokens = _TOKEN.findall(question)
    known = known_words()
    terms: list[str] = []
    previous_name = -2
    for position, token in enumerate(tokens):
        word = _bare(token)
        # A name goes on through a capitalised question word ("Detroit Auto Show"), but not through "In" or "The".
        continues_name = previous_name == position - 1 and word[:1].isupper() and len(word) > 3
        if not word or (word.casefold() in _QUESTION_WORDS and not continues_name):
            continue
        if any(ch.isdigit() for ch in word):
            if not (word.isdigit() and len(word) <= 2
                    and any(0 <= i < len(tokens) and _MONTH.fullmatch(tokens[i]) for i in (position - 1, position + 1))):
                terms.append(word)  # but "January 13, 2009" names its year; the day alone is no topic
        elif word[0].isupper() and (position > 0 or word.isupper() or "." in word):
            if previous_name == position - 1:  # "United States", "National Fund": one name
                terms[-1] += " " + word
            else:
                terms.append(word)
            # A possessive ends a name: "Garratt's AGM" is Garratt and an AGM.
            previous_name = -2 if len(word) < len(token.strip("’'-")) else position
        elif word.isalpha() and word.islower() and len(word) > 3 and word not in known:
            terms.append(word)
    return tuple(dict.fromkeys(terms))


# British and American spellings of one word ("defence"/"defense", "criticise"/"criticize"): an archive
# written in one spelling does use the word a question asks in the other.
_SPELLINGS = [("ise", "ize"), ("isa", "iza"), ("yse", "yze"), ("our", "or"), ("ence", "ense"), ("tre", "ter"),
              ("ogue", "og")]


def spelling_variants(word: str) -> list[str]:
    """The word, and the word with one British spelling pattern turned American or back."""
    return list(_spelling_variants(word))


@functools.lru_cache(maxsize=1 << 14)
def _spelling_variants(word: str) -> tuple[str, ...]:
    lower = word.casefold()
    variants = [word]
    for british, american in _SPELLINGS:
        for old, new in ((british, american), (american, british)):
            at = lower.rfind(old)
            if at > 1:  # inside the word, never its first letters
                variants.append(lower[:at] + new + lower[at + len(old):])
    return tuple(dict.fromkeys(variants))


def _alternatives(term: str, tokenize: Callable[[str], list[str]]) -> list[list[str]]:
    """The token lists that count as the term: its own, and for a name of several words its initials
    ("United States" -> "US"), the way texts abbreviate names."""
    options = [tokenize(term)]
    words = term.split()
    if len(words) > 1:
        options.append(tokenize("".join(w[0] for w in words)))
    return [o for o in options if o]


# Nouns that name a measure: what a question asks for when it asks for "the capacity" or "the price" of something.
_MEASURES = r"(?:number|amount|size|capacity|price|cost|value|population|rate|total|volume|length|budget)"


# Nouns that ask for a part of a whole: a percentage or a fraction answers them, a sum of money does not.
_PROPORTIONS = r"(?:percentage|percent|share|proportion|fraction)"
# A part of a whole: "3 percent", "12%", "a third of", "two-thirds", "half of", "one in five", "the majority of".
_HAS_PROPORTION = re.compile(rf"\d\s*(?:%|percent\b|per cent\b|pct\b)|\b(?:{_NUMBER_WORDS})[\s-]+(?:percent|per cent)\b|"
                             r"\b(?:a|one|two|three|four)[\s-]+(?:half|halves|thirds?|quarters?|fifths?|tenths?)\b|"
                             r"\bhalf (?:of|the)\b|\b(?:majority|minority) of\b|\bone (?:in|out of) (?:every )?\w+|"
                             r"\b\d+ out of \d+|\bpercentage\b", re.I)


def answer_kind(question: str) -> str:
    """"quantity" for how many/how much, "proportion" for what share or percentage, "date" for when/what year;
    "" for anything else."""
    q = question.casefold()
    if re.search(rf"\bwhat (?:is |was |are |were )?(?:the |its |their )?(?:\w+ )?{_PROPORTIONS}\b", q):
        return "proportion"
    if re.search(r"\bhow (?:many|much|large|big|long|far|old)\b|\bwhat (?:number|amount)\b", q):
        return "quantity"
    # "What is the capacity of …", "… in barrels per day": a measure asked for by its name or its unit.
    if re.search(rf"\bwhat (?:is|was|are|were) (?:the |its |their )?(?:\w+ )?{_MEASURES}\b|\bper (?:day|week|month|year|"
                 rf"capita|person|head)\b", q):
        return "quantity"
    if re.search(r"^\s*when\b|\bwhat (?:year|date|day|month)\b|\bin which year\b", q):
        return "date"
    return ""


# What a how-many question counts: the words after "how many", up to its verb or a preposition.
_COUNTED = re.compile(r"\bhow many\s+(.+?)(?=\s+(?:did|do|does|is|are|was|were|has|have|had|will|would|can|could|"
                      r"should|may|might|must|in|of|at|on|for|with|to|from|by|between|during|per)\b|\s*[?.!]|$)", re.I)
_NUMBER_WORD = re.compile(rf"^(?:{_NUMBER_WORDS}|[\d.,]+|us\$|\$|€|£)$", re.I)


def counted_words(question: str) -> list[str]:
    """The words of what a how-many question counts ("nuclear warheads" in "How many nuclear warheads did …"),
    ending at the first plural: "Kazakh students" in "How many Kazakh students study abroad?"."""
    match = _COUNTED.search(question)
    words = _WORD.findall(match.group(1)) if match else []
    plural = next((i for i, w in enumerate(words) if len(w) > 3 and w.endswith("s") and not w.endswith("ss")), None)
    return words if plural is None else words[:plural + 1]


class Evidence:
    """The checks for one question, applied to candidate sentences; built once per question."""

    def __init__(self, question: str, config: "AnswerConfig", tokenize: Callable[[str], list[str]],
                 in_archive: Callable[[str], bool], document_tokens: Callable[[str], set[str]],
                 idf: Callable[[str], float] = lambda token: 1.0,
                 document_text: Callable[[str], str] = lambda doc_id: "",
                 name_in_archive: Callable[[str], bool] = lambda key: False,
                 source_tokens: Callable[[str], set[str]] = lambda doc_id: set(),
                 abbreviated_in_archive: Callable[[str], bool] = lambda abbreviation: False):
        self.config = config
        self.document_text = document_text
        self.source_tokens = source_tokens
        # Every content word of the question, by its weight (IDF): what the answer should be about.
        self.words = {}
        for word in _TOKEN.findall(question):
            for token in tokenize(word):
                self.words.setdefault(token, (word, idf(token)))
        self.tokenize = tokenize
        self.document_tokens = document_tokens
        self.terms = [(t, options) for t in (specific_terms(question) if config.specific_terms != "off" else [])
                      if (options := _alternatives(t, tokenize))]
        # A name counts as present in another form of itself (America for American, China for Chinese).
        self.names = {t for t, _ in self.terms if t[:1].isupper()}
        # A name that is a country ("America", "Russian", "Moscow") counts as present in any of its forms ("the
        # U.S."); and only in those: it is never excused as "said another way", for another country is another one.
        self.countries = ({t: codes for t in self.names if (codes := countries_named(t, tokenize))}
                          if config.country_forms else {})
        self.missing = [t for t, options in self.terms
                        if not _present(options, in_archive, name_in_archive if t in self.names else None)
                        and not (is_abbreviation(t) and abbreviated_in_archive(t))]
        self.kind = answer_kind(question) if config.check_answer_kind else ""
        # What a how-many question counts, and its tokens (and name keys): a count stands beside what it counts.
        self.counted_words = counted_words(question)
        self.counted = {key for word in self.counted_words for token in tokenize(word) for key in (token, name_key(token))}
        # The country of what is counted ("Chinese firms"): a count beside another country's ("U.S. firms") is not it.
        self.counted_countries = (frozenset().union(*(countries_named(w, tokenize) for w in self.counted_words
                                                      if w[:1].isupper())) if config.country_forms else frozenset())
        self.question = question
        # Words of the question that no passage of the archive holds (as BM25 tokens), with their spans.
        self.unknown = [match for match in _WORD.finditer(question)
                        if match.group().casefold() not in _QUESTION_WORDS and tokenize(match.group())
                        and not any(all(in_archive(t) for t in tokenize(variant))
                                    for variant in spelling_variants(match.group()))]

    def archive_reason(self) -> str:
        """Why the archive as a whole cannot answer (too many of the question's specific terms are never in it)."""
        if not self.terms or _meets(_coverage(len(self.missing), len(self.terms)), self.config.min_term_coverage):
            return ""
        present = [t for t, _ in self.terms if t not in self.missing]
        return (f"The articles mention {_join(present, 'and')} but never {_join(self.missing, 'or')}." if present
                else f"The articles never mention {_join(self.missing, 'or')}.")

    def absent_terms(self, chosen: Sequence["Candidate"]) -> list[str]:
        """The question's specific terms that the chosen sentences' evidence (the sentences, their passages
        or their documents, as configured) lacks."""
        if not self.terms:
            return []
        scope = self.config.specific_terms
        if scope == "sentences":
            text = " ".join(c.text for c in chosen)
        elif scope == "paragraph":
            text = " ".join(f"{c.hit.title}\n{_paragraph(self.document_text(c.hit.doc_id), c.char_start)}" for c in chosen)
        elif scope == "passage":
            text = " ".join(f"{c.hit.title}\n{c.hit.text}" for c in chosen)
        else:
            text = ""
        seen = set(self.tokenize(text)) if text else set().union(*(self.document_tokens(c.hit.doc_id) for c in chosen))
        seen |= set().union(*(self.source_tokens(c.hit.doc_id) for c in chosen))  # "according to Snopes"
        keys = {name_key(token) for token in seen}
        named = countries_in(text, self.tokenize) if text and self.countries else frozenset()
        return [t for t, options in self.terms
                if not _present(options, seen.__contains__, keys.__contains__ if t in self.names else None)
                and not (text and _abbreviates(t, text)) and not (self.countries.get(t, frozenset()) & named)]

    def reason(self, chosen: Sequence["Candidate"],
               embed: Callable[[Sequence[str]], "np.ndarray"] | None = None) -> str:
        """Why the chosen sentences do not answer, in one line; "" when they do.

        With ``embed``, a name the sentences do not spell out still counts when they speak of it another way
        ("the U.S." for "America"): leaving it out of the question does not make the question fit them better
        by more than ``unknown_word_margin`` (the test of :meth:`unknown_word_reason`).
        """
        absent = self.absent_terms(chosen)
        if embed is not None and absent:
            absent = [t for t in absent if not self._spoken_of(t, chosen, embed)]
        if self.terms and not _meets(_coverage(len(absent), len(self.terms)), self.config.min_term_coverage):
            return f"The closest passages do not mention {_join(absent, 'or')}."
        if self.words and self.config.min_question_coverage > 0:
            seen = set(self.tokenize(" ".join(c.text for c in chosen)))
            total = sum(weight for _, weight in self.words.values())
            covered = sum(weight for token, (_, weight) in self.words.items() if token in seen)
            if total and covered / total < self.config.min_question_coverage:
                missing = sorted(((w, word) for token, (word, w) in self.words.items() if token not in seen), reverse=True)
                return f"The closest passages do not speak of {_join([word for _, word in missing[:2]], 'or')}."
        if self.kind == "quantity":
            giving = [c for c in chosen if _HAS_NUMBER.search(_DAY_OF_MONTH.sub(" ", c.text))]
            if not giving:
                return "The question asks for a number, and the closest passages give none."
            if self.counted and self.config.counted_word_window > 0:
                giving = [c for c in giving if self._counts_asked(c.text, embed)]
                if not giving:
                    return f"The closest passages give numbers, but none of {' '.join(self.counted_words)}."
        if self.kind == "proportion" and not any(_HAS_PROPORTION.search(c.text) for c in chosen):
            return "The question asks for a share, and the closest passages give none."
        if self.kind == "date" and not _HAS_DATE.search(" ".join(c.text for c in chosen)):
            return "The question asks when, and the closest passages give no date."
        return ""

    def _counts_asked(self, text: str, embed: Callable[[Sequence[str]], "np.ndarray"] | None = None) -> bool:
        """Whether a number in the sentence stands within ``counted_word_window`` content words of what the
        question counts: "15,000 Kazakh soldiers" counts Kazakh troops; "hundreds of scholarships for Afghan
        students" counts scholarships, not Kazakh students. With ``embed``, a word beside the number counts when
        the model puts it within ``counted_word_similarity`` (cosine) of a counted word: "troops" and "soldiers"."""
        window = self.config.counted_word_window
        beside: list[str] = []

        def content(words: list[str]) -> list[tuple[str, list[str]]]:  # function words ("of", "the") take no place
            return [(word, tokens) for word, tokens in zip(words, map(self.tokenize, words)) if tokens]

        text = _DAY_OF_MONTH.sub(" ", text)
        for number in _HAS_NUMBER.finditer(text):
            after = _TOKEN.findall(text[number.end():])  # words: "U.S." is one
            while after and _NUMBER_WORD.match(after[0]):  # "1.2 billion", "15 thousand": the count goes on
                after.pop(0)
            before, following = content(_TOKEN.findall(text[:number.start()])), content(after)
            around = before[-window:] + following[:window]
            if self.counted_countries:
                # The country is part of what is counted, so it may stand as far off as the counted phrase is long:
                # "Of Kazakh students abroad, 3,000 …". Another country there, or none, counts something else:
                # "Hundreds of U.S. firms" counts no Chinese firms, "three joint exercises" no Russian soldiers.
                reach = window + len(self.counted_words) - 1
                phrase = " ".join(word for word, _ in before[-reach:] + following[:reach])
                if not countries_in(phrase, self.tokenize) & self.counted_countries:
                    continue
            for word, tokens in around:
                if any(token in self.counted or name_key(token) in self.counted for token in tokens):
                    return True
                beside.append(word.strip("-’'"))
        if embed is None or self.config.counted_word_similarity > 1 or not beside:
            return False
        counted = [w for w in self.counted_words if w.casefold() not in _QUESTION_WORDS]
        words = list(dict.fromkeys(beside))
        vectors = embed(counted + words)
        return bool(np.max(vectors[:len(counted)] @ vectors[len(counted):].T) >= self.config.counted_word_similarity)

    def _spoken_of(self, term: str, chosen: Sequence["Candidate"], embed: Callable[[Sequence[str]], "np.ndarray"]) -> bool:
        at = self.question.find(term)
        if self.config.unknown_word_margin <= 0 or term not in self.names or at < 0 or not chosen:
            return False  # numbers are never "said another way": another year is another event
        if term in self.countries:
            # A country left unsaid in the sentences must be the one their paragraphs speak of: "a 225 year history
            # of democratic self-government" in a speech on the U.S. is America's; "Kazakhstan's role" is not
            # Turkmenistan's.
            around = " ".join(_paragraph(self.document_text(c.hit.doc_id), c.char_start) or c.hit.text for c in chosen)
            if not self.countries[term] & countries_in(around, self.tokenize):
                return False
        return self._fit_gains([(at, at + len(term))], chosen, embed)[0] <= self.config.unknown_word_margin

    def _fit_gains(self, spans: Sequence[tuple[int, int]], chosen: Sequence["Candidate"],
                   embed: Callable[[Sequence[str]], "np.ndarray"]) -> list[float]:
        """For each span of the question, how much closer to the chosen sentences (best cosine) the question
        comes without it: above ``unknown_word_margin``, the sentences do not speak to what the span says."""
        without = [self.question[:start] + self.question[end:] for start, end in spans]
        vectors = embed([self.question, *without, *(c.text for c in chosen)])
        sentences = vectors[1 + len(without):]
        fit = float(np.max(sentences @ vectors[0]))
        return [float(np.max(sentences @ vector)) - fit for vector in vectors[1:1 + len(without)]]

    def unknown_word_reason(self, chosen: Sequence["Candidate"], embed: Callable[[Sequence[str]], "np.ndarray"]) -> str:
        """Whether the question asks about a word the archive never uses: a word without which the question
        is closer to the chosen sentences (by more than ``unknown_word_margin``) is one they do not speak to.

        "What is the population of Astana?" without "population" fits a sentence about Astana better, so that
        sentence does not answer it; "Which analyst told Nazarbayev …" without "told" fits its answer no better.
        """
        margin = self.config.unknown_word_margin
        if margin <= 0 or not self.unknown or not chosen:
            return ""
        spans = self._unknown_spans()
        gains = self._fit_gains(spans, chosen, embed)
        for (start, end), gain in zip(spans, gains):
            if gain > margin:
                unknown = self.question[start:end]
                kind = "name" if " " in unknown else "word"
                return f"The articles never use the {kind} “{unknown}”, and the closest passages do not speak to it."
        return ""

    def _unknown_spans(self) -> list[tuple[int, int]]:
        """The unknown words' spans, a name of several unknown words as one: without "Hillary" alone, the
        question still names Clinton; only without "Hillary Clinton" does it ask what the sentences say."""
        spans: list[tuple[int, int]] = []
        previous = None
        for match in self.unknown:
            if (previous is not None and match.group()[:1].isupper() and previous.group()[:1].isupper()
                    and not self.question[previous.end():match.start()].strip()):
                spans[-1] = (spans[-1][0], match.end())
            else:
                spans.append(match.span())
            previous = match
        return spans


# What comes before a word that starts a sentence, a heading, a list item or a table cell: capitalised there for its
# place, not because it is a name.
_OPENS = set(".!?:;\n•|\"“”(")


def word_cases(text: str) -> dict[str, Counter[str]]:
    """How a text writes each word inside its sentences: by lower-case form, each written form and how often
    ({"nazarbayev": {"Nazarbayev": 3}, "oil": {"oil": 5}}). A word that opens a sentence, heading, list item or
    table cell is not counted: it is capitalised for its place."""
    cases: dict[str, Counter[str]] = {}
    for match in _TOKEN.finditer(text):
        word = _bare(match.group())
        if not word or not word[0].isalpha():
            continue
        at = match.start() - 1
        while at >= 0 and text[at] in " \t":
            at -= 1
        if at < 0 or text[at] in _OPENS:
            continue
        cases.setdefault(word.casefold(), Counter())[word] += 1
    return cases


def written_as(forms: Counter[str], least: int = 2, lower_share: float = 0.1) -> str | None:
    """A word's form in a text, from its ``word_cases`` entry: as a name when capitalised at least ``least``
    times and in lower case in at most ``lower_share`` of its places, otherwise in lower case if it is ever
    written so; None for a word seen too seldom to tell (capitalised once)."""
    key = next(iter(forms)).casefold()
    lower = forms.get(key, 0)
    names = Counter({form: n for form, n in forms.items() if form != key and form[0].isupper()})
    total = sum(names.values())
    if total >= least and lower <= lower_share * (total + lower):
        return names.most_common(1)[0][0]
    return key if lower else None


def truecase(question: str, casing: Callable[[str], str | None],
             names_country: Callable[[str], bool] = lambda phrase: False) -> str:
    """The question with the words typed in lower case that are names written as names, so that the checks for
    names hold however the question is typed: "what did nazarbayev say about mars?" asks about Nazarbayev.

    A word is a name as the archive writes it (``casing``: its form inside sentences, None for a word it never
    uses). A word the archive never uses is a name when it names a country, alone or with the next word ("saudi
    arabia", "canadian"). The length stays the same, so spans into the question still hold.
    """
    tokens = list(_TOKEN.finditer(question))
    words = [_bare(t.group()) for t in tokens]
    out = list(question)

    def write(i: int, form: str) -> None:
        at = tokens[i].start() + tokens[i].group().find(words[i])
        out[at:at + len(form)] = form

    skip = -1
    for i, word in enumerate(words):
        if i <= skip or not word or word != word.casefold() or word in _QUESTION_WORDS:
            continue
        form = casing(word)
        if form is not None:
            if form != word and len(form) == len(word) and not (form.isupper() and word in known_words()):
                write(i, form)  # but "us" is the pronoun, and "it" no IT, whatever the archive's acronyms
            continue
        for j in (i + 1, i):  # the longest phrase first: "saudi arabia", then "canadian"
            phrase = words[i:j + 1]
            if (j < len(words) and all(w and w == w.casefold() and casing(w) is None for w in phrase)
                    and names_country(" ".join(phrase))):
                for k in range(i, j + 1):
                    write(k, words[k][:1].upper() + words[k][1:])
                skip = j
                break
    return "".join(out)


_CAPITALISED_RUN = re.compile(r"[A-Z][\w’'\-]*(?:\s+(?:(?:of|and|for|the|on|&)\s+)?[A-Z][\w’'\-]*)*")


def capitalised_initials(text: str) -> set[str]:
    """The initials of each run of capitalised words in the text ("DVA" for "Department of Veterans Affairs")."""
    runs = ("".join(word[0] for word in run.group().split() if word[0].isupper()) for run in _CAPITALISED_RUN.finditer(text))
    return {initials for initials in runs if len(initials) >= 2}


def is_abbreviation(term: str) -> bool:
    return term.isalpha() and term.isupper() and 2 <= len(term) <= 6


def _abbreviates(term: str, text: str) -> bool:
    """Whether an abbreviation of the question ("VA", "NDN") stands for a name the text spells out ("the
    Department of Veterans Affairs", "Northern Distribution Network"): it is the initials of consecutive
    capitalised words there."""
    return is_abbreviation(term) and any(term in initials for initials in capitalised_initials(text))


def _paragraph(text: str, offset: int) -> str:
    """The paragraph (blank-line separated block) of ``text`` that holds ``offset``."""
    start = text.rfind("\n\n", 0, offset)
    end = text.find("\n\n", offset)
    return text[start + 2 if start != -1 else 0: end if end != -1 else len(text)]


def _coverage(absent: int, total: int) -> float:
    return 1.0 - absent / total if total else 1.0


def _meets(coverage: float, minimum: float) -> bool:
    # Settings are written to two decimals: 0.67 means two terms of three.
    return coverage >= minimum - 0.005


def _present(options: list[list[str]], has: Callable[[str], bool],
             has_name: Callable[[str], bool] | None = None) -> bool:
    def found(token: str) -> bool:
        return has(token) or (has_name is not None and has_name(name_key(token)))

    return any(all(found(tok) for tok in tokens) for tokens in options)


def _join(terms: Sequence[str], conjunction: str) -> str:
    terms = list(terms)
    return terms[0] if len(terms) == 1 else ", ".join(terms[:-1]) + f" {conjunction} " + terms[-1]
