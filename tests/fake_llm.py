"""A small OpenAI-compatible chat-completions server on loopback, so tests run the real client code.

    with running_fake_llm(lambda messages: "Macron spoke [1].") as llm:
        settings = Settings(llm_base_url=llm.base_url, llm_model=FAKE_MODEL)
        ...
        assert "Question:" in llm.requests[0]["messages"][-1]["content"]

The script may raise fastapi.HTTPException to make the endpoint fail with that status, or return a
fastapi Response to send that instead of a completion (a malformed reply).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

FAKE_MODEL = "fake-model"
Script = Callable[[list[dict]], "str | Response"]


@dataclass
class FakeLLM:
    """A running fake endpoint: its base URL and the JSON bodies of the chat requests it received."""

    base_url: str
    requests: list[dict] = field(default_factory=list)


def create_fake_llm_app(script: Script, requests: list[dict], *, piece_delay: float = 0.0) -> FastAPI:
    """Return the FastAPI app answering chat completions with `script(messages)`; a streamed reply
    waits `piece_delay` seconds before each word-sized piece, as a model generating it would."""
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict:
        return {
            "object": "list",
            "data": [{"id": FAKE_MODEL, "object": "model", "created": 0, "owned_by": "tests"}],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> dict | Response:
        body = await request.json()
        requests.append(body)
        # off the event loop, so a slow script (a timeout test) does not stall the server
        content = await run_in_threadpool(script, body.get("messages", []))
        if isinstance(content, Response):
            return content
        model = body.get("model", FAKE_MODEL)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                _sse_chunks(content, model=model, include_usage=include_usage, piece_delay=piece_delay),
                media_type="text/event-stream",
            )
        return _completion(content, model=model)

    return app


@contextmanager
def running_fake_llm(script: Script, *, piece_delay: float = 0.0) -> Iterator[FakeLLM]:
    """Yield a FakeLLM served by uvicorn in a background thread on a free loopback port; streamed
    replies send a word-sized piece every `piece_delay` seconds."""
    fake_requests: list[dict] = []
    app = create_fake_llm_app(script, fake_requests, piece_delay=piece_delay)
    # bind first so the port is ours before the server starts: no race for a "free" port
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        yield FakeLLM(base_url=f"http://127.0.0.1:{port}/v1", requests=fake_requests)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def free_port() -> int:
    """Return a loopback port that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("fake LLM server did not start")
        time.sleep(0.01)


def _completion(content: str, *, model: str) -> dict:
    prompt_tokens, completion_tokens = 10, len(content.split())
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _sse_chunks(content: str, *, model: str, include_usage: bool, piece_delay: float = 0.0) -> Iterator[str]:
    chunk_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def chunk(delta: dict, finish_reason: str | None) -> str:
        payload = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        return f"data: {json.dumps(payload)}\n\n"

    yield chunk({"role": "assistant", "content": ""}, None)
    # word-sized pieces so clients really reassemble a stream
    for piece in _pieces(content):
        if piece_delay:  # a sync generator: StreamingResponse walks it in a worker thread
            time.sleep(piece_delay)
        yield chunk({"content": piece}, None)
    yield chunk({}, "stop")
    if include_usage:
        completion_tokens = len(content.split())
        usage = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": completion_tokens,
                "total_tokens": 10 + completion_tokens,
            },
        }
        yield f"data: {json.dumps(usage)}\n\n"
    yield "data: [DONE]\n\n"


def _pieces(content: str) -> list[str]:
    return [piece for piece in re.findall(r"\S*\s*", content) if piece]
