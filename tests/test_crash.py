"""What holds when ingest dies or runs twice at once: `qa`'s ingest_corpus in processes of their own over
the seed corpus, killed with SIGKILL before, during or after one of its store calls, then run again;
and ingests of the same and another folder at once into one Chroma server. Each ends with the store
a clean ingest writes: the same ids, documents, metadata and embeddings in every collection."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from conftest import MemoizedEmbedder, shared_language, unique_collection

from qa.config import Settings, get_settings
from qa.ingest import ingest_corpus
from qa.store import open_store

CHILD = Path(__file__).resolve().parent / "ingest_child.py"
GROUP = 1  # texts per embedding group in the child: several groups, so several write rounds to crash between
KILL_POINTS = 12
CHILD_TIMEOUT = 120
HARBOUR = ("Harbour authority reports record cargo volumes\n\nThe harbour authority in Rotterdam handled 14 million "
           "containers last year, a record according to its annual report.\n")
EXTRA = {  # small articles beside the seed corpus: each is written in its own round of store calls
    "rail-strike": "Rail workers strike over pay\n\nTrain drivers walked out on Monday after talks on pay failed.\n\n"
                   "The union said the strike would last two days.\n",
    "flood-warning": "Flood warning for the river valley\n\nForecasters warned of floods after three days of rain.\n",
    "museum-reopens": "Museum reopens after renovation\n\nThe city museum reopened on Saturday after two years of "
                      "work.\n\nVisitors queued from early morning.\n",
}


def dump(settings: Settings) -> dict:
    """Return every record of the store's three collections: {collection: {id: (document, metadata, embedding)}}."""
    chroma = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        port = int(settings.chroma_url.rsplit(":", 1)[1])
        client = chromadb.HttpClient(host="127.0.0.1", port=port, settings=chroma)
    else:
        client = chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=chroma)
    out = {}
    for kind in ("chunks", "articles", "sentences"):
        got = client.get_collection(f"{settings.collection}_{kind}").get(
            include=["documents", "metadatas", "embeddings"])
        out[kind] = {rid: (doc, meta, [round(float(x), 6) for x in vector]) for rid, doc, meta, vector
                     in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])}
    return out


def child_env(settings: Settings) -> dict[str, str]:
    """Return the environment that points a child's ingest at `settings`' store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(QA_DATA_DIR=str(settings.data_dir), QA_COLLECTION=settings.collection, ANONYMIZED_TELEMETRY="False")
    if settings.chroma_url:
        env["QA_CHROMA_URL"] = settings.chroma_url
    return env


def run_child(settings: Settings, corpus: Path, vectors: Path, *args: str) -> subprocess.CompletedProcess:
    """Return the finished child ingest (killed or not)."""
    return subprocess.run([sys.executable, str(CHILD), str(corpus), str(vectors), "--group", str(GROUP), *args],
                          env=child_env(settings), capture_output=True, text=True, timeout=CHILD_TIMEOUT)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, seed_corpus: Path) -> Path:
    """Return the seed corpus with three small articles beside it."""
    folder = Path(shutil.copytree(seed_corpus, tmp_path_factory.mktemp("crash") / "corpus"))
    for name, text in EXTRA.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, corpus: Path, memo_embedder: MemoizedEmbedder):
    """Return a clean ingest's dump of the corpus, and the file of the vectors it used."""
    settings = get_settings(data_dir=tmp_path_factory.mktemp("reference") / "data", collection="news")
    ingest_corpus(corpus, store=open_store(settings), embedder=memo_embedder, language=shared_language())
    return dump(settings), write_vectors(tmp_path_factory.mktemp("vectors") / "vectors.json", memo_embedder)


def write_vectors(path: Path, memo: MemoizedEmbedder) -> Path:
    """Return `path` after writing the model's window and every vector it gave so far, for the children."""
    path.write_text(json.dumps({"window": memo.window, "vectors": memo.known(), "pooled": memo.known_pooled()}),
                    encoding="utf-8")
    return path


def kill_points(total_calls: int) -> list[tuple[int, str]]:
    """Return KILL_POINTS (call, when) pairs spread over the ingest's store calls, cycling the moments."""
    calls = sorted({1 + round(i * (total_calls - 1) / (KILL_POINTS - 1)) for i in range(KILL_POINTS)})
    moments = ("before", "during", "after")
    return [(call, moments[i % 3]) for i, call in enumerate(calls)]


@pytest.mark.slow
def test_ingest_killed_at_a_dozen_points_reruns_to_an_identical_store(tmp_path: Path, corpus: Path, reference,
                                                                    memo_embedder: MemoizedEmbedder) -> None:
    expected, vectors = reference
    counted = run_child(get_settings(data_dir=tmp_path / "count" / "data", collection="news"), corpus, vectors)
    assert counted.returncode == 0, counted.stderr[-2000:]
    total = json.loads(counted.stdout)["calls"]
    points = kill_points(total)
    assert len(points) >= 10

    stores = {point: get_settings(data_dir=tmp_path / f"{point[1]}-{point[0]}" / "data", collection="news")
              for point in points}
    with ThreadPoolExecutor(max_workers=2) as pool:  # each child has its own store: two at a time, one a core
        killed = dict(zip(points, pool.map(lambda point: run_child(stores[point], corpus, vectors, "--kill-at",
                                                                   str(point[0]), "--when", point[1]), points)))
    assert {point: run.returncode for point, run in killed.items()} == {point: -signal.SIGKILL for point in points}
    outcomes = []
    for point, settings in stores.items():
        # the run after the crash
        ingest_corpus(corpus, store=open_store(settings), embedder=memo_embedder, language=shared_language())
        outcomes.append((point, dump(settings) == expected))

    print(f"\nkill -9 during ingest: {len(points)} points over {total} store calls, "
          f"{sum(not same for _, same in outcomes)} re-runs differ from a clean ingest")
    assert [point for point, same in outcomes if not same] == []


@pytest.mark.slow
def test_ingests_at_once_into_one_server_end_consistent(tmp_path: Path, corpus: Path, chroma_server: str,
                                                        reference, memo_embedder: MemoizedEmbedder) -> None:
    expected, _ = reference
    harbour = tmp_path / "harbour"
    harbour.mkdir()
    (harbour / "harbour-record.txt").write_text(HARBOUR, encoding="utf-8")
    both = get_settings(chroma_url=chroma_server, collection=unique_collection(), data_dir=tmp_path / "both")
    ingest_corpus(corpus, store=open_store(both), embedder=memo_embedder, language=shared_language())
    ingest_corpus(harbour, store=open_store(both), embedder=memo_embedder, language=shared_language())
    all_vectors = write_vectors(tmp_path / "all-vectors.json", memo_embedder)

    settings = get_settings(chroma_url=chroma_server, collection=unique_collection(), data_dir=tmp_path / "data")
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = list(pool.map(lambda corpus: run_child(settings, corpus, all_vectors), [corpus, corpus, harbour]))

    assert [run.returncode for run in runs] == [0, 0, 0], [run.stderr[-1000:] for run in runs]
    ended, sequential = dump(settings), dump(both)
    print(f"\ningests at once: {len(ended['articles'])} articles, {len(ended['chunks'])} chunks, "
          f"{len(ended['sentences'])} sentences; {'the same as' if ended == sequential else 'NOT'} one after the other")
    assert ended == sequential
    assert set(ended["articles"]) == set(expected["articles"]) | {"harbour-record"}
