"""Citation markers in generated answers and lexical checks that a passage supports a claim; pure.

A document's own bracketed numbers ("[2]", "[1, 3]") are not markers: defuse_markers() writes their
brackets fullwidth ("［2］") wherever document text enters answer text or a prompt, so no client (the web
page, an OpenAI client parsing "[n]", parse_markers itself) can take them for citations. Citations'
`quote` and `text` keep the document's own characters.

support_score(claim, passage) is deliberately simple and explainable:

    coverage   share of the claim's content terms (qa.terms) that occur anywhere in the passage
    - 0.6      if the claim states a number the passage does not contain (a wrong year or count
               is a wrong fact even when every other word matches)
    - 0.6      if the claim's polarity disagrees with the passage clauses it rests on (negated
               by "not", "no", "never", "cannot", "n't"), because stop-word removal hides negation
               from the coverage term

clamped to [0, 1]. A claim passes when its score is at least SUPPORT_THRESHOLD; either penalty
alone fails a claim whose every term matches. Thousands separators and "n't" contractions are
normalised first, so "12,500" matches "12500" and "didn't" matches "did not".
"""

from __future__ import annotations

import re

from qa.sentences import split_sentences
from qa.terms import terms

SUPPORT_THRESHOLD = 0.5
NUMBER_PENALTY = 0.6
NEGATION_PENALTY = 0.6

# "[1]", "[1, 3]", "[1;2]" with the whitespace before it, so "spoke [1]." becomes "spoke."
_MARKER = re.compile(r"\s*\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
# a document's bracketed numbers, as any of the marker forms above would read them
_BRACKETED_NUMBERS = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")
# a comma inside digits is a thousands separator ("1,200"); a trailing dot ends the sentence
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATION = re.compile(r"\b(?:not|no|never|cannot)\b|n['’]t\b", re.IGNORECASE)
_CLAUSE = re.compile(r"[,;:]|\b(?:and|but|while|whereas)\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_IRREGULAR_NOT = re.compile(r"\b(ca|wo|sha)n['’]t\b", re.IGNORECASE)  # can't, won't, shan't
_CONTRACTED_NOT = re.compile(r"n['’]t\b", re.IGNORECASE)
_EXPANDED = {"ca": "can", "wo": "will", "sha": "shall"}


def parse_markers(text: str) -> list[tuple[str, list[int]]]:
    """Return each sentence of `text` with its markers removed, paired with the marker numbers it carried."""
    clean, placed = _strip_markers(text)
    spans = split_sentences(clean)
    if not spans:
        return []
    found: list[list[int]] = [[] for _ in spans]
    for offset, numbers in placed:
        # a marker belongs to the last sentence starting at or before it, so "spoke. [1] He"
        # cites "spoke." and a marker opening the text cites the first sentence
        index = max((i for i, (start, _) in enumerate(spans) if start <= offset), default=0)
        for number in numbers:
            if number not in found[index]:
                found[index].append(number)
    return [(clean[start:end], numbers) for (start, end), numbers in zip(spans, found)]


def defuse_markers(text: str) -> str:
    """Return document `text` with each bracketed number ("[2]", "[1, 3]") in fullwidth brackets ("［2］",
    "［1, 3］"), which nothing reads as a citation marker; as long as `text`, so offsets still hold."""
    return _BRACKETED_NUMBERS.sub(lambda match: f"［{match.group(1)}］", text)


def support_score(claim: str, passage: str) -> float:
    """Return in [0, 1] how well `passage` lexically supports the sentence `claim` (see module docstring)."""
    claim_terms = _terms(claim)
    if not claim_terms:
        return 0.0  # nothing checkable, e.g. "Yes.", so nothing is supported
    score = len(claim_terms & _terms(passage)) / len(claim_terms)
    if _numbers(claim) - _numbers(passage):
        score -= NUMBER_PENALTY
    if negation_differs(claim, claim_terms, _best_sentence(claim_terms, passage)):
        score -= NEGATION_PENALTY
    return min(1.0, max(0.0, score))


def best_quote(claim: str, passage: str) -> tuple[int, int]:
    """Return the (start, end) offsets of the passage sentence that best supports `claim`."""
    spans = split_sentences(passage)
    if not spans:
        return 0, len(passage)
    # max keeps the first of equal scores, so ties go to the earlier sentence
    return max(spans, key=lambda span: support_score(claim, passage[span[0]:span[1]]))


def _strip_markers(text: str) -> tuple[str, list[tuple[int, list[int]]]]:
    """Return `text` without markers, and each marker's offset in that text with its numbers."""
    pieces: list[str] = []
    placed: list[tuple[int, list[int]]] = []
    length = 0
    last = 0
    for match in _MARKER.finditer(text):
        pieces.append(text[last:match.start()])
        length += match.start() - last
        placed.append((length, [int(n) for n in re.split(r"\s*[,;]\s*", match.group(1))]))
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces), placed


def _best_sentence(claim_terms: set[str], passage: str) -> str:
    """Return the passage sentence sharing the most terms with the claim (the first on ties)."""
    sentences = [passage[s:e] for s, e in split_sentences(passage)] or [passage]
    return max(sentences, key=lambda sentence: len(claim_terms & _terms(sentence)))


def spell_out(text: str) -> str:
    """Return `text` without thousands separators and with "n't" contractions written "not"."""
    text = _THOUSANDS.sub("", text)
    # "didn't" would otherwise leave the term "didn", which "did not" never matches
    text = _IRREGULAR_NOT.sub(lambda m: _EXPANDED[m.group(1).lower()] + " not", text)
    return _CONTRACTED_NOT.sub(" not", text)


def _terms(text: str) -> set[str]:
    """Return the content terms of `text` after normalising numbers and "n't" contractions."""
    return set(terms(spell_out(text)))


def _numbers(text: str) -> set[str]:
    return {match.group() for match in _NUMBER.finditer(_THOUSANDS.sub("", text))}


def negation_differs(claim: str, claim_terms: set[str], sentence: str, *, negation: re.Pattern = _NEGATION) -> bool:
    """Return True when the claim's polarity disagrees with the clauses of `sentence` it rests on:
    a plain claim resting on words found only in negated clauses, or a negated claim sharing no
    word with any negated clause. A negation elsewhere in the sentence does not count. `negation`
    finds a negation (the support verifier counts "none", "nor", "without"... too; this check does
    not, as "without" seldom denies what a passage says)."""
    clauses = [c for c in _CLAUSE.split(sentence) if c and c.strip()]
    negated = set().union(*(_terms(c) for c in clauses if negation.search(c)))
    plain = set().union(*(_terms(c) for c in clauses if not negation.search(c)))
    if negation.search(claim):
        return not (claim_terms & negated)
    return bool((claim_terms & negated) - plain)
