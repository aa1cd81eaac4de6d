"""Countries by every name a text gives them: "the U.S.", "America", "American", "Washington" are one country.

News writes a country as its name, its people ("Russian"), its capital ("Moscow") or its initials ("U.S."),
and a question often names it another way than the article that answers it. The forms come from the
countryinfo package (names, other spellings, demonyms, capitals, ISO codes; MIT licence), not a hand list.

Forms are compared by name key (``name_key`` of the BM25 token, which the evidence checks also use for any
name and its demonym), so that "Kazakh", "Kazakhstan" and "Kazakhstani" meet. A form that names two countries
("Congo") stands for both.
"""

from __future__ import annotations

import functools
import re
from typing import Callable

__all__ = ["TOKEN", "name_key", "country_forms", "countries_named", "countries_in"]

# A word, or initials with their full stops ("U.S." is one word, not "U" and "S").
TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|[\w’'\-]+")
_CODE = re.compile(r"[A-Z]{2,3}")


# Endings that turn a place into its people or adjective, as BM25's Snowball stems spell them
# ("america"/"american", "china"/"chines", "japan"/"japanes", "iraq"/"iraqi"), longest first.
_NAME_ENDING = re.compile(r"(?:ians|ian|ans|ese|an|es|is|i|s|a|e|n)$")
# "-stan" names a people's land ("kazakhstan", "kazakhstani" and "kazakh"; "uzbekistan" and "uzbek").
_LAND_ENDING = re.compile(r"i?stan(?:i|is)?$")


@functools.lru_cache(maxsize=1 << 16)  # pure, and asked of the same tokens under every setting tuning tries
def name_key(token: str) -> str:
    """A name's stemmed token without the ending that makes a demonym, so that "America" and "American",
    "China" and "Chinese", "Kazakhstan" and "Kazakh" meet; a token that would shrink below four letters stays
    whole ("japan", "pakistan")."""
    if not token.isalpha():
        return token
    land = _LAND_ENDING.sub("", token)
    if land != token:
        if len(land) < 4:  # "pakistan"/"pakistani": "pak" is too short to stand for the land
            return re.sub(r"stan(?:i|is)$", "stan", token)
        token = land  # and on to the people's ending: "afghan" from "afghanistan" meets "afghans"
    stem = _NAME_ENDING.sub("", token)
    return stem if len(stem) >= 4 else token


@functools.lru_cache(maxsize=4)
def country_forms(tokenize: Callable[[str], list[str]]) -> tuple[dict[tuple[str, ...], frozenset[str]], dict[str, frozenset[str]]]:
    """(names, codes): each form of a country name as a tuple of name keys, and each ISO or other upper-case code
    ("US", "USA", "UK"), mapped to the countries (ISO alpha-3) it names."""
    import countryinfo

    names: dict[tuple[str, ...], set[str]] = {}
    codes: dict[str, set[str]] = {}
    for country in countryinfo.all_countries():
        info = country.info()
        iso = info.get("ISO") or {}
        ident = iso.get("alpha3") or info["name"]
        forms = [info["name"], *(info.get("altSpellings") or [])]
        try:
            forms.append(country.demonym() or "")
        except Exception:  # a few territories have no demonym in the data
            pass
        capitals = info.get("capital") or []
        for capital in [capitals] if isinstance(capitals, str) else capitals:
            # "Washington", "Moscow": a capital stands for its government in the news.
            forms.append(capital.removesuffix("D.C.").strip(" ,"))
        for form in list(forms):
            # "United States of America" is also "America"; "People's Republic of China" also "China".
            if (tail := re.fullmatch(r".+ of (?:the )?([A-Z][a-z]+)", form or "")):
                forms.append(tail.group(1))
        for code in (iso.get("alpha2"), iso.get("alpha3")):
            if code:
                codes.setdefault(code, set()).add(ident)
        for form in forms:
            if not form or not form.isascii():
                continue
            if _CODE.fullmatch(form):
                codes.setdefault(form, set()).add(ident)
            elif key := tuple(name_key(token) for token in tokenize(form)):
                names.setdefault(key, set()).add(ident)
    return ({k: frozenset(v) for k, v in names.items()}, {k: frozenset(v) for k, v in codes.items()})


def countries_named(term: str, tokenize: Callable[[str], list[str]]) -> frozenset[str]:
    """The countries a name is a form of, the whole name ("United States", "U.S.", "Chinese"); empty for any
    other name ("Nazarbayev", "Kazakh President")."""
    names, codes = country_forms(tokenize)
    bare = term.replace(".", "") if re.fullmatch(r"(?:[A-Z]\.){2,}", term) else term
    if _CODE.fullmatch(bare):
        return codes.get(bare, frozenset())
    return names.get(tuple(name_key(token) for token in tokenize(term)), frozenset())


@functools.lru_cache(maxsize=1 << 14)  # tuning checks the same sentences under every setting
def countries_in(text: str, tokenize: Callable[[str], list[str]], longest: int = 5) -> frozenset[str]:
    """Every country the text names in any form: a capitalised word or run of words, or an upper-case code
    that is not part of an upper-case heading."""
    names, codes = country_forms(tokenize)
    words = TOKEN.findall(text)
    found: set[str] = set()
    for i, word in enumerate(words):
        if not word[:1].isupper():
            continue
        bare = word.replace(".", "") if "." in word else word
        if _CODE.fullmatch(bare):
            heading = any(0 <= j < len(words) and words[j].isupper() and len(words[j]) > 3 for j in (i - 1, i + 1))
            if not heading:
                found |= codes.get(bare, frozenset())
            continue
        key: tuple[str, ...] = ()
        for following in words[i:i + longest]:
            if not (following[:1].isupper() or following in ("of", "the", "and")):
                break
            key += tuple(name_key(token) for token in tokenize(following.removesuffix("’s").removesuffix("'s")))
            found |= names.get(key, frozenset())
    return frozenset(found)
