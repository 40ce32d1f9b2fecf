"""Content terms: lower-cased, stop words dropped, Snowball-stemmed; shared by BM25 and the
extractive answerer so both see the same vocabulary. Pure."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

TOKEN = r"(?u)\b\w\w+\b"
_TOKEN = re.compile(TOKEN)
STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can could did do does doing done down during each either else
    few for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just let me might more most must my myself no nor not now of off on once
    only or other ought our ours ourselves out over own per same shall she should so some such than
    that the their theirs them themselves then there these they this those through to too under
    until up upon us very was we were what whatever when where whether which while who whom whose
    why will with within would yet you your yours yourself yourselves also among many much one
    ever says said say tell told according many""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Return the Snowball stem of a lower-case word."""
    return _stemmer().stemWord(word)


def words(text: str) -> list[str]:
    """Return the lower-cased word tokens of `text` (two characters or more)."""
    return _TOKEN.findall(text.lower())


def terms(text: str) -> list[str]:
    """Return the stemmed content terms of `text`, in order, stop words removed."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]
