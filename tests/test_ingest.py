"""Ingest and retrieval against both stores: an embedded PersistentClient and a real `chroma run` server."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_language

from qa.answer import answer_question, build_pipeline
from qa.config import Settings
from qa.errors import ArticleNotFound, ConfigError, CorpusError, NotIngested, NothingMatches
from qa.evidence import EvidenceScorer
from qa.ingest import IngestReport, article_notes, ingest_corpus, remove_articles
from qa.question import read_question
from qa.retrieve import Filters, build_retriever
from qa.store import Store, open_store

SEED_IDS = ["macron-troops-remark-irks-us", "us-angry-with-macron"]
SEED_COUNTS = {"articles": 2, "paragraphs": 25, "chunks": 25, "sentences": 40}
QUESTION = "Who is the State Department spokesman who responded to Bloomberg's report?"


class CountingEmbedder:
    """Wraps the embedder ingest is given (the model or its memo) and records every text it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls = 0
        self.texts: list[str] = []

    @property
    def window(self) -> int:
        return self.inner.window

    def get_query_embedding(self, query: str) -> list[float]:
        return self.inner.get_query_embedding(query)

    def embed_with_spans(self, texts: list[str], spans_per_text: list) -> tuple[list, list]:
        self.calls += 1
        self.texts.extend(texts)
        self.spans = getattr(self, "spans", 0) + sum(len(s) for s in spans_per_text)
        return self.inner.embed_with_spans(texts, spans_per_text)

    def get_text_embedding_batch(self, texts: list[str], **kwargs) -> list[list[float]]:
        self.calls += 1
        self.texts.extend(texts)
        return self.inner.get_text_embedding_batch(texts, **kwargs)


def sentence_texts(article) -> list[str]:
    """Return the article's sentences as ingest stores them (split by the language pipeline)."""
    return [article.paragraph(n)[s.start:s.end] for n, s in article_notes([article], language=shared_language())[0]]


@pytest.fixture(params=["embedded", "server"])
def settings(request: pytest.FixtureRequest, settings_factory) -> Settings:
    """Return settings for an empty store of each kind."""
    return settings_factory(request.param)


@pytest.fixture
def corpus(tmp_path: Path, seed_corpus: Path) -> Path:
    """Return a copy of the seed corpus that a test may edit."""
    return Path(shutil.copytree(seed_corpus, tmp_path / "corpus"))


@pytest.fixture(params=["embedded", "server"])
def seeded(request: pytest.FixtureRequest):
    """Return the seed corpus ingested once per session into each kind of store (read-only)."""
    return request.getfixturevalue("ingested" if request.param == "embedded" else "ingested_server")


def ingest(corpus: Path, store: Store, embedder, *, prune: bool = False) -> IngestReport:
    """Return the report of ingesting `corpus` the way `qa ingest` does."""
    return ingest_corpus(corpus, store=store, embedder=embedder, language=shared_language(), prune=prune)


def test_first_ingest_adds_both_seed_articles_and_embeds_every_chunk(settings: Settings, seed_corpus: Path,
                                                                      embedder) -> None:
    store = open_store(settings)
    counting = CountingEmbedder(embedder)

    report = ingest(seed_corpus, store, counting)

    assert (report.added, report.updated, report.removed, report.unchanged) == (SEED_IDS, [], [], [])
    assert report.chunks == 25
    assert len(counting.texts) == 25 + 2  # every chunk and each article's title, once
    assert counting.spans == 40  # every sentence pooled from its chunk's pass
    assert store.counts() == SEED_COUNTS
    assert open_store(settings).counts() == SEED_COUNTS  # a new client sees what was written


def test_reingest_unchanged_corpus_embeds_nothing(settings: Settings, seed_corpus: Path, memo_embedder) -> None:
    store = open_store(settings)
    ingest(seed_corpus, store, memo_embedder)
    counting = CountingEmbedder(memo_embedder)

    report = ingest(seed_corpus, open_store(settings), counting)

    assert (report.added, report.updated, report.removed, report.unchanged) == ([], [], [], SEED_IDS)
    assert report.chunks == 0
    assert counting.calls == 0
    assert report.summary().startswith("0 added, 0 updated, 0 removed, 2 unchanged (0 chunks embedded) in ")
    assert store.counts() == SEED_COUNTS


def test_editing_one_article_reembeds_only_that_article(settings: Settings, corpus: Path, memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    edited = corpus / "us-angry-with-macron.txt"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n\nThe Kremlin declined to comment.\n", encoding="utf-8")
    counting = CountingEmbedder(memo_embedder)

    report = ingest(corpus, store, counting)

    assert (report.added, report.updated, report.removed, report.unchanged) == (
        [], ["us-angry-with-macron"], [], ["macron-troops-remark-irks-us"]
    )
    assert report.chunks == 8
    assert (len(counting.texts), counting.spans) == (8 + 1, 17)  # its chunks and title; its sentences pooled
    assert sum(text.startswith("US angry with Macron – Bloomberg\n") for text in counting.texts) == 8
    assert "US angry with Macron – Bloomberg\nThe Kremlin declined to comment." in counting.texts
    assert not {t.split("\n", 1)[-1] for t in counting.texts} & set(store.get_article(SEED_IDS[0]).paragraphs)
    assert store.counts() == {"articles": 2, "paragraphs": 26, "chunks": 26, "sentences": 41}
    assert store.get_article("us-angry-with-macron").paragraph(8) == "The Kremlin declined to comment."


def test_shortening_an_article_leaves_none_of_its_old_chunks_or_sentences(settings: Settings, corpus: Path,
                                                                          memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    edited = corpus / "us-angry-with-macron.txt"
    title, *paragraphs = edited.read_text(encoding="utf-8").split("\n\n")
    edited.write_text("\n\n".join([title, paragraphs[0]]) + "\n", encoding="utf-8")

    report = ingest(corpus, store, memo_embedder)

    assert report.updated == ["us-angry-with-macron"]
    shortened = store.get_article("us-angry-with-macron")
    assert len(shortened.paragraphs) == 1
    untouched = len(sentence_texts(store.get_article("macron-troops-remark-irks-us")))
    assert store.counts() == {"articles": 2, "paragraphs": 19, "chunks": 19,
                              "sentences": untouched + len(sentence_texts(shortened))}
    assert {n.metadata["paragraph"] for n in store.iter_nodes() if n.metadata["article_id"] == "us-angry-with-macron"} == {1}


def test_removing_a_file_deletes_its_article_and_chunks(settings: Settings, corpus: Path, memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    (corpus / "us-angry-with-macron.txt").unlink()

    report = ingest(corpus, store, memo_embedder)

    assert (report.added, report.updated, report.removed, report.unchanged) == (
        [], [], ["us-angry-with-macron"], ["macron-troops-remark-irks-us"]
    )
    assert store.counts() == {"articles": 1, "paragraphs": 18, "chunks": 18, "sentences": 24}
    assert {node.metadata["article_id"] for node in store.iter_nodes()} == {"macron-troops-remark-irks-us"}
    with pytest.raises(ArticleNotFound):
        store.get_article("us-angry-with-macron")


def write_article(folder: Path, name: str, title: str, text: str) -> Path:
    """Write a one-paragraph .txt article into `folder` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    return path


def test_ingesting_another_folder_keeps_every_article_stored_from_the_first(settings: Settings, corpus: Path,
                                                                           tmp_path: Path, memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    other = tmp_path / "other"
    write_article(other, "lisbon.txt", "Leaders meet in Lisbon", "The Lisbon summit ended on Tuesday with a deal on cod.")

    report = ingest(other, store, memo_embedder)

    assert (report.added, report.removed, report.unchanged) == (["lisbon"], [], [])
    assert report.summary().splitlines()[0].startswith("1 added, 0 updated, 0 removed, 0 unchanged")
    assert sorted(store.article_hashes()) == ["lisbon", *SEED_IDS]


def test_a_folder_of_only_unreadable_files_removes_nothing(settings: Settings, corpus: Path, tmp_path: Path,
                                                           memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "photo.txt").write_bytes(b"\x89PNG\x00\x00")
    (junk / "empty.txt").write_text("", encoding="utf-8")

    report = ingest(junk, store, memo_embedder)

    assert (report.added, report.removed) == ([], [])
    assert [str(p) for p in report.problems] == ["empty.txt: empty file", "photo.txt: binary file, not text"]
    assert store.counts() == SEED_COUNTS


def test_prune_removes_what_the_folder_lacks_but_never_what_its_unreadable_files_may_hold(
        settings: Settings, corpus: Path, tmp_path: Path, memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    other = tmp_path / "other"
    write_article(other, "lisbon.txt", "Leaders meet in Lisbon", "The Lisbon summit ended on Tuesday with a deal on cod.")
    (other / "us-angry-with-macron.txt").write_bytes(b"US angry\n\nCaf\xe9.\n")  # unreadable: its article stays

    report = ingest(other, store, memo_embedder, prune=True)

    assert (report.added, report.removed) == (["lisbon"], ["macron-troops-remark-irks-us"])
    assert report.summary().splitlines()[1] == f"removed macron-troops-remark-irks-us: not in {other.resolve()} (--prune)"
    assert sorted(store.article_hashes()) == ["lisbon", "us-angry-with-macron"]


def test_prune_over_a_folder_with_nothing_readable_is_an_error_and_removes_nothing(
        settings: Settings, corpus: Path, tmp_path: Path, memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "empty.txt").write_text("", encoding="utf-8")

    with pytest.raises(CorpusError, match=r"could be read, so --prune removed nothing \(it would have emptied the store\)$"):
        ingest(junk, store, memo_embedder, prune=True)

    assert store.counts() == SEED_COUNTS


def test_renaming_a_file_replaces_its_article_under_the_new_id(settings: Settings, corpus: Path,
                                                               memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    (corpus / "us-angry-with-macron.txt").rename(corpus / "angry.txt")

    report = ingest(corpus, store, memo_embedder)

    assert (report.added, report.removed) == (["angry"], ["us-angry-with-macron"])
    assert report.reasons["us-angry-with-macron"] == f"its file us-angry-with-macron.txt is gone from {corpus.resolve()}"
    assert store.counts() == SEED_COUNTS


def test_an_id_stored_from_another_folder_is_not_overwritten(settings: Settings, corpus: Path, tmp_path: Path,
                                                             memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    stored = store.get_article("us-angry-with-macron")
    other = tmp_path / "other"
    write_article(other, "us-angry-with-macron.txt", "Another story", "A different text under the same name.")

    report = ingest(other, store, memo_embedder)

    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert [str(p) for p in report.problems] == [
        f"us-angry-with-macron.txt: article id 'us-angry-with-macron' is already stored from "
        f"{corpus.resolve() / 'us-angry-with-macron.txt'}; `qa remove us-angry-with-macron` first to replace it"]
    assert store.get_article("us-angry-with-macron") == stored


def test_the_same_article_in_another_folder_under_another_name_is_not_stored_twice(
        settings: Settings, corpus: Path, tmp_path: Path, memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    copy = tmp_path / "copies"
    copy.mkdir()
    shutil.copy(corpus / "us-angry-with-macron.txt", copy / "angry-copy.txt")

    report = ingest(copy, store, memo_embedder)

    assert report.added == []
    assert [str(p) for p in report.problems] == [
        f"angry-copy.txt: the same article is already stored as 'us-angry-with-macron' "
        f"(from {corpus.resolve() / 'us-angry-with-macron.txt'}); not stored twice"]
    assert store.counts() == SEED_COUNTS


def test_a_store_written_before_origins_were_recorded_keeps_its_articles_until_their_folder_says_otherwise(
        settings: Settings, corpus: Path, tmp_path: Path, memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    store._articles.update(ids=SEED_IDS, metadatas=[{"root": None}, {"root": None}])  # as an earlier version left it
    assert {r.root for r in store.article_records().values()} == {""}
    other = tmp_path / "other"
    write_article(other, "lisbon.txt", "Leaders meet in Lisbon", "The Lisbon summit ended on Tuesday with a deal on cod.")

    assert ingest(other, store, memo_embedder).removed == []  # an unknown origin is never taken as "gone"
    again = ingest(corpus, store, memo_embedder)  # unchanged articles: origin recorded, nothing embedded
    (corpus / "us-angry-with-macron.txt").unlink()
    last = ingest(corpus, store, memo_embedder)

    assert (again.unchanged, again.chunks) == (SEED_IDS, 0)
    assert {r.root for a, r in store.article_records().items() if a != "lisbon"} == {str(corpus.resolve())}
    assert last.removed == ["us-angry-with-macron"]
    assert sorted(store.article_hashes()) == ["lisbon", "macron-troops-remark-irks-us"]


def test_remove_deletes_exactly_the_named_articles_and_an_unknown_id_removes_nothing(
        settings: Settings, corpus: Path, memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)

    with pytest.raises(ArticleNotFound, match=r"^no article 'nope' in the store \(see `qa status`\); nothing was removed$"):
        remove_articles(["us-angry-with-macron", "nope"], store=store)
    assert store.counts() == SEED_COUNTS
    assert remove_articles(["us-angry-with-macron"], store=store) == ["us-angry-with-macron"]
    assert sorted(store.article_hashes()) == ["macron-troops-remark-irks-us"]


def test_unreadable_file_is_reported_and_keeps_the_stored_version_of_its_article(settings: Settings,
                                                                                 corpus: Path, memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    stored = store.get_article("us-angry-with-macron")
    (corpus / "us-angry-with-macron.txt").write_bytes(b"US angry with Macron\n\nCaf\xe9 talk.\n")  # latin-1

    report = ingest(corpus, store, memo_embedder)

    assert [str(p) for p in report.problems] == ["us-angry-with-macron.txt: not UTF-8 text (byte 25)"]
    assert (report.added, report.updated, report.removed, report.unchanged) == (
        [], [], [], ["macron-troops-remark-irks-us"]
    )
    assert report.summary().endswith("; 1 file skipped")
    assert store.counts() == SEED_COUNTS
    assert store.get_article("us-angry-with-macron") == stored


def test_collection_built_with_one_embed_model_refuses_to_open_under_another(settings: Settings,
                                                                               seed_corpus: Path,
                                                                               memo_embedder) -> None:
    ingest(seed_corpus, open_store(settings), memo_embedder)
    other = settings.model_copy(update={"embed_model": "paraphrase-MiniLM-L3-v2"})

    with pytest.raises(ConfigError) as raised:
        open_store(other)

    assert str(raised.value) == (
        f"collection {settings.collection!r} was embedded with 'all-MiniLM-L6-v2', not 'paraphrase-MiniLM-L3-v2'; "
        "set QA_COLLECTION to a new name or QA_EMBED_MODEL back"
    )


def test_article_filter_returns_only_that_article(seeded) -> None:
    unfiltered = seeded.retriever.retrieve_hits("Macron troops Ukraine", k=10)
    hits = seeded.retriever.retrieve_hits("Macron troops Ukraine", k=10, filters=Filters(articles=("us-angry-with-macron",)))

    assert "macron-troops-remark-irks-us" in {h.article_id for h in unfiltered}
    assert len(hits) == 7  # every paragraph of the article, and nothing else
    assert {h.article_id for h in hits} == {"us-angry-with-macron"}


def test_date_from_filter_returns_only_articles_dated_on_or_after_it(seeded) -> None:
    unfiltered = seeded.retriever.retrieve_hits("Macron troops Ukraine", k=10)
    hits = seeded.retriever.retrieve_hits("Macron troops Ukraine", k=10, filters=Filters(date_from="2024-03-27"))
    later = seeded.retriever.retrieve_hits("Macron troops Ukraine", k=10, filters=Filters(date_from="2024-03-28"))

    assert "macron-troops-remark-irks-us" in {h.article_id for h in unfiltered}  # undated
    assert len(hits) == 7
    assert {(h.article_id, h.date) for h in hits} == {("us-angry-with-macron", "2024-03-27")}
    assert later == []


def test_seed_question_is_answered_from_paragraph_6_with_its_citation(seeded) -> None:
    answer = answer_question(QUESTION, pipeline=seeded.pipeline)

    assert answer.answerable is True
    assert "Matthew Miller" in answer.answer
    first = answer.citations[0]
    assert (first.article_id, first.paragraph) == ("macron-troops-remark-irks-us", 6)
    assert first.text == seeded.store.get_article("macron-troops-remark-irks-us").paragraph(6)
    assert first.quote in first.text
    assert first.text[first.start:first.end] == first.quote


def test_answering_ranks_sentences_with_the_vectors_and_notes_ingest_stored(seeded, embedder, language) -> None:
    hits = seeded.retriever.retrieve_hits(QUESTION, k=5)
    question = read_question(language.parse(QUESTION))
    from_store, from_model = CountingEmbedder(embedder), CountingEmbedder(embedder)

    stored = EvidenceScorer(from_store, seeded.retriever.idf, stored=seeded.store.get_sentences,
                            language=language).score(question, QUESTION, hits)
    computed = EvidenceScorer(from_model, seeded.retriever.idf, language=language).score(question, QUESTION, hits)

    assert from_store.texts == []  # nothing embedded at question time
    assert len(from_model.texts) == len(hits) and from_model.spans == sum(len(e.sentences) for e in computed) > 0
    assert [[(s.start, s.end) for s in e.sentences] for e in stored] == [[(s.start, s.end) for s in e.sentences]
                                                                         for e in computed]
    assert np.allclose([s.dense for e in stored for s in e.sentences], [s.dense for e in computed for s in e.sentences],
                       atol=1e-4)
    miller = next(s for e in stored for s in e.sentences if "Matthew Miller responded" in e.hit.text[s.start:s.end])
    assert [(st.verb, st.name) for st in miller.notes.statements] == [("respond", "Matthew Miller"), ("say", "Matthew Miller")]


class SentenceReads:
    """Records how each read of a store's sentences collection asked for its rows: by id or by filter."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        collection = store._sentences
        original = collection.get

        def get(*args, **kwargs):
            self.calls.append("ids" if kwargs.get("ids") else "where" if kwargs.get("where") else "other")
            return original(*args, **kwargs)

        monkeypatch.setattr(collection, "get", get)


def test_answers_read_a_paragraphs_stored_sentences_by_id(seeded, monkeypatch) -> None:
    hits = seeded.retriever.retrieve_hits(QUESTION, k=5)
    by_filter = seeded.store.get_sentences([h.key for h in hits])
    reads = SentenceReads(seeded.store, monkeypatch)

    by_id = seeded.store.get_sentences([h.key for h in hits], starts={h.key: h.sentence_starts for h in hits})

    assert reads.calls == ["ids"]
    assert all(h.sentence_starts == tuple(n.start for n, _ in by_filter[h.key]) for h in hits)
    assert {k: [(n, list(v)) for n, v in rows] for k, rows in by_id.items()} == {
        k: [(n, list(v)) for n, v in rows] for k, rows in by_filter.items()}


def test_a_store_written_before_sentence_offsets_were_kept_answers_alike_and_gets_them_at_the_next_ingest(
        settings: Settings, corpus: Path, embedder, monkeypatch) -> None:
    store = open_store(settings)
    ingest(corpus, store, embedder)
    records = store._articles.get(include=["metadatas", "documents", "embeddings"])
    recorded = {rid: meta["starts"] for rid, meta in zip(records["ids"], records["metadatas"])}
    store._articles.delete(ids=records["ids"])  # as an earlier version wrote them (an upsert merges metadata)
    store._articles.add(ids=records["ids"], embeddings=records["embeddings"], documents=records["documents"],
                        metadatas=[{k: v for k, v in meta.items() if k != "starts"} for meta in records["metadatas"]])
    assert not any(r.starts for r in store.article_records().values())
    retriever = build_retriever(settings, store=store, embedder=embedder)
    pipeline = build_pipeline(settings, retriever=retriever, language=shared_language())
    reads = SentenceReads(store, monkeypatch)

    answer = answer_question(QUESTION, pipeline=pipeline)

    assert "Matthew Miller" in answer.answer and set(reads.calls) == {"where"}
    report = ingest(corpus, store, embedder)
    assert report.chunks == 0 and len(report.unchanged) == 2  # nothing embedded again
    again = store._articles.get(include=["metadatas"])
    assert {rid: meta["starts"] for rid, meta in zip(again["ids"], again["metadatas"])} == recorded
    reads.calls.clear()
    fresh = build_retriever(settings, store=open_store(settings), embedder=embedder)
    pipeline = build_pipeline(settings, retriever=fresh, language=shared_language())
    reads = SentenceReads(pipeline.retriever.store, monkeypatch)
    assert answer_question(QUESTION, pipeline=pipeline).answer == answer.answer
    assert set(reads.calls) == {"ids"}


def test_a_paragraph_without_stored_sentences_is_parsed_and_embedded_when_asked(seeded, embedder, language) -> None:
    hits = seeded.retriever.retrieve_hits(QUESTION, k=2)
    counting = CountingEmbedder(embedder)
    scorer = EvidenceScorer(counting, seeded.retriever.idf, stored=lambda keys, **_: {}, language=language)

    scored = scorer.score(read_question(language.parse(QUESTION)), QUESTION, hits)

    assert len(counting.texts) == 2 and counting.spans == sum(len(e.sentences) for e in scored) > 0
    assert all(s.notes.end > s.notes.start for e in scored for s in e.sentences)


def test_a_store_written_without_language_notes_is_refused_until_the_next_ingest_adds_them(
        settings: Settings, corpus: Path, embedder, memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    store._articles.update(ids=SEED_IDS, metadatas=[{"nlp": None}, {"nlp": None}])  # as an earlier version left it
    store.lexical.path.unlink()  # which kept no lexical index
    store = open_store(settings)

    with pytest.raises(NotIngested, match=r"without language notes: run `qa ingest` again to add them$"):
        build_retriever(settings, store=store, embedder=embedder)
    report = ingest(corpus, store, memo_embedder)

    assert report.updated == SEED_IDS
    assert build_retriever(settings, store=store, embedder=embedder).size == 25


def test_an_article_stored_without_sentence_vectors_is_redone_by_the_next_ingest(settings: Settings, corpus: Path,
                                                                                  memo_embedder) -> None:
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    store._articles.update(ids=["us-angry-with-macron"], metadatas=[{"sentences": None}])  # as an older version left it
    store._sentences.delete(where={"article_id": "us-angry-with-macron"})

    report = ingest(corpus, store, memo_embedder)

    assert (report.updated, report.unchanged) == (["us-angry-with-macron"], ["macron-troops-remark-irks-us"])
    assert store.counts() == SEED_COUNTS


def test_filter_naming_an_article_the_store_lacks_is_a_clear_error(seeded) -> None:
    with pytest.raises(NothingMatches, match=r"^no article 'us-angry-with-macorn' in the store"):
        answer_question(QUESTION, pipeline=seeded.pipeline,
                        filters=Filters(articles=("us-angry-with-macron", "us-angry-with-macorn")))
    with pytest.raises(NothingMatches, match=r"^no article from outlet 'Bloomberg'; no article in the store names its outlet"):
        answer_question(QUESTION, pipeline=seeded.pipeline, filters=Filters(outlet="Bloomberg"))


@pytest.mark.parametrize(("since", "until", "message"), [
    ("2025-01-01", "", "no article in the store is dated on or after 2025-01-01; its dated articles are all from "
                       "2024-03-27; 1 article without a date is left out by a date filter"),
    ("", "2024-03-26", "no article in the store is dated on or before 2024-03-26; its dated articles are all from "
                       "2024-03-27; 1 article without a date is left out by a date filter"),
    ("2024-04-01", "2024-03-01", "the date range is empty: 2024-04-01 is after 2024-03-01"),
])
def test_date_range_holding_no_stored_article_is_a_clear_error(seeded, since: str, until: str, message: str) -> None:
    with pytest.raises(NothingMatches, match=f"^{re.escape(message)}$"):
        answer_question(QUESTION, pipeline=seeded.pipeline,
                        filters=Filters(date_from=since, date_to=until))


def test_date_range_holding_a_stored_article_searches_only_it(seeded) -> None:
    answer = answer_question("Who is angry with Macron?", pipeline=seeded.pipeline,
                             filters=Filters(date_from="2024-03-27", date_to="2024-03-27"))

    assert answer.retrieved and {key.split(":")[0] for key in answer.retrieved} == {"us-angry-with-macron"}


def test_outlet_filter_matches_the_stored_spelling_whatever_the_case(tmp_path: Path, settings_factory, embedder,
                                                                      memo_embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, outlet, text in (("wire", "Baltic Wire", "The port of Riga reopened on Monday after the storm."),
                               ("daily", "Nordic Daily", "The port of Tallinn stayed closed on Monday after the storm.")):
        (corpus / f"{name}.md").write_text(f"---\ntitle: Ports after the storm\noutlet: {outlet}\n---\n\n{text}\n",
                                           encoding="utf-8")
    settings = settings_factory("embedded")
    store = open_store(settings)
    ingest(corpus, store, memo_embedder)
    retriever = build_retriever(settings, store=store, embedder=embedder)
    pipeline = build_pipeline(settings, retriever=retriever, language=shared_language())

    answer = answer_question("Which port reopened on Monday?", pipeline=pipeline, filters=Filters(outlet="nordic daily"))
    assert answer.retrieved == ["daily:1"]  # as if asked for "Nordic Daily"
    assert retriever.resolve_filters(Filters(outlet=" BALTIC WIRE ")).outlet == "Baltic Wire"
    with pytest.raises(NothingMatches, match=r"^no article from outlet 'Baltic'; outlets in the store: Baltic Wire, Nordic Daily$"):
        retriever.resolve_filters(Filters(outlet="Baltic"))
