"""Sentence-level evidence: how well each sentence of a paragraph matches a query, lexically
(IDF-weighted share of the query's terms) and densely (cosine of embeddings). Shared by the
reranker and the extractive answerer; sentence embeddings are cached per paragraph."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qa.models import Hit
from qa.sentences import split_sentences
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

    def __init__(self, embedder, idf: Callable[[str], float], *, cache_size: int = 20000) -> None:
        self.embedder = embedder
        self.idf = idf
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
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
        spans = [split_sentences(h.text) for h in hits]
        self._embed_missing(hits, spans)
        total = sum(weights.values()) or 1.0
        out = []
        for hit, hit_spans in zip(hits, spans):
            cosines = self._cache[_key(hit)] @ query_vector
            row = []
            for (start, end), cosine in zip(hit_spans, cosines):
                present = set(terms(hit.text[start:end]))
                lexical = sum(w for t, w in weights.items() if matches(t, present)) / total
                row.append(SentenceScore(start, end, lexical, float(cosine)))
            out.append(row)
        return out

    def _embed_missing(self, hits: list[Hit], spans: list[list[tuple[int, int]]]) -> None:
        todo = [(h, s) for h, s in zip(hits, spans) if _key(h) not in self._cache]
        texts = [h.text[a:b] for h, s in todo for a, b in s]
        vectors = np.asarray(self.embedder.get_text_embedding_batch(texts)) if texts else np.zeros((0, 1))
        offset = 0
        with self._lock:
            for hit, hit_spans in todo:
                self._cache[_key(hit)] = vectors[offset:offset + len(hit_spans)]
                offset += len(hit_spans)
            for hit in hits:
                self._cache.move_to_end(_key(hit))
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


def matches(term: str, present: set[str]) -> bool:
    """Return True when the stemmed term, or a word sharing a 5+ letter prefix stem with it, is
    present: the stemmer leaves "latvia"/"latvian" and "react"/"reaction" apart."""
    if term in present:
        return True
    if len(term) < 5:
        return False
    return any(len(p) >= 5 and (p.startswith(term) or term.startswith(p)) for p in present)


def _key(hit: Hit) -> str:
    return hashlib.blake2b(hit.text.encode("utf-8"), digest_size=12).hexdigest()
