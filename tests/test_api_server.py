"""The API in a real `qa serve` (two worker processes) on a loopback port, over the seed corpus on the Chroma server,
through the official `openai` client (unchanged, streaming included) and plain httpx; and two `qa serve`
processes, as on two machines, answering one conversation turn by turn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from qa.api.runtime import STARTING

from conftest import Ingested, free_port, stop_process

QUESTION = "Who is the State Department spokesman who responded to Bloomberg's report?"
FOLLOW_UP = "What did he say next?"
TROOPS = "macron-troops-remark-irks-us"
KEY = "server-key-for-tests-71d9"
START_TIMEOUT = 180.0  # the process imports the stack and loads the model itself
READY_IN_A_ROW = 20  # with two workers, a still-loading one is missed by chance 2**-20 of the time


@dataclass
class Server:
    """A running `qa serve`: its base URL and the first /readyz answer it gave."""

    url: str
    first_readiness: tuple[int, dict]


def qa_executable() -> str:
    """Return the `qa` console script of this environment, or fail the run."""
    script = Path(sys.executable).parent / "qa"
    if not script.is_file():
        pytest.fail(f"the `qa` script is not next to {sys.executable}; pip install -e '.[dev]'", pytrace=False)
    return str(script)


@pytest.fixture(scope="module")
def server(ingested_server: Ingested, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Yield `qa serve --workers 2` over the ingested Chroma collection, requiring KEY; stopped at the end.
    Two processes, as the API is stateless: any of them may answer any turn of a conversation."""
    process, url, log_path = _start_serve(ingested_server, tmp_path_factory, workers=2)
    try:
        yield Server(url, _wait_until_ready(process, url, log_path))
    finally:
        stop_process(process, timeout=15)


@pytest.fixture(scope="module")
def two_servers(ingested_server: Ingested, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Yield the URLs of two `qa serve` processes of one worker each over the one ingested Chroma collection,
    as two machines would run them; stopped at the end."""
    started = [_start_serve(ingested_server, tmp_path_factory, workers=1) for _ in range(2)]
    try:
        for process, url, log_path in started:
            _wait_until_ready(process, url, log_path)
        yield [url for _, url, _ in started]
    finally:
        for process, _, _ in started:
            stop_process(process, timeout=15)


def _start_serve(ingested: Ingested, tmp_path_factory: pytest.TempPathFactory, *,
                 workers: int) -> tuple[subprocess.Popen, str, Path]:
    """Return a started `qa serve --workers N` over the ingested collection, requiring KEY, its URL and its log."""
    settings = ingested.settings
    port = free_port()
    log_path = tmp_path_factory.mktemp("qa-serve") / "serve.log"
    env = {**os.environ, "QA_CHROMA_URL": settings.chroma_url, "QA_COLLECTION": settings.collection,
           "QA_DATA_DIR": str(settings.data_dir), "QA_API_KEY": KEY}
    with log_path.open("wb") as log:
        process = subprocess.Popen([qa_executable(), "serve", "--port", str(port), "--workers", str(workers)],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    return process, f"http://127.0.0.1:{port}", log_path


def _wait_until_ready(process: subprocess.Popen, url: str, log_path: Path) -> tuple[int, dict]:
    """Return the first /readyz answer once READY_IN_A_ROW fresh connections in a row got 200 (each
    worker process loads its own model and the kernel spreads connections over them); fail with the
    log if that never happens."""
    first = None
    in_a_row = 0
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`qa serve` exited with status {process.returncode}:\n{_tail(log_path)}", pytrace=False)
        try:
            response = httpx.get(f"{url}/readyz", timeout=5)
        except httpx.TransportError:  # not listening yet
            time.sleep(0.05)
            continue
        first = first or (response.status_code, response.json())
        in_a_row = in_a_row + 1 if response.status_code == 200 else 0
        if in_a_row == READY_IN_A_ROW:
            return first
        time.sleep(0.05 if in_a_row == 0 else 0.0)
    pytest.fail(f"`qa serve` was not ready within {START_TIMEOUT:.0f}s:\n{_tail(log_path)}", pytrace=False)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def client(server: Server) -> OpenAI:
    """Return the official client pointed at the server, as any OpenAI user would configure it."""
    return OpenAI(base_url=f"{server.url}/v1", api_key=KEY, timeout=60, max_retries=0)


def test_qa_serve_listens_before_the_model_is_loaded_and_then_becomes_ready(server: Server) -> None:
    assert server.first_readiness == (503, {"detail": STARTING})
    ready = httpx.get(f"{server.url}/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "chunks": 25})
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


def test_openai_client_gets_a_completion_whose_citations_ride_along(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="qa", messages=[{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": QUESTION}])

    [choice] = completion.choices
    assert (choice.finish_reason, choice.message.role) == ("stop", "assistant")
    assert "[1]" in choice.message.content and "Matthew Miller" in choice.message.content
    citations = completion.model_extra["citations"]
    assert (citations[0]["marker"], citations[0]["article_id"], citations[0]["paragraph"]) == (1, TROOPS, 6)
    assert completion.to_dict()["citations"] == citations
    assert completion.model == "qa"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0


def test_openai_client_resolves_a_follow_up_from_the_messages(client: OpenAI) -> None:
    first = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
    messages = [{"role": "user", "content": QUESTION},
                {"role": "assistant", "content": first.choices[0].message.content},
                {"role": "user", "content": FOLLOW_UP}]

    completion = client.chat.completions.create(model="qa", messages=messages)

    assert "not going to send any troops to Ukraine" in completion.choices[0].message.content
    citation = completion.model_extra["citations"][0]
    assert (citation["article_id"], citation["paragraph"]) == (TROOPS, 7)


def test_openai_client_streams_the_content_then_a_last_chunk_with_the_citations(client: OpenAI) -> None:
    messages = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Matthew Miller [1]."},
                {"role": "user", "content": FOLLOW_UP}]
    whole = client.chat.completions.create(model="qa", messages=messages)

    chunks = list(client.chat.completions.create(model="qa", messages=messages, stream=True))

    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == whole.choices[0].message.content
    assert "[1]" in text and "not going to send any troops to Ukraine" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"] == whole.model_extra["citations"]
    first = last.model_extra["citations"][0]
    assert (first["article_id"], first["paragraph"]) == (TROOPS, 7)


def test_openai_client_with_a_wrong_key_gets_401(server: Server) -> None:
    client = OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0)

    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])

    assert (caught.value.status_code, caught.value.body) == (401, {"detail": "invalid API key"})


def test_openai_client_gets_422_when_no_message_is_from_the_user(client: OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.chat.completions.create(model="qa", messages=[{"role": "system", "content": "Be brief."},
                                                             {"role": "assistant", "content": "Miller."}])

    assert caught.value.status_code == 422
    assert caught.value.body == {"detail": "messages: there is no user message to answer"}


def test_chat_stream_arrives_as_server_sent_events_over_http(server: Server) -> None:
    body = {"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    events = []
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.stream("POST", f"{server.url}/v1/chat", json=body, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                events.append([line.removeprefix("event: ")])
            elif line.startswith("data: "):
                events[-1].append(json.loads(line.removeprefix("data: ")))

    assert [name for name, _ in events][0] == "retrieved" and [name for name, _ in events][-1] == "done"
    assert {name for name, _ in events[1:-1]} == {"delta"}
    done = events[-1][1]
    assert "".join(data["text"] for _, data in events[1:-1]) == done["answer"]
    assert (done["citations"][0]["article_id"], done["citations"][0]["paragraph"]) == (TROOPS, 6)


def test_concurrent_questions_get_the_same_answers_as_one_at_a_time(server: Server) -> None:
    questions = [QUESTION, "Who criticized the idea of sending troops?", "When did European leaders gather in Paris?",
                 "What did a senior US official tell the outlet?"] * 4
    headers = {"Authorization": f"Bearer {KEY}"}

    def ask(question: str) -> dict:
        response = httpx.post(f"{server.url}/v1/ask", json={"question": question}, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    one_at_a_time = {q: ask(q) for q in dict.fromkeys(questions)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(ask, questions))

    for question, answer in zip(questions, together):
        expected = one_at_a_time[question]
        assert (answer["answer"], answer["citations"]) == (expected["answer"], expected["citations"])


CONVERSATION = [QUESTION, FOLLOW_UP, "Who criticized the idea of sending troops?",
                "What did a senior US official tell the outlet?"]


def _converse(urls: list[str]) -> list[dict]:
    """Return the answers to CONVERSATION, turn n sent with the whole history to urls[n % len(urls)]."""
    messages, answers = [], []
    for turn, question in enumerate(CONVERSATION):
        messages.append({"role": "user", "content": question})
        response = httpx.post(f"{urls[turn % len(urls)]}/v1/chat", json={"messages": messages},
                              headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        assert response.status_code == 200, response.text
        answers.append(response.json())
        messages.append({"role": "assistant", "content": answers[-1]["answer"]})
    return answers


def test_two_servers_answering_a_conversation_in_turn_answer_as_one_does(two_servers: list[str]) -> None:
    alone = _converse(two_servers[:1])

    in_turn = _converse(two_servers)

    assert in_turn == alone
    assert [answer["answerable"] for answer in alone] == [True] * len(CONVERSATION)
    assert "not going to send any troops to Ukraine" in alone[1]["answer"]
    assert [(c["article_id"], c["paragraph"]) for c in alone[1]["citations"]][:1] == [(TROOPS, 7)]
