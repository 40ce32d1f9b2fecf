"""Sync a corpus into the store: embed added and changed articles, delete removed ones."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from llama_index.core.schema import MetadataMode

from qa.chunking import budget_for_window, chunk_article
from qa.errors import UnreadableFile
from qa.models import Article
from qa.sentences import paragraph_key, split_sentences
from qa.store import ArticleWrite, Sentence, Store, chunk_node

EMBED_GROUP = 512  # texts embedded per model call across articles


@dataclass
class IngestReport:
    """What one ingest did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[UnreadableFile] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """Return the one-line summary printed at the end of `qa ingest`."""
        line = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged ({self.chunks} chunks embedded) in {self.seconds:.1f}s"
        )
        skipped = len(self.problems)
        return line + (f"; {skipped} file{'s' if skipped != 1 else ''} skipped" if skipped else "")


def ingest_articles(
    articles: list[Article],
    *,
    store: Store,
    embedder,
    chunk_tokens: int = 0,
    prune: bool = True,
    keep: frozenset[str] = frozenset(),
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Return what was done after making the store hold exactly `articles` (or at least them, when
    `prune` is False); ids in `keep` (files that failed to read) are never pruned. `progress` is called with the number of articles finished."""
    started = time.perf_counter()
    report = IngestReport()
    stored = store.article_hashes()
    budget = chunk_tokens or budget_for_window(getattr(embedder, "window", 256))
    wanted = {a.id for a in articles}
    pending: list[tuple[Article, list, list, list[str]]] = []
    for article in articles:
        previous = stored.get(article.id)
        if previous == article.content_hash:
            report.unchanged.append(article.id)
            if progress:
                progress(1)
            continue
        chunks = chunk_article(article, max_tokens=budget)
        texts = [chunk_node(article, c).get_content(metadata_mode=MetadataMode.EMBED) for c in chunks]
        sentences = article_sentences(article)
        pending.append((article, chunks, sentences, [*texts, article.title, *(t for _, t in sentences)]))
        (report.updated if previous is not None else report.added).append(article.id)
        report.chunks += len(chunks)
        if sum(len(p[3]) for p in pending) >= EMBED_GROUP:
            _flush(pending, store=store, embedder=embedder, progress=progress)
    _flush(pending, store=store, embedder=embedder, progress=progress)
    if prune:
        for article_id in sorted(set(stored) - wanted - keep):
            store.delete_article(article_id)
            report.removed.append(article_id)
    report.seconds = time.perf_counter() - started
    return report


def article_sentences(article: Article) -> list[tuple[Sentence, str]]:
    """Return every sentence of the article's paragraphs, addressed as the store keeps them, with its text."""
    out = []
    for number, text in enumerate(article.paragraphs, start=1):
        key = paragraph_key(text)
        out.extend(((key, number, start, end), text[start:end]) for start, end in split_sentences(text))
    return out


def _flush(pending: list, *, store: Store, embedder, progress: Callable[[int], None] | None) -> None:
    """Embed the texts of the pending articles in one batch, then write them in one group."""
    if not pending:
        return
    vectors = embedder.get_text_embedding_batch([t for *_, texts in pending for t in texts])
    writes, offset = [], 0
    for article, chunks, sentences, texts in pending:
        own = vectors[offset:offset + len(texts)]
        offset += len(texts)
        writes.append(ArticleWrite(article, chunks, embeddings=own[:len(chunks)], title_embedding=own[len(chunks)],
                                   sentences=[s for s, _ in sentences], sentence_embeddings=own[len(chunks) + 1:]))
    store.put_articles(writes)
    if progress:
        progress(len(writes))
    pending.clear()
