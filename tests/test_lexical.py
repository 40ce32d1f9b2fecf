"""The lexical index (qa.lexical, kept by qa.lexsync): persisted on disk and opened without reading the
store, changed article by article from the store's change log when another process writes, rebuilt
when its file is gone, and the same answers from several API processes over one Chroma server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import free_port, stop_process
from qa.ingest import ingest_articles, ingest_corpus
from qa.lexical import Scope
from qa.models import Article
from qa.retrieve import build_retriever
from qa.store import Store, open_store
from qa.terms import terms

NEW = Article(id="lisbon-summit", title="Leaders meet in Lisbon",
              paragraphs=("The Lisbon summit on fisheries quotas ended on Tuesday with a deal on cod.",))
QUESTION = "When did the Lisbon summit on fisheries quotas end?"
VISIBLE_WITHIN = 5.0  # seconds from another process's ingest to answers that use it
START_TIMEOUT = 180.0


class Reads:
    """Counts the store reads the lexical index is fed from: whole-store pages and per-article fetches."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = 0
        self.articles: list[list[str]] = []
        full, some = Store.iter_chunk_rows, Store.chunk_rows

        def iter_chunk_rows(store):
            self.full += 1
            yield from full(store)

        def chunk_rows(store, article_ids):
            self.articles.append(list(article_ids))
            return some(store, article_ids)

        monkeypatch.setattr(Store, "iter_chunk_rows", iter_chunk_rows)
        monkeypatch.setattr(Store, "chunk_rows", chunk_rows)


def seeded(settings, *, memo_embedder, language, seed_corpus) -> None:
    report = ingest_corpus(seed_corpus, store=open_store(settings), embedder=memo_embedder, language=language)
    assert report.problems == [] and report.added


def top_article(retriever, question: str) -> str:
    return retriever.retrieve_hits(question, k=1)[0].article_id


def test_a_second_process_opens_the_index_from_disk_without_reading_the_store(
        server_settings, embedder, memo_embedder, language, seed_corpus, monkeypatch) -> None:
    seeded(server_settings, memo_embedder=memo_embedder, language=language, seed_corpus=seed_corpus)
    first = build_retriever(server_settings, store=open_store(server_settings), embedder=embedder)
    reads = Reads(monkeypatch)

    second = build_retriever(server_settings, store=open_store(server_settings), embedder=embedder)

    assert (second.follower.rebuilt, reads.full, reads.articles) == (False, 0, [])
    assert second.size == first.size > 0
    assert second.index.path == first.index.path and second.index.path.is_file()
    assert top_article(second, "Who is the State Department spokesman?") == top_article(
        first, "Who is the State Department spokesman?")


def test_another_machines_ingest_is_seen_after_one_refresh_reading_only_that_article(
        settings_factory, embedder, memo_embedder, language, seed_corpus, monkeypatch, tmp_path) -> None:
    here = settings_factory("server")
    elsewhere = here.model_copy(update={"data_dir": tmp_path / "elsewhere"})  # its own lexical index file
    seeded(here, memo_embedder=memo_embedder, language=language, seed_corpus=seed_corpus)
    retriever = build_retriever(here, store=open_store(here), embedder=embedder)
    assert not retriever.stale() and retriever.refresh() is False
    writer = open_store(elsewhere)
    ingest_articles([NEW], store=writer, embedder=memo_embedder, language=language)  # builds its own index first
    assert writer.lexical.path != retriever.index.path
    reads = Reads(monkeypatch)

    started = time.perf_counter()
    assert retriever.stale()
    assert retriever.refresh() is True
    assert top_article(retriever, QUESTION) == NEW.id
    assert time.perf_counter() - started < VISIBLE_WITHIN
    assert (reads.full, reads.articles) == (0, [[NEW.id]])
    assert not retriever.stale() and retriever.refresh() is False


def test_a_removal_by_another_process_leaves_the_index(settings_factory, embedder, memo_embedder, language,
                                                        seed_corpus, tmp_path) -> None:
    here = settings_factory("server")
    elsewhere = here.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    seeded(here, memo_embedder=memo_embedder, language=language, seed_corpus=seed_corpus)
    ingest_articles([NEW], store=open_store(here), embedder=memo_embedder, language=language)
    retriever = build_retriever(here, store=open_store(here), embedder=embedder)
    before = retriever.size
    assert retriever.index.holds_article(NEW.id)

    open_store(elsewhere).delete_article(NEW.id)
    assert retriever.refresh() is True

    assert not retriever.index.holds_article(NEW.id)
    assert retriever.size == before - 1
    assert not [key for key in retriever.index.top(terms(QUESTION), k=10, scope=Scope()) if key.startswith(NEW.id)]
    assert NEW.id not in {h.article_id for h in retriever.retrieve_hits(QUESTION)}


def test_the_same_process_writing_keeps_its_index_current_without_a_refresh(
        embedded_settings, embedder, memo_embedder, language, seed_corpus) -> None:
    seeded(embedded_settings, memo_embedder=memo_embedder, language=language, seed_corpus=seed_corpus)
    store = open_store(embedded_settings)
    retriever = build_retriever(embedded_settings, store=store, embedder=embedder)

    ingest_articles([NEW], store=store, embedder=memo_embedder, language=language)

    assert top_article(retriever, QUESTION) == NEW.id  # written through; no refresh yet


def test_a_deleted_index_file_is_rebuilt_from_the_store(server_settings, embedder, memo_embedder, language,
                                                         seed_corpus, monkeypatch) -> None:
    seeded(server_settings, memo_embedder=memo_embedder, language=language, seed_corpus=seed_corpus)
    first = build_retriever(server_settings, store=open_store(server_settings), embedder=embedder)
    size, path = first.size, first.index.path
    for leftover in path.parent.glob(path.name + "*"):  # the file and its WAL
        leftover.unlink()
    reads = Reads(monkeypatch)

    again = build_retriever(server_settings, store=open_store(server_settings), embedder=embedder)

    assert (again.follower.rebuilt, reads.full, again.size) == (True, 1, size)
    assert path.is_file()
    assert top_article(again, "Who is the State Department spokesman?") == top_article(
        first, "Who is the State Department spokesman?")


def test_an_index_of_another_collection_is_rebuilt_not_followed(server_settings, embedder, memo_embedder,
                                                                 language, seed_corpus, chroma_server,
                                                                 tmp_path) -> None:
    seeded(server_settings, memo_embedder=memo_embedder, language=language, seed_corpus=seed_corpus)
    build_retriever(server_settings, store=open_store(server_settings), embedder=embedder)
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_server.rsplit(":", 1)[1]))
    for suffix in ("chunks", "articles", "sentences", "changes"):  # the collection made anew, under one name
        client.delete_collection(f"{server_settings.collection}_{suffix}")
    elsewhere = server_settings.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    ingest_articles([NEW], store=open_store(elsewhere), embedder=memo_embedder, language=language)

    retriever = build_retriever(server_settings, store=open_store(server_settings), embedder=embedder)

    assert retriever.follower.rebuilt is True
    assert retriever.size == 1 and retriever.index.holds_article(NEW.id)


# several API processes over one Chroma server ------------------------------------------------------
def qa_serve(settings, *, data_dir: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start `qa serve` (one worker) over the settings' server collection with its own data folder."""
    port = free_port()
    env = {**os.environ, "QA_CHROMA_URL": settings.chroma_url, "QA_COLLECTION": settings.collection,
           "QA_DATA_DIR": str(data_dir), "QA_REFRESH_SECONDS": "0.5",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")])}
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-c", "from qa.cli import main; main()", "serve", "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    return process, f"http://127.0.0.1:{port}"


def wait_ready(process: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`qa serve` exited with status {process.returncode}:\n{log_path.read_text()[-3000:]}",
                        pytrace=False)
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"`qa serve` not ready within {START_TIMEOUT:.0f}s:\n{log_path.read_text()[-3000:]}", pytrace=False)


@pytest.fixture
def two_servers(server_settings, memo_embedder, language, seed_corpus, tmp_path) -> Iterator[tuple[str, str]]:
    """Yield the URLs of two `qa serve` processes over one collection, on two data folders (two machines'
    lexical indexes) beside the test's own."""
    seeded(server_settings, memo_embedder=memo_embedder, language=language, seed_corpus=seed_corpus)
    started = [qa_serve(server_settings, data_dir=tmp_path / f"api-{n}", log_path=tmp_path / f"api-{n}.log")
               for n in (1, 2)]
    try:
        for n, (process, url) in enumerate(started, start=1):
            wait_ready(process, url, tmp_path / f"api-{n}.log")
        yield started[0][1], started[1][1]
    finally:
        for process, _ in started:
            stop_process(process, timeout=15)


def cited(url: str) -> list[str]:
    response = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=60)
    response.raise_for_status()
    return [c["article_id"] for c in response.json()["citations"]]


def lexical_view(url: str) -> tuple[int, int]:
    """Return what a server's lexical index says: its chunk count (/readyz) and the status of a question
    restricted to the new article (404 while the index does not hold it; dense search alone would
    find the article without the index)."""
    chunks = httpx.get(f"{url}/readyz", timeout=10).json()["chunks"]
    status = httpx.post(f"{url}/v1/ask", json={"question": QUESTION, "filters": {"articles": [NEW.id]}},
                        timeout=60).status_code
    return chunks, status


def wait_for(urls: tuple[str, ...], want) -> dict[str, float]:
    """Return, per server, the seconds until want(url) held, polling for VISIBLE_WITHIN seconds."""
    started, seen = time.monotonic(), {}
    while len(seen) < len(urls) and time.monotonic() - started < VISIBLE_WITHIN:
        for url in urls:
            if url not in seen and want(url):
                seen[url] = time.monotonic() - started
        time.sleep(0.1)
    return seen


def test_two_api_processes_answer_alike_after_another_process_ingests_and_removes(
        two_servers, server_settings, memo_embedder, language) -> None:
    urls = two_servers
    before = {url: lexical_view(url) for url in urls}
    assert [status for _, status in before.values()] == [404, 404]
    assert NEW.id not in cited(urls[0]) and NEW.id not in cited(urls[1])
    store = open_store(server_settings)

    ingest_articles([NEW], store=store, embedder=memo_embedder, language=language)
    seen = wait_for(urls, lambda url: lexical_view(url) == (before[url][0] + 1, 200) and cited(url)[:1] == [NEW.id])
    assert set(seen) == set(urls), f"indexed and cited within {VISIBLE_WITHIN}s: {seen}"
    assert cited(urls[0]) == cited(urls[1])

    store.delete_article(NEW.id)
    gone = wait_for(urls, lambda url: lexical_view(url) == before[url] and NEW.id not in cited(url))
    assert set(gone) == set(urls), f"removed within {VISIBLE_WITHIN}s: {gone}"
    assert cited(urls[0]) == cited(urls[1])


# scores -----------------------------------------------------------------------------------------------
def brute_bm25(docs: dict[str, list[str]], query: list[str]) -> dict[str, float]:
    """Return Lucene's BM25 (k1 1.5, b 0.75) of every document holding a query term, computed directly."""
    import math
    from collections import Counter

    n, avgdl = len(docs), sum(len(d) for d in docs.values()) / len(docs)
    df = Counter(t for d in docs.values() for t in set(d))
    out = {}
    for doc_id, words in docs.items():
        counts, norm = Counter(words), 1.5 * (1 - 0.75 + 0.75 * len(words) / avgdl)
        score = sum(math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) * counts[t] / (counts[t] + norm)
                    for t in query if counts[t])
        if score:
            out[doc_id] = score
    return out


def test_scores_are_lucene_bm25_and_follow_replacements(tmp_path) -> None:
    from qa.lexical import ChunkRow, LexicalIndex

    texts = {f"a{i // 3}:{i % 3 + 1}": f"report {i} on the harbour {'cod ' * (i % 4)}quotas and fishing fleets "
             f"{'in Lisbon' if i % 5 == 0 else 'at sea'} {'net ' * (i % 7)}" for i in range(30)}
    rows = [ChunkRow(chunk_id=cid, article_id=cid.split(":")[0], paragraph=int(cid.split(":")[1]), outlet="",
                     date="", date_num=0, text=text) for cid, text in texts.items()]
    index = LexicalIndex(tmp_path / "lexical.sqlite", source="test")
    index.reset(cursor=0)
    index.add(rows)
    index.mark_complete()
    query = terms("cod quotas in Lisbon")
    expected = brute_bm25({cid: terms(text) for cid, text in texts.items()}, query)

    got = index.top(query, k=5)
    best = sorted(expected.items(), key=lambda item: -item[1])[:5]
    assert got == pytest.approx(dict(best))
    assert list(got.values()) == sorted(got.values(), reverse=True)

    index.replace([], articles=["a0"], changes=[("c1", 1)])  # a0's three chunks removed
    del texts["a0:1"], texts["a0:2"], texts["a0:3"]
    expected = brute_bm25({cid: terms(text) for cid, text in texts.items()}, query)
    assert index.size == 27 and index.applied(["c1", "c2"]) == {"c1"}
    assert index.top(query, k=3) == pytest.approx(dict(sorted(expected.items(), key=lambda item: -item[1])[:3]))
