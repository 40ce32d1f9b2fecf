"""Sentence evidence, the stage between retrieval and the answer: every sentence of the retrieved
paragraphs is scored against the question, lexically (IDF-weighted share of its terms), densely
(cosine of embeddings) and by structure (entities of the kind asked for, the names, places, dates
and numbers the question states, statements by the speaker it asks about); paragraphs are then
re-ranked by their best sentence. Sentence vectors and notes come from the store, written at ingest;
a paragraph stored without them is parsed and embedded here."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from qa.annotate import annotate_paragraphs
from qa.chunking import chunk_header
from qa.models import Hit, SentenceNotes, Statement
from qa.nlp import Language
from qa.question import Question
from qa.structure import (constraint_check, focus_fit, names_only, said_match, speaker_match, statement_support,
                          type_match)
from qa.terms import stem, terms

FRAMING = frozenset(stem(w) for w in (
    "describe", "described", "name", "role", "kind", "type", "sort", "think", "view", "explain", "mention",
    "happen", "mean", "actually", "exactly", "specifically", "organization", "detail", "position", "stance",
))
FRAMING_WEIGHT = 0.3
# Rerank weights fitted on SQuAD dev questions disjoint from the benchmark sample (bench/squad.py):
# fused + 0.75 * lexical + 1.5 * dense, written as sentence_weight * (share * lexical + ...).
LEXICAL_SHARE = 1 / 3
STRUCTURE_WEIGHT = 0.5  # re-rank bonus of a paragraph holding the statement the question describes
NAMES_ONLY_DENSE = 0.5  # below this cosine, a sentence sharing only the question's names does not answer it

Stored = Callable[..., dict[str, list[tuple[SentenceNotes, list[float]]]]]  # (addresses, *, starts)


@dataclass(frozen=True)
class SentenceScore:
    """One sentence of a retrieved paragraph and how well it matches the question."""

    start: int
    end: int
    lexical: float  # IDF-weighted share of the question's terms the sentence holds
    dense: float  # cosine between question and sentence embeddings
    notes: SentenceNotes = SentenceNotes(0, 0)
    type_match: float = 0.5  # 1 when it names something of the kind asked for, 0 when not, 0.5 if untyped
    constraints: float = 1.0  # share of the question's names, places, dates and numbers it (or its paragraph) meets
    violation: str = ""  # why it cannot answer: a date or number of the question it lacks or contradicts
    speaker: float = 0.0  # how well its best statement's speaker matches the speaker the question names
    statement: Statement | None = None  # its statement that best matches what the question says was said
    said: float = 0.0  # how well that statement's content matches it
    focus: float = 0.0  # 1 when it names a person whose title fits the role asked for ("which leader")
    support: float = 0.0  # how far it holds the statement the question describes (qa.structure.statement_support)
    reverses: bool = False  # one of its statements says the opposite of what the question says was said
    names_only: bool = False  # it shares the question's names and nothing else of it


@dataclass
class Evidence:
    """A retrieved paragraph with its scored sentences."""

    hit: Hit
    sentences: list[SentenceScore]
    lexical: float = 0.0  # IDF-weighted share of the question's terms its paragraph, title and section hold


class EvidenceScorer:
    """Scores the sentences of retrieved paragraphs against a question; build once, share between threads."""

    def __init__(self, embedder, idf: Callable[[str], float], *, stored: Stored | None = None,
                 language: Language | None = None, sentence_weight: float = 2.25, cache_size: int = 20000) -> None:
        self.embedder = embedder
        self.idf = idf
        self.stored = stored  # paragraph addresses -> their sentences' notes and vectors, kept by ingest
        self.language = language  # parses a paragraph stored without notes
        self.sentence_weight = sentence_weight
        self._cache: OrderedDict[str, tuple[str, list[SentenceNotes], np.ndarray]] = OrderedDict()
        self._cache_size = cache_size
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # the API answers in worker threads; caches are shared

    def query_vector(self, query: str) -> np.ndarray:
        """Return the query's embedding (cached: retrieval and scoring embed the same query)."""
        vector = self._queries.get(query)
        if vector is None:
            vector = np.asarray(self.embedder.get_query_embedding(query))
            with self._lock:
                self._queries[query] = vector
                while len(self._queries) > 256:
                    self._queries.popitem(last=False)
        return vector

    def query_weights(self, query: str) -> dict[str, float]:
        """Return the IDF weight of each distinct content term of the query; words that frame a
        question ("describe", "name", "role") rarely appear in the answer and weigh less."""
        return {t: self.idf(t) * (FRAMING_WEIGHT if t in FRAMING else 1.0) for t in dict.fromkeys(terms(query))}

    def rank(self, question: Question, query: str, hits: list[Hit], *, k: int) -> list[Evidence]:
        """Return the top `k` paragraphs re-ranked by fused score plus their best sentence's lexical and
        dense match (a question usually matches one sentence of the paragraph that answers it), each
        with all its sentences scored."""
        scored = self.score(question, query, hits)
        if self.sentence_weight:
            for item in scored:
                lexical = max((s.lexical for s in item.sentences), default=0.0)
                dense = max((s.dense for s in item.sentences), default=0.0)
                support = max((s.support for s in item.sentences), default=0.0)
                item.hit.scores.update(sentence_lexical=lexical, sentence_dense=dense, statement=support)
                item.hit.score += self.sentence_weight * (LEXICAL_SHARE * lexical + (1 - LEXICAL_SHARE) * dense)
                item.hit.score += STRUCTURE_WEIGHT * support
            scored.sort(key=lambda e: -e.hit.score)
        return scored[:k]

    def score(self, question: Question, query: str, hits: list[Hit]) -> list[Evidence]:
        """Return each hit with the scores of its sentences against `question` (matched as `query`)."""
        vector = self.query_vector(query)
        weights = self.query_weights(query)
        total = sum(weights.values()) or 1.0
        speaker = set(terms(question.speaker))
        rest = {t: w for t, w in weights.items() if t not in speaker}  # what the question asks of its speaker
        rest_total = sum(rest.values()) or 1.0
        out = []
        for hit, (notes, vectors) in zip(hits, self._sentences(hits)):
            cosines = vectors @ vector if len(notes) else np.zeros(0)
            sentences = []
            for note, cosine, present in zip(notes, cosines, _term_sets(hit, notes)):
                lexical = sum(w for t, w in weights.items() if matches(t, present)) / total
                scored = self._structure(question, hit, note, lexical, float(cosine))
                if speaker and scored.speaker >= 0.8:  # the speaker's name is in `speaker`; count it once
                    scored = replace(scored, lexical=sum(w for t, w in rest.items() if matches(t, present)) / rest_total)
                sentences.append(scored)
            around = _paragraph_terms(f"{hit.title} {hit.section} {hit.text}")  # headings give context too
            out.append(Evidence(hit, sentences, sum(w for t, w in weights.items() if matches(t, around)) / total))
        return out

    def _structure(self, question: Question, hit: Hit, note: SentenceNotes, lexical: float, dense: float) -> SentenceScore:
        text = hit.text[note.start:note.end]
        share, violation = constraint_check(question, note, hit)
        asks = question.asks_speaker or question.speaker
        statement, said, reverses = (said_match(question, note, hit.text, weight=self.idf, dense=dense)
                                     if asks else (None, 0.0, False))
        typed = type_match(question, note, text)
        speaker = speaker_match(question, note, hit.text) if question.speaker else 0.0
        focus = focus_fit(question, note)
        support = statement_support(question, statement=statement, said=said, speaker=speaker, focus=focus,
                                    constraints=share, typed_match=typed)
        return SentenceScore(
            start=note.start, end=note.end, lexical=lexical, dense=dense, notes=note, type_match=typed,
            constraints=share, violation=violation, speaker=speaker, statement=statement, said=said,
            focus=focus, support=support, reverses=reverses, names_only=dense < NAMES_ONLY_DENSE and names_only(question, text, weight=self.idf, notes=note),
        )

    def closest(self, question: Question, query: str, hits: list[Hit], *, count: int = 3) -> list[tuple[Hit, SentenceScore]]:
        """Return up to `count` sentences, one per hit, that share a content term with the query and
        match it best (lexical plus dense), best first: where a reader would look when none answers."""
        best = []
        for item in self.score(question, query, hits):
            sharing = [s for s in item.sentences if s.lexical > 0]
            if sharing:
                best.append((item.hit, max(sharing, key=_match)))
        return sorted(best, key=lambda pair: _match(pair[1]), reverse=True)[:count]

    def _sentences(self, hits: list[Hit]) -> list[tuple[list[SentenceNotes], np.ndarray]]:
        """Return each hit's sentence notes and embeddings: from this process's cache, the store, or
        parsed and embedded now. Entries are taken and stored under the lock."""
        keys = [h.key for h in hits]
        with self._lock:
            found = {k: self._cache[k] for k in keys if k in self._cache and self._cache[k][0] == _text_of(hits, k)}
        missing = [h for h in hits if h.key not in found]
        kept = (self.stored([h.key for h in missing], starts={h.key: h.sentence_starts for h in missing})
                if self.stored and missing else {})
        for hit in missing:
            rows = kept.get(hit.key)
            if rows and rows[-1][0].end <= len(hit.text):
                found[hit.key] = (hit.text, [n for n, _ in rows], np.asarray([v for _, v in rows]))
        todo = [h for h in hits if h.key not in found]
        for hit, notes, vectors in zip(todo, *self._annotate_and_embed(todo)):
            found[hit.key] = (hit.text, notes, vectors)
        with self._lock:
            for key in keys:
                self._cache[key] = found[key]
                self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return [(found[k][1], found[k][2]) for k in keys]

    def _annotate_and_embed(self, hits: list[Hit]) -> tuple[list[list[SentenceNotes]], list[np.ndarray]]:
        """Return notes and sentence vectors for paragraphs the store holds none for, embedded as ingest
        does: pooled from the pass over the titled paragraph when the embedder can, else one by one."""
        notes = self._annotate(hits)
        if hasattr(self.embedder, "embed_with_spans") and hits:
            heads = [f"{chunk_header(h.title)}\n" for h in hits]
            _, pooled = self.embedder.embed_with_spans(
                [head + h.text for head, h in zip(heads, hits)],
                [[(len(head) + n.start, len(head) + n.end) for n in own] for head, own in zip(heads, notes)])
            return notes, [np.asarray(v) if v else np.zeros((0, 1)) for v in pooled]
        texts = [h.text[n.start:n.end] for h, own in zip(hits, notes) for n in own]
        flat = np.asarray(self.embedder.get_text_embedding_batch(texts)) if texts else np.zeros((0, 1))
        out, offset = [], 0
        for own in notes:
            out.append(flat[offset:offset + len(own)])
            offset += len(own)
        return notes, out

    def _annotate(self, hits: list[Hit]) -> list[list[SentenceNotes]]:
        """Return notes for paragraphs the store holds none for, each read on its own (a pronoun
        whose name is in another paragraph stays unresolved)."""
        if not hits:
            return []
        if self.language is None:
            return [[SentenceNotes(0, len(h.text))] for h in hits]
        return [annotate_paragraphs([parse])[0] for parse in self.language.parse_many([h.text for h in hits])]


def _term_sets(hit: Hit, notes: list[SentenceNotes]) -> tuple[frozenset[str], ...]:
    """Return each sentence's terms (its words' stems and its lemmas'); a sentence leaning on the one
    before ("among those to do so") holds that one's words too."""
    return _sentence_terms(hit.text, tuple((n.start, n.end, n.lemmas, bool(n.leans)) for n in notes))


@lru_cache(maxsize=20000)
def _sentence_terms(text: str, spans: tuple[tuple[int, int, str, bool], ...]) -> tuple[frozenset[str], ...]:
    own = [set(terms(text[a:b])) | set(terms(lemmas)) for a, b, lemmas, _ in spans]
    return tuple(frozenset(own[i] | (set(terms(text[spans[i - 1][0]:spans[i - 1][1]])) if leans and i else set()))
                 for i, (_, _, _, leans) in enumerate(spans))


@lru_cache(maxsize=20000)
def _paragraph_terms(text: str) -> frozenset[str]:
    return frozenset(terms(text))


def _text_of(hits: list[Hit], key: str) -> str:
    return next(h.text for h in hits if h.key == key)


def _match(sentence: SentenceScore) -> float:
    return sentence.lexical + sentence.dense


def matches(term: str, present: set[str]) -> bool:
    """Return True when the stemmed term, or a word sharing a 5+ letter prefix stem with it, is
    present: the stemmer leaves "latvia"/"latvian" and "react"/"reaction" apart."""
    if term in present:
        return True
    if len(term) < 5:
        return False
    return any(len(p) >= 5 and (p.startswith(term) or term.startswith(p)) for p in present)

