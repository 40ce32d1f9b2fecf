"""Server-Sent Events: the encoding, the bridge from the answer's stage events (qa.streaming) in a worker
thread to the event loop, and /v1/chat's event sequence: `retrieved`, `delta`s, then `done` (or `error`)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from qa.api.errors import one_line, status_for
from qa.errors import QAError, StoreUnavailable
from qa.streaming import Delta, Done, Event, Retrieved, text_pieces

__all__ = ["SSE_HEADERS", "chat_events", "error_payload", "sse", "started", "text_pieces"]

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no buffering by proxies

log = logging.getLogger("qa.api")


def sse(data: dict | str, *, event: str = "") -> str:
    """Return one event: an optional `event:` line, one `data:` line, and the blank line that ends it."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n" if event else f"data: {payload}\n\n"


async def started(events: Iterator[Event]) -> AsyncIterator[Event]:
    """Return the events as they are produced in worker threads (embedding, store and LLM calls block),
    the first already computed: a failure before it (a bad question, the store down) raises here, while
    the response can still be a JSON error."""
    first = await run_in_threadpool(next, events, None)

    async def produced() -> AsyncIterator[Event]:
        try:
            if first is not None:
                yield first
            async for event in iterate_in_threadpool(events):
                yield event
        finally:  # a client gone midway: let the stages close what they hold open (the LLM's reply)
            close = getattr(events, "close", None)
            if close is not None:
                await run_in_threadpool(close)

    return produced()


def error_payload(exc: Exception, *, on_store_failure: Callable[[StoreUnavailable], None] | None = None) -> dict:
    """Return {"status", "detail"} for a failure after the stream started (the status it would have had)."""
    if not isinstance(exc, QAError):
        log.error("the answer stream failed", exc_info=exc)
        return {"status": 500, "detail": f"internal error ({type(exc).__name__}); see the server log"}
    if isinstance(exc, StoreUnavailable) and on_store_failure:
        on_store_failure(exc)
    return {"status": status_for(exc), "detail": one_line(exc)}


async def chat_events(events: AsyncIterator[Event], *,
                      on_store_failure: Callable[[StoreUnavailable], None] | None = None) -> AsyncIterator[str]:
    """Yield /v1/chat's stream: `retrieved` with the paragraphs being read, a `delta` per sentence as it is
    composed, then `done` with the answer; a failure midway ends it with `error` ({"status", "detail"})."""
    try:
        async for event in events:
            if isinstance(event, Retrieved):
                yield sse({"paragraphs": event.paragraphs}, event="retrieved")
            elif isinstance(event, Delta):
                yield sse({"text": event.text}, event="delta")
            elif isinstance(event, Done):
                yield sse(event.answer.to_dict(), event="done")
    except Exception as exc:  # noqa: BLE001 -- the status line is sent: the stream's last event says what failed
        yield sse(error_payload(exc, on_store_failure=on_store_failure), event="error")
