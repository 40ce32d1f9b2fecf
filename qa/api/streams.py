"""Server-Sent Events: the encoding, the answer cut into pieces, and /v1/chat's event sequence."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable

from qa.models import Answer
from qa.sentences import split_sentences

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no buffering by proxies
_LEADING_MARKERS = re.compile(r"\s*\[\d+\](?:\s*\[\d+\])*[.!?]*")


def sse(data: dict | str, *, event: str = "") -> str:
    """Return one event: an optional `event:` line, one `data:` line, and the blank line that ends it."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n" if event else f"data: {payload}\n\n"


def text_pieces(text: str) -> list[str]:
    """Return `text` cut after each sentence and its citation markers; the pieces join back to `text`."""
    ends = [end for _, end in split_sentences(text)][:-1]
    bounds = [0, *ends, len(text)]
    pieces: list[str] = []
    for piece in (text[a:b] for a, b in zip(bounds, bounds[1:])):
        markers = _LEADING_MARKERS.match(piece)
        if pieces and markers:  # '... reaction." [1] He' splits before the marker: it belongs to the left
            pieces[-1] += markers.group(0)
            piece = piece[markers.end():]
        if piece:
            pieces.append(piece)
    return pieces


def chat_events(answer: Answer) -> list[str]:
    """Return /v1/chat's stream: a `delta` event per piece of the answer text, then `done` with the answer."""
    deltas = [sse({"text": piece}, event="delta") for piece in text_pieces(answer.answer)]
    return [*deltas, sse(answer.to_dict(), event="done")]


async def aiter_events(events: Iterable[str]) -> AsyncIterator[str]:
    """Yield prepared events from the event loop (a plain iterator would be walked in a worker thread)."""
    for event in events:
        yield event
