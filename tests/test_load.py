"""32 clients at once against a real `qa serve` process over the seed corpus on the Chroma server: every
request answered (plain, follow-up, streamed, OpenAI-compatible), and the server's memory measured
before and after (after a warm-up, so loading the model does not count as growth)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Ingested, free_port, stop_process
from test_api_server import qa_executable

CLIENTS = 32
SECONDS = 20.0
WARMUP_ROUNDS = 3
READY_TIMEOUT = 180.0
MAX_GROWTH_MB = 150.0  # the caches are bounded; growth past this is a leak
QUESTIONS = ["Who is the State Department spokesman who responded to Bloomberg's report?",
             "Who criticized the idea of sending troops?", "When did European leaders gather in Paris?",
             "What did a senior US official tell the outlet?", "Which team won the 2024 Super Bowl?"]


def rss_mb(pid: int) -> float:
    """Return the resident memory of a process and its children, in MB."""
    total = 0.0
    for task in [pid, *(int(c) for t in Path(f"/proc/{pid}/task").iterdir()
                        for c in (t / "children").read_text().split())]:
        for line in Path(f"/proc/{task}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def request_for(i: int) -> tuple[str, dict]:
    """Return the i-th request of the mix: ask, a follow-up, a stream, an OpenAI completion."""
    question = QUESTIONS[i % len(QUESTIONS)]
    messages = [{"role": "user", "content": QUESTIONS[0]}, {"role": "user", "content": "What did he say next?"}]
    return [("/v1/ask", {"question": question}),
            ("/v1/chat", {"messages": messages}),
            ("/v1/chat", {"messages": [{"role": "user", "content": question}], "stream": True}),
            ("/v1/chat/completions", {"model": "qa", "messages": [{"role": "user", "content": question}]})][i % 4]


@pytest.fixture(scope="module")
def served(ingested_server: Ingested, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """Yield the URL and pid of `qa serve` (one process) over the seed corpus on the Chroma server."""
    settings = ingested_server.settings
    port = free_port()
    env = {**os.environ, "QA_CHROMA_URL": settings.chroma_url, "QA_COLLECTION": settings.collection,
           "QA_DATA_DIR": str(settings.data_dir)}
    log = (tmp_path_factory.mktemp("load") / "serve.log").open("wb")
    process = subprocess.Popen([qa_executable(), "serve", "--port", str(port)], stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "qa serve did not become ready"
            time.sleep(0.2)
        yield url, process.pid
    finally:
        stop_process(process, timeout=15)
        log.close()


def run_load(url: str, seconds: float) -> tuple[list[int], list[str]]:
    """Return the status of every request CLIENTS clients sent back to back for `seconds`, and the
    transport failures (status 0)."""
    statuses: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(n: int) -> None:
        with httpx.Client(timeout=60) as http:
            i = n
            while time.monotonic() < end:
                path, body = request_for(i)
                try:
                    status = http.post(url + path, json=body).status_code
                except httpx.HTTPError as exc:
                    status = 0
                    with lock:
                        failures.append(f"{path}: {type(exc).__name__}")
                with lock:
                    statuses.append(status)
                i += CLIENTS

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    assert not any(thread.is_alive() for thread in threads)
    return statuses, failures


@pytest.mark.slow
def test_32_clients_get_every_answer_and_the_servers_memory_levels_off(served: tuple[str, int]) -> None:
    url, pid = served
    with httpx.Client(timeout=60) as warm:
        for i in range(4 * WARMUP_ROUNDS * len(QUESTIONS)):
            path, body = request_for(i)
            assert warm.post(url + path, json=body).status_code == 200
    memory = [rss_mb(pid)]
    runs = []
    for _ in range(2):
        runs.append(run_load(url, SECONDS / 2))
        memory.append(rss_mb(pid))

    statuses = [s for run, _ in runs for s in run]
    failures = [f for _, run in runs for f in run]
    errors = sum(status != 200 for status in statuses)
    print(f"\nload: {CLIENTS} clients, {SECONDS:.0f}s, {len(statuses)} requests ({len(statuses) / SECONDS:.1f}/s), "
          f"{errors} errors; server memory {memory[0]:.0f} MB -> {memory[1]:.0f} MB after the first half "
          f"({memory[1] - memory[0]:+.0f} MB) -> {memory[2]:.0f} MB after the second ({memory[2] - memory[1]:+.0f} MB)")
    assert (errors, failures[:3]) == (0, [])
    assert len(statuses) > CLIENTS
    assert memory[2] - memory[0] < MAX_GROWTH_MB
