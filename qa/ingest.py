"""Sync a corpus folder into the store: embed added and changed articles; remove only the articles
whose own file is gone from the folder they came from, or that the user names. With a shard (qa.shard),
one of several processes syncs only the files of the folder that hash to it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llama_index.core.schema import MetadataMode

from qa.chunking import budget_for_window, chunk_article
from qa.corpus import MAX_FILE_BYTES, article_id_for, load_corpus
from qa.errors import ArticleNotFound, CorpusError, UnreadableFile
from qa.annotate import NOTES_VERSION, annotate_paragraphs
from qa.lexsync import ensure_index
from qa.models import Article, Chunk, SentenceNotes
from qa.nlp import Language
from qa.shard import Shard
from qa.store import ArticleWrite, Store, StoredArticle, chunk_node

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
    reasons: dict[str, str] = field(default_factory=dict)  # removed id -> why

    def summary(self) -> str:
        """Return the summary printed at the end of `qa ingest`: one line of counts, then one line
        per removed article saying why it went."""
        line = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged ({self.chunks} chunks embedded) in {self.seconds:.1f}s"
        )
        skipped = len(self.problems)
        line += f"; {skipped} file{'s' if skipped != 1 else ''} skipped" if skipped else ""
        return "\n".join([line, *(f"removed {a}: {self.reasons.get(a, 'asked for')}" for a in self.removed)])


def ingest_corpus(root: Path, *, store: Store, embedder, language: Language, chunk_tokens: int = 0,
                  prune: bool = False, max_bytes: int = MAX_FILE_BYTES, progress: Callable[[int], None] | None = None,
                  skipped: Callable[[UnreadableFile], None] | None = None, shard: Shard | None = None) -> IngestReport:
    """Return what was done after storing the readable articles under `root` (a folder or one file).

    Nothing else is removed but the stored articles that came from this folder and whose file is gone
    from it; with `prune`, also every other stored article the folder does not hold, except those its
    unreadable files may hold. An article id already stored from another folder with other content,
    or an article stored under another id, is skipped with a reason rather than overwritten or doubled;
    `skipped` hears of each file skipped before anything is embedded.

    With `shard`, only the files of the folder that shard holds are stored, and only the articles whose
    file it holds can go: the other shards' files are neither stored nor gone, whichever process runs
    first. The whole folder is still read, so which of two files holding the same article is stored,
    and which is skipped, does not depend on the shards. `prune` is refused with a shard."""
    started = time.perf_counter()
    root = Path(root)
    check_shard(shard, prune=prune)
    articles, problems = load_corpus(root, max_bytes=max_bytes)
    if shard is not None:
        articles = [a for a in articles if shard.holds(a.source)]
        problems = [p for p in problems if shard.holds(p.path)]
    folder = (root if root.is_dir() else root.parent).resolve()
    stored = store.article_records()
    gone = {a: f"its file {r.source} is gone from {folder}" for a, r in stored.items()
            if r.root == str(folder) and r.source and not (folder / r.source).exists()
            and (shard is None or shard.holds(r.source))}
    articles, clashes = _clear_of_clashes(articles, stored, folder=folder, leaving=set(gone))
    problems = problems + clashes
    for problem in problems if skipped else ():
        skipped(problem)
    if prune:
        if not articles and problems:
            raise CorpusError(f"no file under {root} could be read, so --prune removed nothing "
                              "(it would have emptied the store)")
        held = {a.id for a in articles} | {article_id_for(Path(p.path)) for p in problems}
        gone |= {a: f"not in {folder} (--prune)" for a in stored if a not in held and a not in gone}
    report = ingest_articles(articles, store=store, embedder=embedder, language=language, chunk_tokens=chunk_tokens,
                             root=str(folder), stored=stored, progress=progress)
    for article_id in sorted(set(gone) - {a.id for a in articles}):
        store.delete_article(article_id)
        report.removed.append(article_id)
        report.reasons[article_id] = gone[article_id]
    report.problems = problems
    report.seconds = time.perf_counter() - started
    return report


def check_shard(shard: Shard | None, *, prune: bool) -> Shard | None:
    """Return `shard` when ingest can take it; raise CorpusError for a shard with `prune`, which removes
    what the whole folder does not hold."""
    if shard is not None and prune:
        raise CorpusError("--prune removes what the whole folder does not hold, so it cannot run with --shard; "
                          "run it on its own once every shard is done")
    return shard


def _clear_of_clashes(articles: list[Article], stored: dict[str, StoredArticle], *, folder: Path,
                      leaving: set[str]) -> tuple[list[Article], list[UnreadableFile]]:
    """Return the articles that may be written, and a reason for each that may not: its id is stored
    from another folder with other content, or its content is stored under another id."""
    by_hash = {r.hash: a for a, r in stored.items() if r.hash and a not in leaving}
    kept, refused = [], []
    for article in articles:
        record = stored.get(article.id)
        twin = by_hash.get(article.content_hash)
        if record and record.root and record.root != str(folder) and record.hash != article.content_hash:
            refused.append(UnreadableFile(article.source, (
                f"article id {article.id!r} is already stored from {Path(record.root) / record.source}; "
                f"`qa remove {article.id}` first to replace it")))
        elif twin is not None and twin != article.id:
            where = Path(stored[twin].root) / stored[twin].source if stored[twin].root else stored[twin].source
            refused.append(UnreadableFile(article.source, f"the same article is already stored as {twin!r} "
                                                          f"(from {where}); not stored twice"))
        else:
            kept.append(article)
    return kept, refused


def remove_articles(article_ids: list[str], *, store: Store) -> list[str]:
    """Return the ids removed after deleting exactly these articles; raise ArticleNotFound, removing
    nothing, when one of them is not stored."""
    stored = store.article_records()
    missing = [a for a in dict.fromkeys(article_ids) if a not in stored]
    if missing:
        raise ArticleNotFound(f"no article {', '.join(map(repr, missing))} in the store (see `qa status`); "
                              "nothing was removed")
    for article_id in dict.fromkeys(article_ids):
        store.delete_article(article_id)
    return list(dict.fromkeys(article_ids))


def ingest_articles(
    articles: list[Article],
    *,
    store: Store,
    embedder,
    language: Language,
    chunk_tokens: int = 0,
    root: str = "",
    stored: dict[str, StoredArticle] | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Return what was done after adding or replacing `articles` in the store; nothing is removed.
    Each new or changed article is parsed by `language` (its sentences and their notes) and embedded
    (chunks, title, sentences); an article whose notes came from another pipeline is redone. `root`
    is the folder they were read from, recorded with each; `progress` hears of each article finished."""
    started = time.perf_counter()
    report = IngestReport()
    if store.lexical is not None:
        ensure_index(store)  # built once from what the store holds, so each write below goes through to it
    stored = store.article_records() if stored is None else stored
    budget = chunk_tokens or budget_for_window(getattr(embedder, "window", 256))
    tag = notes_tag(language)
    pending: list[tuple[Article, list[Chunk], list[str]]] = []
    size = 0
    moved: list[Article] = []
    unrecorded: list[str] = []
    for article in articles:
        previous = stored.get(article.id)
        if previous is not None and previous.hash == article.content_hash and previous.nlp == tag:
            report.unchanged.append(article.id)
            if root and (previous.root, previous.source) != (root, article.source):
                moved.append(article)
            if not previous.starts:
                unrecorded.append(article.id)
            if progress:
                progress(1)
            continue
        chunks = chunk_article(article, max_tokens=budget)
        pending.append((article, chunks, [chunk_node(article, c).get_content(metadata_mode=MetadataMode.EMBED)
                                          for c in chunks]))
        (report.updated if previous is not None else report.added).append(article.id)
        report.chunks += len(chunks)
        size += len(chunks) + 1 + 3 * len(article.paragraphs)  # about three sentences a paragraph
        if size >= EMBED_GROUP:
            _flush(pending, store=store, embedder=embedder, language=language, root=root, progress=progress)
            size = 0
    _flush(pending, store=store, embedder=embedder, language=language, root=root, progress=progress)
    if moved:
        store.set_origin([a.id for a in moved], root=root, sources=[a.source for a in moved])
    if unrecorded:  # stored by an earlier version: their sentences' offsets, so answers read them by id
        store.record_sentence_starts(unrecorded)
    report.seconds = time.perf_counter() - started
    return report


def notes_tag(language: Language) -> str:
    """Return what stored notes are derived from: the language pipeline and the notes' own version."""
    return f"{language.tag} notes-{NOTES_VERSION}"


def article_notes(articles: list[Article], *, language: Language) -> list[list[tuple[int, SentenceNotes]]]:
    """Return, for each article, its sentences' notes with their paragraph numbers, in reading order
    (all paragraphs of all articles parsed in one batch)."""
    parses = language.parse_many([p for article in articles for p in article.paragraphs])
    out, offset = [], 0
    for article in articles:
        own = parses[offset:offset + len(article.paragraphs)]
        offset += len(article.paragraphs)
        out.append([(number, notes) for number, paragraph in enumerate(annotate_paragraphs(own), start=1)
                    for notes in paragraph])
    return out


def embed_articles(embedder, articles: list[tuple[Article, list[Chunk], list[str], list[tuple[int, SentenceNotes]]]]
                   ) -> list[tuple[list, list[float], list]]:
    """Return, per article, its chunks' vectors, its title's and its sentences'. With an embedder that
    pools spans from a text's own pass (qa.embedding), each chunk is embedded once and the sentences
    it holds whole are pooled from that pass; a sentence no chunk holds whole is embedded alone, and
    any other embedder embeds every sentence alone."""
    pooled = hasattr(embedder, "embed_with_spans")
    texts, spans, place, alone = [], [], [], []  # place: per sentence, (text index, span index) or None
    for article, chunks, chunk_texts, sentences in articles:
        first = len(texts)
        texts += [*chunk_texts, article.title]
        spans += [[] for _ in range(len(chunk_texts) + 1)]
        for number, note in sentences:
            holder = next((i for i, c in enumerate(chunks) if c.paragraph == number
                           and c.start <= note.start and note.end <= c.end), None) if pooled else None
            if holder is None:
                place.append(None)
                alone.append(article.paragraph(number)[note.start:note.end])
                continue
            chunk, lead = chunks[holder], len(chunk_texts[holder]) - len(chunks[holder].text)
            spans[first + holder].append((lead + note.start - chunk.start, lead + note.end - chunk.start))
            place.append((first + holder, len(spans[first + holder]) - 1))
    if pooled:
        text_vectors, span_vectors = embedder.embed_with_spans(texts, spans)
        lone = iter(embedder.get_text_embedding_batch(alone) if alone else [])
    else:
        everything = iter(embedder.get_text_embedding_batch([*texts, *alone]))
        text_vectors = [next(everything) for _ in texts]
        lone, span_vectors = everything, None
    out, offset, at = [], 0, 0
    for article, chunks, chunk_texts, sentences in articles:
        own = text_vectors[offset:offset + len(chunk_texts) + 1]
        offset += len(chunk_texts) + 1
        sentence_vectors = [next(lone) if p is None else span_vectors[p[0]][p[1]] for p in place[at:at + len(sentences)]]
        at += len(sentences)
        out.append((own[:-1], own[-1], sentence_vectors))
    return out


def _flush(pending: list, *, store: Store, embedder, language: Language, root: str,
           progress: Callable[[int], None] | None) -> None:
    """Parse and embed the pending articles in one batch each, then write them in one group."""
    if not pending:
        return
    notes = article_notes([article for article, *_ in pending], language=language)
    vectors = embed_articles(embedder, [(article, chunks, texts, sentences)
                                        for (article, chunks, texts), sentences in zip(pending, notes)])
    writes = [ArticleWrite(article, chunks, embeddings=chunk_vectors, title_embedding=title_vector,
                           sentences=sentences, sentence_embeddings=sentence_vectors, root=root,
                           nlp=notes_tag(language))
              for (article, chunks, _), sentences, (chunk_vectors, title_vector, sentence_vectors)
              in zip(pending, notes, vectors)]
    store.put_articles(writes)
    if progress:
        progress(len(writes))
    pending.clear()
