"""Hybrid retrieval, the first stage of answering: dense (LlamaIndex over Chroma) and BM25 (the
machine's persisted lexical index, qa.lexical, following the store through qa.lexsync), with both
scores computed for every candidate of either, fused, then collapsed to paragraphs. Their sentences
are scored by the next stage, qa.evidence."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np
from llama_index.core.vector_stores import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

from qa.config import Settings
from qa.errors import NotIngested, NothingMatches
from qa.lexical import Scope
from qa.lexsync import Follower
from qa.models import Article, Hit
from qa.store import Store
from qa.terms import terms


@dataclass(frozen=True)
class Filters:
    """Optional restrictions on what retrieval may return."""

    articles: tuple[str, ...] = ()
    outlet: str = ""
    date_from: str = ""  # ISO dates, inclusive
    date_to: str = ""

    def __bool__(self) -> bool:
        return bool(self.articles or self.outlet or self.date_from or self.date_to)

    def metadata_filters(self) -> MetadataFilters | None:
        """Return the LlamaIndex filters (turned into a Chroma `where` by the vector store)."""
        items: list[MetadataFilter] = []
        if self.articles:
            items.append(MetadataFilter(key="article_id", value=list(self.articles), operator=FilterOperator.IN))
        if self.outlet:
            items.append(MetadataFilter(key="outlet", value=self.outlet, operator=FilterOperator.EQ))
        if self.date_from:
            items.append(MetadataFilter(key="date_num", value=_num(self.date_from), operator=FilterOperator.GTE))
        if self.date_to:
            items.append(MetadataFilter(key="date_num", value=_num(self.date_to), operator=FilterOperator.LTE))
            if not self.date_from:  # undated articles are stored as 0 and must not pass "until"
                items.append(MetadataFilter(key="date_num", value=0, operator=FilterOperator.GT))
        return MetadataFilters(filters=items, condition=FilterCondition.AND) if items else None

    def scope(self) -> Scope:
        """Return the same restrictions for the lexical index."""
        return Scope(articles=self.articles, outlet=self.outlet, date_from=_num(self.date_from) if self.date_from else 0,
                     date_to=_num(self.date_to) if self.date_to else 0)


def _num(iso: str) -> int:
    return int(iso.replace("-", ""))


class Retriever:
    """Hybrid retriever over one store; build once, query many times."""

    def __init__(self, store: Store, embedder, *, candidates: int = 40, dense_weight: float = 0.4,
                 rerank_depth: int = 30) -> None:
        self.store = store
        self.rerank_depth = rerank_depth  # paragraphs handed on, for the next stage to re-rank
        self.embedder = embedder
        self.candidates = candidates
        self.dense_weight = dense_weight
        self._articles: OrderedDict[str, Article] = OrderedDict()
        self._articles_lock = threading.Lock()  # the API retrieves in worker threads
        self.follower = Follower(store)  # builds the lexical index when missing, then follows the store
        self.index = self.follower.index
        self._check()
        if self.follower.rebuilt and any(not record.nlp for record in store.article_records().values()):
            raise NotIngested("the store holds articles ingested by an earlier version, without language notes: "
                              "run `qa ingest` again to add them")

    def refresh(self) -> bool:
        """Catch up with the store's changes (another process's ingest included); return True when
        there were any. Paragraph texts of the changed articles are read again when next needed."""
        changed = self.follower.catch_up()
        self._check()
        with self._articles_lock:
            for article_id in changed:
                self._articles.pop(article_id, None)
        return bool(changed)

    def _check(self) -> None:
        """Raise NotIngested for an empty store. One written by an earlier version is looked for when
        the index is built from the store, as it is the first time this version opens a store."""
        if self.index.size == 0:
            raise NotIngested("the store is empty: run `qa ingest` first")

    def _check_dates(self, since: str, until: str) -> None:
        """Raise NothingMatches when no stored article is dated within [since, until]."""
        if since and until and since > until:
            raise NothingMatches(f"the date range is empty: {since} is after {until}")
        dated, undated = self.index.dates()
        if any((not since or d >= since) and (not until or d <= until) for d in dated):
            return
        span = (f"between {since} and {until}" if since and until
                else f"on or after {since}" if since else f"on or before {until}")
        left_out = (f"; {undated} article{'s' if undated != 1 else ''} without a date "
                    f"{'are' if undated != 1 else 'is'} left out by a date filter") if undated else ""
        if not dated:
            raise NothingMatches(f"no article in the store has a date, so none is dated {span}")
        held = (f"its dated articles are all from {dated[0]}" if dated[0] == dated[-1]
                else f"its dated articles run from {dated[0]} to {dated[-1]}")
        raise NothingMatches(f"no article in the store is dated {span}; {held}{left_out}")

    def idf(self, term: str) -> float:
        """Return the BM25 inverse document frequency of a stemmed term (highest when unseen)."""
        return self.index.idf(term)

    def stale(self) -> bool:
        """Return True when the store changed since this retriever last caught up (one count call)."""
        return self.follower.pending()

    @property
    def size(self) -> int:
        """Return the number of chunks indexed."""
        return self.index.size

    def resolve_filters(self, filters: Filters) -> Filters:
        """Return `filters` with the outlet spelled as stored (case aside), or raise NothingMatches for an
        article id, outlet or date range the store holds nothing of: a typo must not read as "not in
        the corpus"."""
        for article_id in filters.articles:
            if not self.index.holds_article(article_id):
                raise NothingMatches(f"no article {article_id!r} in the store (see `qa status` or `qa show`)")
        if filters.date_from or filters.date_to:
            self._check_dates(filters.date_from, filters.date_to)
        if not filters.outlet:
            return filters
        outlets = self.index.outlets()
        spelled = [o for o in outlets if o.casefold() == filters.outlet.strip().casefold()]
        if not spelled:
            listed = (f"outlets in the store: {', '.join(outlets[:20])}" if outlets
                      else "no article in the store names its outlet")
            raise NothingMatches(f"no article from outlet {filters.outlet!r}; {listed}")
        return replace(filters, outlet=spelled[0])

    def retrieve_hits(self, query: str, *, k: int | None = None, filters: Filters = Filters(),
                      vector: np.ndarray | None = None) -> list[Hit]:
        """Return the top `k` paragraphs (default: the re-rank depth) for `query`, best first, each with
        its fused score; `vector` is the query's embedding when the caller has it."""
        embedding = (self.embedder.get_query_embedding(query) if vector is None else vector)
        embedding = [float(x) for x in embedding]
        dense = self._dense_scores(query, embedding, filters)
        query_terms = terms(query)
        sparse = self.index.top(query_terms, k=self.candidates, scope=filters.scope())
        for node_id in sparse:
            dense.setdefault(node_id, None)
        missing = [node_id for node_id, score in dense.items() if score is None]
        if missing:
            for node_id, stored in self.store.get_embeddings(missing).items():
                dense[node_id] = float(np.dot(stored, embedding))
        dense = {node_id: score for node_id, score in dense.items() if score is not None}  # gone meanwhile
        sparse |= self.index.scores(query_terms, [i for i in dense if i not in sparse])
        fused = self._fuse(dense, {i: sparse.get(i, 0.0) for i in dense})
        return self._paragraph_hits(fused, k=k or self.rerank_depth)

    def _dense_scores(self, query: str, embedding: list[float], filters: Filters) -> dict[str, float | None]:
        # through the store, so a Chroma failure is a StoreUnavailable like every other store call
        return dict(self.store.query_dense(embedding, top_k=min(self.candidates, self.size),
                                           filters=filters.metadata_filters()))

    def _fuse(self, dense: dict[str, float], sparse: dict[str, float]) -> dict[str, tuple[float, float, float]]:
        top_sparse = max(sparse.values(), default=0.0) or 1.0
        values = list(dense.values())
        low, high = min(values, default=0.0), max(values, default=1.0)
        span = (high - low) or 1.0
        fused = {}
        for node_id in dense:
            d = (dense[node_id] - low) / span
            s = sparse[node_id] / top_sparse
            fused[node_id] = (self.dense_weight * d + (1 - self.dense_weight) * s, dense[node_id], sparse[node_id])
        return fused

    def _paragraph_hits(self, fused: dict[str, tuple[float, float, float]], *, k: int) -> list[Hit]:
        best: dict[tuple[str, int], tuple[float, float, float]] = {}
        places = self.index.locate(list(fused))
        for node_id, score in fused.items():
            key = places.get(node_id) or _address(node_id)
            if key not in best or score[0] > best[key][0]:
                best[key] = score
        ranked = sorted(best.items(), key=lambda item: -item[1][0])[:k]
        articles = self._load_articles([article_id for (article_id, _), _ in ranked])
        hits = []
        for (article_id, number), (score, dense, sparse) in ranked:
            article = articles.get(article_id)
            if article is None or not 1 <= number <= len(article.paragraphs):  # removed meanwhile
                continue
            hits.append(Hit(
                article_id=article_id, title=article.title, paragraph=number, text=article.paragraph(number),
                score=score, outlet=article.outlet, date=article.date, section=article.section(number),
                scores={"dense": dense, "bm25": sparse}, sentence_starts=_starts(article, number),
            ))
        return hits

    def fetch_hits(self, keys: list[str], *, score: float = 0.0) -> list[Hit]:
        """Return hits for explicit paragraph addresses (`article_id:n`) that exist, with `score`."""
        wanted = [(k.rsplit(":", 1)[0], int(k.rsplit(":", 1)[1])) for k in keys]
        articles = self.store.get_articles([a for a, _ in wanted])
        with self._articles_lock:
            for article_id, article in articles.items():
                self._articles[article_id] = article
        return [
            Hit(article_id=a, title=articles[a].title, paragraph=n, text=articles[a].paragraph(n), score=score,
                outlet=articles[a].outlet, date=articles[a].date, section=articles[a].section(n),
                sentence_starts=_starts(articles[a], n))
            for a, n in wanted if a in articles and 1 <= n <= len(articles[a].paragraphs)
        ]

    def _load_articles(self, article_ids: list[str]) -> dict[str, Article]:
        missing = [a for a in dict.fromkeys(article_ids) if a not in self._articles]
        fetched = self.store.get_articles(missing)
        with self._articles_lock:
            for article_id, article in fetched.items():
                self._articles[article_id] = article
                while len(self._articles) > 2048:
                    self._articles.popitem(last=False)
            # under the lock: another thread's insertions may evict what this one just added
            return {a: fetched.get(a) or self._articles[a] for a in article_ids if a in fetched or a in self._articles}


def _starts(article: Article, number: int) -> tuple[int, ...]:
    """Return where paragraph `number`'s stored sentences start, when the store recorded it."""
    return article.sentence_starts[number - 1] if number <= len(article.sentence_starts) else ()


def _address(chunk_id: str) -> tuple[str, int]:
    """Return (article id, paragraph) from a chunk id ("article:n" or "article:n#w"), for a chunk the
    dense side found that the lexical index has not taken in yet."""
    article_id, rest = chunk_id.rsplit(":", 1)
    return article_id, int(rest.split("#", 1)[0])


def build_retriever(settings: Settings, *, store: Store, embedder) -> Retriever:
    """Return the retriever with the weights the settings give."""
    return Retriever(store, embedder, candidates=settings.candidates, dense_weight=settings.dense_weight,
                     rerank_depth=settings.rerank_depth)
