"""Sentence boundaries with character offsets; pure."""

from __future__ import annotations

import hashlib
import re

# never end a sentence: they precede a name
_TITLES = {
    "mr", "mrs", "ms", "dr", "prof", "st", "mt", "gen", "col", "lt", "sgt", "capt", "gov", "sen",
    "rep", "rev", "pres", "vs", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "approx", "dept", "e.g", "i.e",
}
# end a sentence only when the next word is a usual sentence opener ("in the U.S. The ...")
_ABBREVIATIONS = {"u.s", "u.k", "u.n", "a.m", "p.m", "d.c", "etc", "inc", "ltd", "co", "corp", "jr", "sr"}
_NUMBERED = {"no", "nos", "vol", "fig", "art"}  # abbreviations only before a number
_OPENERS = {
    "the", "a", "an", "he", "she", "it", "they", "we", "i", "this", "that", "these", "those", "but",
    "and", "in", "on", "at", "for", "his", "her", "their", "its", "there", "after", "before", "when",
    "while", "however", "as", "some", "many", "most", "according",
}
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")


def paragraph_key(text: str) -> str:
    """Return the key of a paragraph's sentence vectors: a hash of its text, so an edited paragraph
    never meets the vectors of its old sentences."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return (start, end) offsets of the sentences of `text`, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _END.finditer(text):
        if _is_abbreviation(text, match.start()):
            continue
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return [_trim(text, s, e) for s, e in spans if text[s:e].strip()]


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = re.search(r"([A-Za-z.]+)$", text[:dot])
    if not word:
        return False
    token = word.group(1).lower().strip(".")
    following = re.match(r"\s+[\"'“‘(\[]?([A-Za-z0-9]+)", text[dot + 1:])
    nxt = following.group(1) if following else ""
    if token in _TITLES or (len(token) == 1 and word.group(1).isupper()):
        return True  # "Mr. Smith", "J. Smith"
    if token in _NUMBERED:
        return nxt[:1].isdigit()
    if token in _ABBREVIATIONS:
        return nxt.lower() not in _OPENERS
    return False


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
