"""Sentence-level evidence: how well each sentence of a paragraph matches a query, lexically
(IDF-weighted share of the query's terms) and densely (cosine of embeddings). Shared by the
reranker and the extractive answerer; sentence embeddings are cached per paragraph."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qa.models import Hit
from qa.sentences import paragraph_key, split_sentences
from qa.terms import stem, terms


FRAMING = frozenset(stem(w) for w in (
    "describe", "described", "name", "role", "kind", "type", "sort", "think", "view", "explain", "mention",
    "happen", "mean", "actually", "exactly", "specifically", "organization", "detail", "position", "stance",
))
FRAMING_WEIGHT = 0.3


@dataclass(frozen=True)
class SentenceScore:
    """One sentence of a hit and how well it matches the query."""

    start: int
    end: int
    lexical: float  # IDF-weighted share of the query terms the sentence holds
    dense: float  # cosine between query and sentence embeddings


class EvidenceScorer:
    """Scores the sentences of retrieved paragraphs against a query."""

    def __init__(self, embedder, idf: Callable[[str], float], *, cache_size: int = 20000,
                 stored: Callable[[list[str]], dict] | None = None) -> None:
        self.embedder = embedder
        self.idf = idf
        self.stored = stored  # paragraph keys -> {key: (spans, vectors)} kept by ingest, if any
        self._cache: OrderedDict[str, tuple] = OrderedDict()
        self._cache_size = cache_size
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # the API answers in worker threads; caches are shared

    def query_vector(self, query: str) -> np.ndarray:
        """Return the query's embedding (cached: retrieval and answering embed the same query)."""
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

    def score(self, query_vector: np.ndarray, weights: dict[str, float], hits: list[Hit]) -> list[list[SentenceScore]]:
        """Return, for each hit, the scores of its sentences."""
        total = sum(weights.values()) or 1.0
        out = []
        for hit, (spans, vectors, term_sets) in zip(hits, self._sentences(hits)):
            cosines = vectors @ query_vector
            out.append([
                SentenceScore(start, end, sum(w for t, w in weights.items() if matches(t, present)) / total,
                              float(cosine))
                for (start, end), cosine, present in zip(spans, cosines, term_sets)
            ])
        return out

    def closest(self, query: str, hits: list[Hit], *, count: int = 3) -> list[tuple[Hit, SentenceScore]]:
        """Return up to `count` sentences, one per hit, that share a content term with the query and
        match it best (lexical plus dense), best first: where a reader would look when none answers."""
        weights = self.query_weights(query)
        best = []
        for hit, sentences in zip(hits, self.score(self.query_vector(query), weights, hits)):
            sharing = [s for s in sentences if s.lexical > 0]
            if sharing:
                best.append((hit, max(sharing, key=_match)))
        return sorted(best, key=lambda pair: _match(pair[1]), reverse=True)[:count]

    def _sentences(self, hits: list[Hit]) -> list[tuple[list[tuple[int, int]], np.ndarray, list[set[str]]]]:
        """Return each hit's sentence spans, embeddings and term sets, computing what is not cached.
        Entries are taken and stored under the lock, so another thread's eviction cannot bite."""
        keys = [paragraph_key(h.text) for h in hits]
        with self._lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
        missing = [(k, h) for k, h in zip(keys, hits) if k not in found]
        kept = self.stored([k for k, _ in missing]) if self.stored and missing else {}
        for key, hit in missing:
            if key in kept:
                spans, vectors = kept[key]
                found[key] = (spans, np.asarray(vectors), [set(terms(hit.text[a:b])) for a, b in spans])
        todo = [(k, h, split_sentences(h.text)) for k, h in zip(keys, hits) if k not in found]
        texts = [h.text[a:b] for _, h, spans in todo for a, b in spans]
        vectors = np.asarray(self.embedder.get_text_embedding_batch(texts)) if texts else np.zeros((0, 1))
        offset = 0
        for key, hit, spans in todo:
            found[key] = (spans, vectors[offset:offset + len(spans)], [set(terms(hit.text[a:b])) for a, b in spans])
            offset += len(spans)
        with self._lock:
            for key in keys:
                self._cache[key] = found[key]
                self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return [found[k] for k in keys]


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
