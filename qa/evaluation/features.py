"""Features of a (claim, passages) pair for the support verifier; pure.

Each claim sentence is aligned with the source, SummaC-style: its best single sentence and its best
window of up to WINDOW consecutive sentences of one passage, lexically and by embedding cosine. Per
sentence: the share of its content terms in the best source sentence, the share of its close pairs of
content terms found together in one source sentence, the share of its word bigrams in the best source
sentence, the density of fragments copied verbatim, the best sentence and window cosines, and the
share of its names found in the best window. These are aggregated over the claim's sentences by the
weakest sentence and the mean, since one unsupported sentence makes a summary unfaithful; claim-level
counts of novel terms, numbers and names, negation and hedge mismatches, and length complete the row.
Embeddings come in as a text -> vector mapping, so this module never runs a model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.citations import negation_differs, spell_out
from qa.sentences import split_sentences
from qa.terms import STOPWORDS, terms

WINDOW = 3  # sentences; a window's vector is the normalised sum of its sentences' vectors
MAX_WORDS = 100  # longer "sentences" (web pages without punctuation) are cut to fit 256 word pieces
PAIR_SPAN = 3  # content terms this close in a claim sentence should meet in one source sentence
SWAP_COVERAGE = 0.6  # share of a claim sentence's terms in one source sentence: it follows that sentence
SENTENCE_FEATURES = ("cov_sent", "pair_sent", "bigram_sent", "fragment_density", "cos_sent", "cos_win", "entity_win")
CLAIM_FEATURES = ("log_claim_terms", "novel_terms", "novel_numbers", "novel_entities", "negation_mismatch",
                  "hedge_dropped")
FEATURES = (
    *(f"min_{name}" for name in SENTENCE_FEATURES), *(f"mean_{name}" for name in SENTENCE_FEATURES), *CLAIM_FEATURES,
)

# tokenised summaries (CNN/DM, XSum): "boy 's leg , officials said ." and escaped quotes
_DETOKENIZE = (
    (re.compile(r"\\(['\"])"), r"\1"),
    (re.compile(r"-lrb-\s*", re.IGNORECASE), "("),
    (re.compile(r"\s*-rrb-", re.IGNORECASE), ")"),
    (re.compile(r"``\s*|\s*''"), '"'),
    (re.compile(r"\s+(n't|'s|'re|'ve|'ll|'d|'m)\b", re.IGNORECASE), r"\1"),
    (re.compile(r"\s+([.,;:!?%)])"), r"\1"),
    (re.compile(r"([($])\s+"), r"\1"),
)
_TOKENISED_STOP = re.compile(r"(?<=\S)\s+\.\s+(?=\S)")  # " . " between sentences of a tokenised summary
_TOKEN = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# negation for the verifier's features, wider than qa.citations' own (the weights were fitted with it)
NEGATION = re.compile(r"\b(?:not|no|never|cannot|none|nobody|nothing|neither|nor|without)\b", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][\w’'-]*")
_NAME_RUN = re.compile(r"\b[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*")  # "Antony Blinken": one name
# a claim dropping the source's hedge ("seems essential" -> "is essential") states more than it
_HEDGES = frozenset(
    "may might could can seem seems seemed appear appears likely unlikely possibly possible perhaps suggest "
    "suggests suggested often sometimes generally usually typically probably potentially some".split())
_NUMBER_WORDS = {
    word: str(value) for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split())
}


@dataclass(frozen=True)
class Source:
    """The passages as sentences, with the lookups every claim sentence is scored against."""

    sentences: tuple[str, ...]
    windows: np.ndarray  # (windows, sentences) 0/1 membership; windows never cross passages
    term_rows: dict[str, np.ndarray]  # content term -> which sentences hold it
    bigram_rows: dict[tuple[str, str], np.ndarray]  # word bigram -> which sentences hold it
    tokens: tuple[str, ...]  # every word of the source, lower-cased, in order
    positions: dict[str, list[int]]  # word -> its indexes in tokens
    numbers: frozenset[str]
    names: frozenset[str]  # lower-cased words written capitalised inside a source sentence


def normalize(text: str) -> str:
    """Return `text` detokenised, with thousands separators and "n't" contractions spelled out."""
    for pattern, replacement in _DETOKENIZE:
        text = pattern.sub(replacement, text)
    return " ".join(spell_out(text).split())


def claim_sentences(claim: str) -> list[str]:
    """Return the sentences of `claim`, normalised; a tokenised summary's " . " also ends a sentence."""
    found: list[str] = []
    for piece in _TOKENISED_STOP.split(claim.strip()):
        found.extend(_sentences(normalize(piece)))
    return [s for s in found if _tokens(s)]


def read_source(passages: Sequence[str]) -> Source:
    """Return the passages split into sentences, with their term, bigram, name and number lookups."""
    sentences: list[str] = []
    spans: list[tuple[int, int]] = []
    for passage in dict.fromkeys(p for p in passages if p.strip()):  # cited twice is still one passage
        start = len(sentences)
        sentences.extend(s for s in _sentences(normalize(passage)) if _tokens(s))
        spans.append((start, len(sentences)))
    token_lists = [_tokens(s) for s in sentences]
    tokens = tuple(t for words in token_lists for t in words)
    positions: dict[str, list[int]] = {}
    for index, token in enumerate(tokens):
        positions.setdefault(token, []).append(index)
    return Source(
        sentences=tuple(sentences),
        windows=_windows(spans, len(sentences)),
        term_rows=_rows([set(terms(s)) for s in sentences]),
        bigram_rows=_rows([set(zip(words, words[1:])) for words in token_lists]),
        tokens=tokens,
        positions=positions,
        numbers=frozenset(n for s in sentences for n in _numbers(s)),
        names=frozenset(n for s in sentences for n in _inner_names(s)),
    )


@dataclass(frozen=True)
class FactNotes:
    """What a claim states that its passages do not bear out, for a reader checking a verdict, not for
    the score (the human labels forgive many of these)."""

    not_in_source: list[str]  # its numbers (without thousands separators) and names the passages never mention
    swapped: list[tuple[str, str]]  # (its, the source's) numbers or names where it departs from the sentence it follows
    negation_flipped: bool  # it disagrees on negation with the sentence it follows

    def __bool__(self) -> bool:
        return bool(self.not_in_source or self.swapped or self.negation_flipped)


def fact_notes(claim: str, passages: Sequence[str]) -> FactNotes:
    """Return the FactNotes of `claim` against `passages`, in the claim's order. A claim sentence
    follows the source sentence holding SWAP_COVERAGE or more of its content terms; there, a number
    or name of the claim that sentence lacks, while the sentence holds one of the same kind the claim
    lacks, is the mark of a copied sentence with one fact changed, which a check against the whole
    source misses when the new figure or name occurs elsewhere in it. Names: see _facts."""
    source = read_source(passages)
    missing: list[str] = []
    swaps: list[tuple[str, str]] = []
    flipped = False
    for sentence in claim_sentences(claim):
        mine = _facts(sentence)
        missing += [text for _, text, kind in mine
                    if (text not in source.numbers if kind == "number" else text.lower() not in source.positions)]
        closest = _closest(sentence, source)
        if closest is None:
            continue
        theirs = _facts(closest)
        for kind in ("number", "name"):
            lacking = [t for _, t, k in mine if k == kind and not _mentions(closest, t, kind)]
            extra = [t for _, t, k in theirs if k == kind and not _mentions(sentence, t, kind)]
            if lacking and extra:
                swaps.append((" ".join(dict.fromkeys(lacking)), " ".join(dict.fromkeys(extra))))
        flipped = flipped or negation_differs(sentence, set(terms(sentence)), closest, negation=NEGATION)
    return FactNotes(not_in_source=list(dict.fromkeys(missing)), swapped=list(dict.fromkeys(swaps)),
                     negation_flipped=flipped)


def _closest(sentence: str, source: Source) -> str | None:
    """Return the source sentence holding the largest share of the claim sentence's content terms,
    when that share reaches SWAP_COVERAGE."""
    claim_terms = list(dict.fromkeys(terms(sentence)))
    if not claim_terms or not source.sentences:
        return None
    coverage = _share(_presence(claim_terms, source.term_rows, len(source.sentences)))
    best = int(np.argmax(coverage))
    return source.sentences[best] if coverage[best] >= SWAP_COVERAGE else None


def _facts(sentence: str) -> list[tuple[int, str, str]]:
    """Return (offset, text, "number" | "name") of a sentence's numbers and names, in order; names are
    the words of capitalised runs, leaving out stop words and a lone capitalised first word."""
    found = [(m.start(), m.group(0), "number") for m in _NUMBER.finditer(sentence)]
    for match in _NAME_RUN.finditer(sentence):
        words = list(_TOKEN.finditer(match.group(0)))
        if match.start() == 0 and len(words) == 1:
            continue  # a sentence's first word is capitalised anyway
        found += [(match.start() + w.start(), w.group(0), "name") for w in words if w.group(0).lower() not in STOPWORDS]
    return sorted(found)


def _mentions(sentence: str, fact: str, kind: str) -> bool:
    """Return True when the sentence holds the number, or the name as any word (case aside)."""
    if kind == "number":
        return fact in _NUMBER.findall(sentence)
    return fact.lower() in _tokens(sentence)


def pair_features(sentences: Sequence[str], source: Source, *,
                  vectors: Mapping[str, Sequence[float]]) -> list[float]:
    """Return the FEATURES of claim `sentences` against `source`, in order; `vectors` embeds every text."""
    if not sentences or not source.sentences:
        return [0.0] * len(FEATURES)
    claim_matrix = np.array([vectors[s] for s in sentences], dtype=float)
    source_matrix = np.array([vectors[s] for s in source.sentences], dtype=float)
    window_matrix = source.windows @ source_matrix
    window_matrix /= np.maximum(np.linalg.norm(window_matrix, axis=1, keepdims=True), 1e-9)
    rows, claim_row = [], np.zeros(len(CLAIM_FEATURES))
    for index, sentence in enumerate(sentences):
        row, counts, flags = _sentence_features(sentence, source, sentence_cos=source_matrix @ claim_matrix[index],
                                                window_cos=window_matrix @ claim_matrix[index])
        rows.append(row)
        claim_row[1:4] += counts
        claim_row[4:] = np.maximum(claim_row[4:], flags)
    claim_row[0] = len(terms(" ".join(sentences)))
    claim_row[:4] = np.log1p(claim_row[:4])
    table = np.array(rows)
    return [*table.min(axis=0), *table.mean(axis=0), *claim_row]


def _sentence_features(sentence: str, source: Source, *, sentence_cos: np.ndarray,
                       window_cos: np.ndarray) -> tuple[list[float], np.ndarray, np.ndarray]:
    """Return one claim sentence's SENTENCE_FEATURES, its novel term, number and name counts, and its
    negation and hedge mismatch flags."""
    words = _tokens(sentence)
    sequence = terms(sentence)
    claim_terms = list(dict.fromkeys(sequence))
    presence = _presence(claim_terms, source.term_rows, len(source.sentences))
    bigrams = _presence(list(dict.fromkeys(zip(words, words[1:]))), source.bigram_rows, len(source.sentences))
    cov_sent, cov_win = _share(presence), _share(presence @ source.windows.T > 0)
    best_sentence = int(np.argmax(cov_sent + sentence_cos))
    best_window = int(np.argmax(cov_win + window_cos))
    window_words = {w for i in np.flatnonzero(source.windows[best_window]) for w in _tokens(source.sentences[i])}
    entities = _inner_names(sentence) | (set(words) & source.names)
    fragments = _fragments(words, source)
    row = [
        float(cov_sent.max()), _pair_share(sequence, source), float(_share(bigrams).max()),
        math.log1p(sum(f * f for f in fragments) / max(1, len(words))),
        float(sentence_cos.max()), float(window_cos.max()),
        len(entities & window_words) / len(entities) if entities else 1.0,
    ]
    counts = np.array([
        float((presence.sum(axis=1) == 0).sum()), float(len(_numbers(sentence) - source.numbers)),
        float(len(entities - set(source.positions))),
    ])
    best_words = set(_tokens(source.sentences[best_sentence]))
    flags = np.array([
        float(negation_differs(sentence, set(claim_terms), source.sentences[best_sentence], negation=NEGATION)),
        float(bool((best_words & _HEDGES) - set(words))),
    ])
    return row, counts, flags


def _pair_share(sequence: list[str], source: Source) -> float:
    """Return the share of pairs of content terms at most PAIR_SPAN apart in the claim sentence that
    occur together in one source sentence: local relations, not only words, must be found."""
    pairs = list(dict.fromkeys(
        (a, b) for i, a in enumerate(sequence) for b in sequence[i + 1:i + PAIR_SPAN] if a != b))
    if not pairs:
        return 1.0
    absent = np.zeros(len(source.sentences), dtype=bool)
    together = [bool((source.term_rows.get(a, absent) & source.term_rows.get(b, absent)).any()) for a, b in pairs]
    return sum(together) / len(pairs)


def _sentences(text: str) -> list[str]:
    """Return the sentences of `text`, each cut into pieces of at most MAX_WORDS words."""
    found = []
    for start, end in split_sentences(text):
        words = text[start:end].split()
        found.extend(" ".join(words[i:i + MAX_WORDS]) for i in range(0, len(words), MAX_WORDS))
    return found


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _numbers(text: str) -> set[str]:
    found = set(_NUMBER.findall(text))
    return found | {_NUMBER_WORDS[w] for w in _tokens(text) if w in _NUMBER_WORDS}


def _inner_names(sentence: str) -> set[str]:
    """Return the lower-cased capitalised words of `sentence` past its first word, stop words dropped."""
    found = set()
    for match in _NAME.finditer(sentence):
        if match.start() > 0:
            found.update(w for w in _tokens(match.group(0)) if w not in STOPWORDS)
    return found


def _windows(spans: list[tuple[int, int]], count: int) -> np.ndarray:
    """Return the membership matrix of every run of 1..WINDOW sentences inside one passage."""
    rows = []
    for start, end in spans:
        for size in range(1, WINDOW + 1):
            for first in range(start, max(start, end - size + 1)):
                row = np.zeros(count)
                row[first:first + size] = 1.0
                rows.append(row)
    return np.array(rows).reshape(len(rows), count)


def _rows(sets: list[set]) -> dict:
    """Return item -> boolean vector of the sets (sentences) holding it."""
    rows: dict = {}
    for index, items in enumerate(sets):
        for item in items:
            rows.setdefault(item, np.zeros(len(sets), dtype=bool))[index] = True
    return rows


def _presence(items: list, rows: dict, count: int) -> np.ndarray:
    """Return an (items, sentences) 0/1 matrix of where each item occurs."""
    absent = np.zeros(count, dtype=bool)
    return np.array([rows.get(item, absent) for item in items], dtype=float).reshape(len(items), count)


def _share(presence: np.ndarray) -> np.ndarray:
    """Return per column the share of rows present; a claim with nothing to check counts as covered."""
    if presence.shape[0] == 0:
        return np.ones(presence.shape[1])
    return (presence > 0).mean(axis=0)


def _fragments(words: list[str], source: Source) -> list[int]:
    """Return the lengths of the greedy longest fragments of `words` copied from the source (Grusky et
    al., 2018)."""
    lengths: list[int] = []
    index = 0
    while index < len(words):
        best = 0
        for start in source.positions.get(words[index], ()):
            size = 0
            while (index + size < len(words) and start + size < len(source.tokens)
                   and words[index + size] == source.tokens[start + size]):
                size += 1
            best = max(best, size)
        if best:
            lengths.append(best)
        index += max(best, 1)
    return lengths
