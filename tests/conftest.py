"""Session fixtures: the real embedding model, a real `chroma run` server, settings for an embedded or
a server store, and the seed corpus ingested once for the tests that only read."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from qa.answer import Pipeline, build_pipeline
from qa.config import Settings, get_settings
from qa.embedding import build_embedder
from qa.ingest import IngestReport, ingest_corpus
from qa.nlp import Language
from qa.retrieve import Retriever, build_retriever
from qa.store import Store, open_store

REPO = Path(__file__).resolve().parent.parent
SEED_CORPUS = REPO / "corpus"
BACKENDS = ("embedded", "server")
SERVER_START_TIMEOUT = 60.0


@pytest.fixture(scope="session", autouse=True)
def _no_qa_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Drop the shell's QA_* variables and run from an empty folder, so neither they nor a .env file
    point a test at the developer's LLM or store, and nothing is written under the repository."""
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("QA_")]:
            patch.delenv(key)
        patch.chdir(tmp_path_factory.mktemp("cwd"))
        yield


@pytest.fixture(scope="session")
def embedder():
    """Return the real bundled embedding model, loaded once for the whole run."""
    return build_embedder(get_settings())


@functools.lru_cache(maxsize=1)
def shared_language() -> Language:
    """Return the real spaCy pipeline (QA_NLP_MODEL's default), one for the whole run (it loads on first use)."""
    return Language(Settings.model_fields["nlp_model"].default)


@pytest.fixture(scope="session")
def language() -> Language:
    """Return the real spaCy pipeline, loaded once for the whole run."""
    return shared_language()


class MemoizedEmbedder:
    """The real model behind a text -> vector memo, for ingest_articles: re-ingesting the same texts into a
    fresh store does not run the model again, yet every vector is the model's own. Not a BaseEmbedding, so
    it cannot stand in for the model in a Retriever."""

    def __init__(self, model) -> None:
        self.model = model
        self._vectors: dict[str, list[float]] = {}
        self._pooled: dict[tuple, tuple[list[float], list[list[float]]]] = {}

    @property
    def window(self) -> int:
        """Return the model's input window."""
        return self.model.window

    def get_text_embedding_batch(self, texts: list[str], **kwargs) -> list[list[float]]:
        """Return the model's vectors of `texts`, running it only on texts not seen before."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self.model.get_text_embedding_batch(missing, **kwargs)))
        return [self._vectors[t] for t in texts]

    def embed_with_spans(self, texts: list[str], spans_per_text: list[list[tuple[int, int]]]) -> tuple[list, list]:
        """Return the model's text and pooled span vectors, running it only on (text, spans) not seen before."""
        keys = [(t, tuple(map(tuple, s))) for t, s in zip(texts, spans_per_text)]
        missing = [k for k in dict.fromkeys(keys) if k not in self._pooled]
        if missing:
            vectors, pooled = self.model.embed_with_spans([t for t, _ in missing], [list(s) for _, s in missing])
            self._pooled.update(zip(missing, zip(vectors, pooled)))
        return [self._pooled[k][0] for k in keys], [self._pooled[k][1] for k in keys]

    def known(self) -> dict[str, list[float]]:
        """Return every text embedded so far with its vector, as plain floats."""
        return {text: [float(x) for x in vector] for text, vector in self._vectors.items()}

    def known_pooled(self) -> list[dict]:
        """Return every (text, spans) pooled so far with its text and span vectors, as plain floats."""
        return [{"text": text, "spans": [list(s) for s in spans], "vector": [float(x) for x in vector],
                 "span_vectors": [[float(x) for x in v] for v in pooled]}
                for (text, spans), (vector, pooled) in self._pooled.items()]


@pytest.fixture(scope="session")
def memo_embedder(embedder) -> MemoizedEmbedder:
    """Return the real model with a session-wide memo of the texts it embedded for ingest."""
    return MemoizedEmbedder(embedder)


@pytest.fixture(scope="session")
def seed_corpus() -> Path:
    """Return the repository's corpus/ folder (two .txt articles)."""
    assert SEED_CORPUS.is_dir(), f"seed corpus missing at {SEED_CORPUS}"
    return SEED_CORPUS


def unique_collection() -> str:
    """Return a collection name no other test uses, so tests can share one Chroma server."""
    return f"t{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chroma_executable() -> str:
    """Return the `chroma` CLI of this environment, or fail the run: the server tests are never skipped."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.is_file():
        return str(beside)
    found = shutil.which("chroma")
    if found:
        return found
    pytest.fail(
        f"the `chroma` executable is neither next to {sys.executable} nor on PATH; "
        "install chromadb into this environment (pip install -e '.[dev]')",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URL of a real `chroma run` server on a free loopback port, stopped at the end."""
    port = free_port()
    process = start_chroma_server(tmp_path_factory.mktemp("chroma-server"), port=port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def start_chroma_server(workdir: Path, *, port: int) -> subprocess.Popen:
    """Return a `chroma run` process over workdir/data on `port`, once it answers heartbeat(); its
    output is appended to workdir/server.log, so a restart on the same folder keeps one log."""
    log_path = workdir / "server.log"
    command = [chroma_executable(), "run", "--path", str(workdir / "data"), "--host", "127.0.0.1",
               "--port", str(port)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    _wait_for_heartbeat(process, port=port, log_path=log_path)
    return process


def stop_process(process: subprocess.Popen, *, timeout: float = 10.0) -> None:
    """Terminate a server process, killing it if it does not exit within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def _wait_for_heartbeat(process: subprocess.Popen, *, port: int, log_path: Path) -> None:
    client_settings = ChromaSettings(anonymized_telemetry=False)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`chroma run` exited with status {process.returncode}:\n{_tail(log_path)}", pytrace=False)
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port, settings=client_settings).heartbeat()
            return
        except Exception as exc:  # connection refused until the server listens
            last_error = exc
            time.sleep(0.1)
    process.terminate()
    pytest.fail(
        f"`chroma run` did not answer heartbeat() on port {port} within {SERVER_START_TIMEOUT:.0f}s "
        f"({last_error}):\n{_tail(log_path)}",
        pytrace=False,
    )


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def settings_factory(request: pytest.FixtureRequest, tmp_path: Path) -> SettingsFactory:
    """Return make(backend, **overrides): Settings for an embedded store in tmp_path ("embedded") or a
    fresh collection on the session's Chroma server ("server"); the server starts only when asked for."""

    def make(backend: str = "embedded", **overrides: object) -> Settings:
        if backend == "embedded":
            values = {"data_dir": tmp_path / "data", "collection": "news"}
        elif backend == "server":
            url = request.getfixturevalue("chroma_server")
            values = {"chroma_url": url, "collection": unique_collection(), "data_dir": tmp_path / "data"}
        else:
            raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
        return get_settings(**(values | overrides))

    return make


@pytest.fixture
def embedded_settings(settings_factory: SettingsFactory) -> Settings:
    """Return settings for an empty embedded store in tmp_path."""
    return settings_factory("embedded")


@pytest.fixture
def server_settings(settings_factory: SettingsFactory) -> Settings:
    """Return settings for an empty collection on the session's Chroma server."""
    return settings_factory("server")


@dataclass
class Ingested:
    """The seed corpus in a store, with the pipeline built over it; for tests that only read."""

    settings: Settings
    store: Store
    pipeline: Pipeline
    report: IngestReport

    @property
    def retriever(self) -> Retriever:
        """Return the pipeline's retrieval stage."""
        return self.pipeline.retriever


def ingest_seed(settings: Settings, *, embedder, memo_embedder: MemoizedEmbedder, language: Language,
                seed_corpus: Path) -> Ingested:
    """Return the pipeline over a store holding the seed corpus."""
    store = open_store(settings)
    report = ingest_corpus(seed_corpus, store=store, embedder=memo_embedder, language=language)
    assert report.problems == []
    retriever = build_retriever(settings, store=store, embedder=embedder)
    return Ingested(settings, store, build_pipeline(settings, retriever=retriever, language=language), report)


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory, embedder, memo_embedder: MemoizedEmbedder,
             language: Language, seed_corpus: Path) -> Ingested:
    """Return the seed corpus ingested once into an embedded store (read-only: do not ingest into it)."""
    settings = get_settings(data_dir=tmp_path_factory.mktemp("ingested") / "data", collection="news")
    return ingest_seed(settings, embedder=embedder, memo_embedder=memo_embedder, language=language,
                       seed_corpus=seed_corpus)


@pytest.fixture(scope="session")
def ingested_server(tmp_path_factory: pytest.TempPathFactory, chroma_server: str, embedder,
                    memo_embedder: MemoizedEmbedder, language: Language, seed_corpus: Path) -> Ingested:
    """Return the seed corpus ingested once into a collection on the Chroma server (read-only)."""
    settings = get_settings(chroma_url=chroma_server, collection=unique_collection(),
                            data_dir=tmp_path_factory.mktemp("ingested-server") / "data")
    return ingest_seed(settings, embedder=embedder, memo_embedder=memo_embedder, language=language,
                       seed_corpus=seed_corpus)
