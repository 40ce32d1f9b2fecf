"""A store outage under a running app: a real `chroma run` server of the test's own, killed (or stopped)
and started again under a real uvicorn server. Every route answers 503 with one line within 5 s while
the store is gone, /readyz follows the store, and the log has one line for the outage and one for the
recovery, with no traceback."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import (Ingested, MemoizedEmbedder, free_port, ingest_seed, shared_language, start_chroma_server,
                      stop_process)
from fastapi.testclient import TestClient
from live_server import serving

from qa.api import Components, create_app
from qa.config import get_settings

QUESTION = "Who is the State Department spokesman who responded to Bloomberg's report?"
ANGRY = "us-angry-with-macron"
OUTAGE_LIMIT = 5.0  # seconds a request may take to say the store is gone
RECOVERY_LIMIT = 30.0
CONNECT_FAILED = "Chroma call failed: cannot connect to the Chroma server"
TIMED_OUT = "Chroma call failed: no answer in time (QA_STORE_TIMEOUT)"
ROUTES = [
    ("POST", "/v1/ask", {"question": QUESTION}),
    ("POST", "/v1/chat", {"messages": [{"role": "user", "content": QUESTION}]}),
    ("POST", "/v1/chat", {"messages": [{"role": "user", "content": QUESTION}], "stream": True}),
    ("POST", "/v1/chat/completions", {"model": "qa", "messages": [{"role": "user", "content": QUESTION}]}),
    ("GET", "/v1/articles", None),
    ("GET", f"/v1/articles/{ANGRY}", None),
    ("GET", f"/v1/articles/{ANGRY}/paragraphs/3", None),
]


@dataclass
class OwnChroma:
    """A `chroma run` server only this test uses, over a folder that outlives its restarts."""

    workdir: Path
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        """Return its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """Kill it with SIGKILL, as a crash would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def restart(self) -> None:
        """Start it again on the same port and folder."""
        self.process = start_chroma_server(self.workdir, port=self.port)


@pytest.fixture
def own_chroma(tmp_path: Path) -> Iterator[OwnChroma]:
    """Yield a `chroma run` server of this test's own, stopped at the end (if still running)."""
    port = free_port()
    workdir = tmp_path / "chroma"
    workdir.mkdir()
    server = OwnChroma(workdir, port, start_chroma_server(workdir, port=port))
    try:
        yield server
    finally:
        if server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)  # a stopped server cannot exit otherwise
            stop_process(server.process)


@pytest.fixture
def on_own_chroma(own_chroma: OwnChroma, tmp_path: Path, embedder, memo_embedder: MemoizedEmbedder,
                  seed_corpus: Path) -> Ingested:
    """Return the seed corpus ingested into the test's own Chroma server."""
    settings = get_settings(chroma_url=own_chroma.url, collection="news", data_dir=tmp_path / "data")
    return ingest_seed(settings, embedder=embedder, memo_embedder=memo_embedder, language=shared_language(),
                       seed_corpus=seed_corpus)


def call(url: str, method: str, path: str, body: dict | None) -> tuple[int, object, float]:
    """Return the status, the JSON body (or the text of a stream) and the seconds one request took."""
    began = time.monotonic()
    response = httpx.request(method, url + path, json=body, timeout=30)
    elapsed = time.monotonic() - began
    if not response.headers.get("content-type", "").startswith("application/json"):
        return response.status_code, re.sub(r'"(id|created)": ?("[^"]*"|\d+)', "", response.text), elapsed
    body = response.json()
    return response.status_code, {k: v for k, v in body.items() if k not in ("id", "created")}, elapsed


def poll_readiness(url: str, status: int, *, limit: float) -> float:
    """Return the seconds until /readyz answered `status`, polling every 0.1 s; fail after `limit`."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        if httpx.get(f"{url}/readyz", timeout=30).status_code == status:
            return time.monotonic() - began
        time.sleep(0.1)
    pytest.fail(f"/readyz did not answer {status} within {limit:.0f}s")


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the app's log lines about the store, and fail on any that carries a traceback."""
    records = [r for r in caplog.records if r.name.startswith("qa")]
    assert [r.getMessage() for r in records if r.exc_info] == []
    return [r.getMessage() for r in records if "store" in r.getMessage()]


@pytest.fixture(scope="module")
def dead_store(tmp_path_factory: pytest.TempPathFactory, embedder, memo_embedder: MemoizedEmbedder,
               seed_corpus: Path) -> Ingested:
    """Return the pipeline over the seed corpus on a Chroma server that has since been killed."""
    workdir = tmp_path_factory.mktemp("dead-chroma")
    port = free_port()
    process = start_chroma_server(workdir, port=port)
    try:
        settings = get_settings(chroma_url=f"http://127.0.0.1:{port}", collection="news", data_dir=workdir / "qa")
        ingested = ingest_seed(settings, embedder=embedder, memo_embedder=memo_embedder, language=shared_language(),
                       seed_corpus=seed_corpus)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    return ingested


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}{' stream' if b and b.get('stream') else ''}"
                                                                   for m, p, b in ROUTES])
def test_every_route_answers_503_with_one_line_when_the_store_is_dead(dead_store: Ingested, method: str, path: str,
                                                                      body: dict | None) -> None:
    parts = Components(store=dead_store.store, pipeline=dead_store.pipeline)
    client = TestClient(create_app(dead_store.settings, components=parts))  # a fresh app: no outage known yet

    response = client.request(method, path, json=body)

    assert (response.status_code, response.json()) == (503, {"detail": CONNECT_FAILED})
    assert response.headers["retry-after"] == "5"


@pytest.mark.slow
def test_killed_store_gives_503_within_5_s_and_recovers(own_chroma: OwnChroma, on_own_chroma: Ingested,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="qa")
    with serving(on_own_chroma) as url:
        before = [call(url, method, path, body)[:2] for method, path, body in ROUTES]
        assert [status for status, _ in before] == [200] * len(ROUTES)

        own_chroma.kill()
        detected = poll_readiness(url, 503, limit=OUTAGE_LIMIT)
        readyz = httpx.get(f"{url}/readyz")
        during = [call(url, method, path, body) for method, path, body in ROUTES]

        began = time.monotonic()
        own_chroma.restart()
        restart = time.monotonic() - began
        recovered = poll_readiness(url, 200, limit=RECOVERY_LIMIT)
        after = [call(url, method, path, body)[:2] for method, path, body in ROUTES]

    print(f"\nkilled store: /readyz 503 {detected:.2f}s after the kill, every route 503 in at most "
          f"{max(s for *_, s in during):.3f}s; Chroma took {restart:.1f}s to restart, /readyz 200 "
          f"{recovered:.2f}s after it answered")
    assert (readyz.status_code, readyz.json(), readyz.headers["retry-after"]) == (503, {"detail": CONNECT_FAILED}, "5")
    assert [(status, body) for status, body, _ in during] == [(503, {"detail": CONNECT_FAILED})] * len(ROUTES)
    assert max(seconds for *_, seconds in during) < OUTAGE_LIMIT
    assert after == before
    lines = outage_lines(caplog)
    assert [line.split(" after ")[0] for line in lines] == [f"store unreachable: {CONNECT_FAILED}",
                                                            "store reachable again"]


@pytest.mark.slow
def test_stalled_store_gives_503_within_5_s_and_answers_when_it_resumes(own_chroma: OwnChroma,
                                                                        on_own_chroma: Ingested,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="qa")
    with serving(on_own_chroma) as url:
        assert call(url, "POST", "/v1/ask", {"question": QUESTION})[0] == 200
        os.kill(own_chroma.process.pid, signal.SIGSTOP)  # it accepts connections, but never answers
        try:
            during = [call(url, method, path, body) for method, path, body in ROUTES[:2]]
            readyz = httpx.get(f"{url}/readyz", timeout=30)
        finally:
            os.kill(own_chroma.process.pid, signal.SIGCONT)
        recovered = poll_readiness(url, 200, limit=RECOVERY_LIMIT)
        after = call(url, "POST", "/v1/ask", {"question": QUESTION})

    print(f"\nstalled store: 503 after at most {max(s for *_, s in during):.2f}s; 200 again {recovered:.2f}s "
          "after it resumed")
    assert [(status, body) for status, body, _ in during] == [(503, {"detail": TIMED_OUT})] * 2
    assert max(seconds for *_, seconds in during) < OUTAGE_LIMIT
    assert (readyz.status_code, readyz.json()) == (503, {"detail": TIMED_OUT})
    assert after[0] == 200
    lines = outage_lines(caplog)
    assert [line.split(" after ")[0] for line in lines] == [f"store unreachable: {TIMED_OUT}", "store reachable again"]
