"""OpenAI chat-completions shapes for an Answer: the [n] markers stay in the content, and the citations
(and a refusal's closest passages) travel as extra `citations` and `nearest` fields on the response
and on the final stream chunk."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence

from qa.api.streams import error_payload, sse
from qa.chunking import count_tokens
from qa.errors import StoreUnavailable
from qa.models import Answer
from qa.streaming import Delta, Done, Event, Retrieved

DONE = "[DONE]"


def completion_id() -> str:
    """Return a fresh OpenAI-style completion id."""
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage(prompt: Sequence[str], answer: Answer) -> dict:
    """Return token counts (cl100k) of the messages sent and of the answer text."""
    prompt_tokens = sum(count_tokens(text) for text in prompt if text)
    completion_tokens = count_tokens(answer.answer) if answer.answer else 0
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def completion(answer: Answer, *, model: str, prompt: Sequence[str]) -> dict:
    """Return the `chat.completion` object for an answer."""
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": usage(prompt, answer),
        **sources(answer),
    }


def sources(answer: Answer) -> dict:
    """Return the extra fields an OpenAI response carries: the citations and the closest passages."""
    shape = answer.to_dict()
    return {"citations": shape["citations"], "nearest": shape["nearest"], "short_answer": shape["short_answer"]}


async def completion_events(events: AsyncIterator[Event], *, model: str, prompt: Sequence[str],
                            include_usage: bool = False,
                            on_store_failure: Callable[[StoreUnavailable], None] | None = None) -> AsyncIterator[str]:
    """Yield the stream of `chat.completion.chunk` events as the answer is composed: the role once the
    paragraphs are retrieved, the content sentence by sentence, a final chunk with finish_reason "stop",
    the citations and the closest passages, the usage chunk when asked for, then [DONE]. A failure midway
    ends it with an OpenAI-style {"error"} event (which the openai client raises as an APIError)."""
    head = {"id": completion_id(), "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    if include_usage:
        head["usage"] = None  # as OpenAI does: null on every chunk but the last

    def chunk(delta: dict, finish_reason: str | None = None, **extra) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse(head | {"choices": [choice]} | extra)

    try:
        async for event in events:
            if isinstance(event, Retrieved):
                yield chunk({"role": "assistant", "content": ""})
            elif isinstance(event, Delta):
                yield chunk({"content": event.text})
            elif isinstance(event, Done):
                yield chunk({}, "stop", **sources(event.answer))
                if include_usage:
                    yield sse(head | {"choices": [], "usage": usage(prompt, event.answer)})
    except Exception as exc:  # noqa: BLE001 -- the status line is sent: the last event says what failed
        error = error_payload(exc, on_store_failure=on_store_failure)
        yield sse({"error": {"message": error["detail"], "type": "server_error", "code": error["status"]}})
    yield sse(DONE)
