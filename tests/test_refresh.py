"""A running server picks up articles that another process ingests into its store."""

from __future__ import annotations

from qa.answer import answer_question
from qa.api.runtime import Runtime, build_components
from qa.ingest import ingest_articles, ingest_corpus
from qa.models import Article
from qa.store import open_store

NEW = Article(id="lisbon-summit", title="Leaders meet in Lisbon",
              paragraphs=("The Lisbon summit on fisheries quotas ended on Tuesday with a deal on cod.",))


def test_server_pipeline_is_rebuilt_after_another_ingest_and_not_before(embedded_settings, embedder, language,
                                                                        memo_embedder, seed_corpus) -> None:
    ingest_corpus(seed_corpus, store=open_store(embedded_settings), embedder=memo_embedder, language=language)
    runtime = Runtime(embedded_settings, build_components(embedded_settings, embedder=embedder, language=language))
    assert runtime.refresh_if_stale() is False

    ingest_articles([NEW], store=open_store(embedded_settings), embedder=memo_embedder, language=language)

    assert runtime.refresh_if_stale() is True
    parts = runtime.components
    answer = answer_question("When did the Lisbon summit on fisheries quotas end?", pipeline=parts.pipeline)
    assert (answer.answerable, answer.citations[0].article_id) == (True, "lisbon-summit")
    assert runtime.refresh_if_stale() is False
