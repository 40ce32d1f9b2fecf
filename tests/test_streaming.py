"""Streaming that streams, over real HTTP (uvicorn on loopback) and the seed corpus: /v1/chat and
/v1/chat/completions send the paragraphs being read once retrieval is done, then the answer sentence by
sentence as it is composed (the LLM's as its reply arrives, from a fake endpoint that streams slowly),
and the citations complete in the last event; the text sent joins to the final answer's."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from conftest import Ingested
from fake_llm import FAKE_MODEL, running_fake_llm
from fastapi import HTTPException
from fastapi.responses import StreamingResponse
from live_server import serving
from openai import OpenAI

from qa.answer import answer_events, build_pipeline
from qa.generative import FELL_BACK, NO_SUCH_PASSAGE, REFUSAL
from qa.streaming import Delta, Done, Retrieved, finished_count

QUESTION = "Who is the State Department spokesman who responded to Bloomberg's report?"
TROOPS = "macron-troops-remark-irks-us"
PIECE_DELAY = 0.05  # seconds per word of the fake model's reply: ~1 s for each of its sentences
FIRST_WAIT = 1.5  # seconds the slow-to-start fake model thinks before its first word


def passages(messages: list[dict]) -> list[tuple[str, str]]:
    """Return the (number, text) passages of the prompt's last message."""
    return re.findall(r"^\[(\d+)\] [^\n]*\n<passage>\n(.*?)\n</passage>", messages[-1]["content"], re.M | re.S)


def quote_three(messages: list[dict]) -> str:
    """Reply with the Miller passage's sentence, two more passages' first sentences, each cited, and one
    citation of a passage that does not exist."""
    found = passages(messages)
    miller = next(n for n, text in found if "Matthew Miller" in text)
    others = [(n, text) for n, text in found if n != miller][:2]
    first = lambda text: re.split(r"(?<=[.!?])\s+", text.strip())[0]  # noqa: E731
    said = [f"State Department spokesman Matthew Miller responded to Bloomberg's publication [{miller}][9]."]
    said += [f"{first(text).rstrip('.')} [{n}]." for n, text in others]
    return " ".join(said)


@contextmanager
def llm_server(ingested: Ingested, script: Callable, *, piece_delay: float = 0.0,
               fallback: bool = False) -> Iterator[str]:
    """Yield the URL of a real server whose pipeline answers with the fake endpoint running `script`."""
    with running_fake_llm(script, piece_delay=piece_delay) as llm:
        settings = ingested.settings.model_copy(update={"llm_base_url": llm.base_url, "llm_model": FAKE_MODEL,
                                                        "llm_fallback": fallback})
        pipeline = build_pipeline(settings, retriever=ingested.retriever, language=ingested.pipeline.language)
        with serving(ingested, pipeline=pipeline) as url:
            yield url


def timed_events(url: str, body: dict) -> list[tuple[float, str, dict]]:
    """Return /v1/chat's stream as (seconds since the request, event name, data) in arrival order."""
    start = time.perf_counter()
    events, name = [], ""
    with httpx.stream("POST", f"{url}/v1/chat", json=body, timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                events.append((time.perf_counter() - start, name, json.loads(line[len("data: "):])))
    return events


def chat_body(question: str = QUESTION) -> dict:
    return {"messages": [{"role": "user", "content": question}], "stream": True}


# the stage events, in process -----------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "expected"), [
    ([], 0), (["A."], 0), (["A.", "B"], 1), (["A.", "B.", "["], 1), (["A.", "B.", "[1"], 1), (["A.", "B.", "C"], 2),
])
def test_a_sentence_is_finished_once_the_next_one_has_a_letter(count: list[str], expected: int) -> None:
    assert finished_count(count) == expected


def test_extractive_events_are_retrieved_then_the_answer_sentence_by_sentence_then_done(ingested: Ingested) -> None:
    events = list(answer_events(QUESTION, pipeline=ingested.pipeline))

    assert isinstance(events[0], Retrieved) and isinstance(events[-1], Done)
    assert all(isinstance(e, Delta) for e in events[1:-1]) and len(events) >= 3
    answer = events[-1].answer
    assert "".join(e.text for e in events[1:-1]) == answer.answer
    assert set(answer.retrieved) <= set(events[0].paragraphs)


def test_llm_sentences_sent_are_the_checked_ones_and_the_dropped_marker_is_flagged(ingested: Ingested) -> None:
    with running_fake_llm(quote_three) as llm:
        settings = ingested.settings.model_copy(update={"llm_base_url": llm.base_url, "llm_model": FAKE_MODEL})
        pipeline = build_pipeline(settings, retriever=ingested.retriever, language=ingested.pipeline.language)
        events = list(answer_events(QUESTION, pipeline=pipeline))

    deltas = [e.text for e in events if isinstance(e, Delta)]
    answer = events[-1].answer
    assert len(deltas) == 3 and "".join(deltas) == answer.answer
    assert "[9]" not in answer.answer and deltas[0].endswith(" [1].")
    assert [(f.marker, f.reason) for f in answer.flags] == [(9, NO_SUCH_PASSAGE)]
    assert [c.marker for c in answer.citations] == [1, 2, 3]
    assert llm.requests[0]["stream"] is True


def test_an_llm_reply_that_never_cites_sends_only_the_refusal(ingested: Ingested) -> None:
    with running_fake_llm(lambda messages: "Someone said something. Then more was said.") as llm:
        settings = ingested.settings.model_copy(update={"llm_base_url": llm.base_url, "llm_model": FAKE_MODEL})
        pipeline = build_pipeline(settings, retriever=ingested.retriever, language=ingested.pipeline.language)
        events = list(answer_events(QUESTION, pipeline=pipeline))

    assert [e.text for e in events if isinstance(e, Delta)] == [REFUSAL]
    assert events[-1].answer.answerable is False


# over HTTP -----------------------------------------------------------------------------------------------------

def test_chat_stream_sends_the_llm_sentences_as_the_model_writes_them(ingested: Ingested) -> None:
    with llm_server(ingested, quote_three, piece_delay=PIECE_DELAY) as url:
        events = timed_events(url, chat_body())

    names = [name for _, name, _ in events]
    assert names == ["retrieved", "delta", "delta", "delta", "done"]
    first, last, done = events[1][0], events[3][0], events[4]
    assert last - first > 0.8, f"the sentences came together ({first:.2f}s, {last:.2f}s): not streamed"
    assert done[0] - first > 0.8
    answer = done[2]
    assert "".join(data["text"] for _, name, data in events if name == "delta") == answer["answer"]
    assert [c["marker"] for c in answer["citations"]] == [1, 2, 3]
    assert (answer["citations"][0]["article_id"], answer["citations"][0]["paragraph"]) == (TROOPS, 6)
    assert [(f["marker"], f["reason"]) for f in answer["flags"]] == [(9, NO_SUCH_PASSAGE)]


def test_chat_stream_sends_the_paragraphs_read_before_the_model_answers(ingested: Ingested) -> None:
    def thinks_first(messages: list[dict]) -> str:
        time.sleep(FIRST_WAIT)
        return quote_three(messages)

    with llm_server(ingested, thinks_first) as url:
        events = timed_events(url, chat_body())

    (retrieved_at, name, retrieved), (first_delta_at, _, _) = events[0], events[1]
    assert name == "retrieved" and f"{TROOPS}:6" in retrieved["paragraphs"]
    assert first_delta_at - retrieved_at > FIRST_WAIT - 0.3


def test_extractive_chat_stream_sends_retrieved_first_and_the_answer_with_its_citations_last(
        ingested: Ingested) -> None:
    with serving(ingested) as url:
        timed_events(url, chat_body())  # warm: the first request pays for lazy loads
        events = timed_events(url, chat_body())

    names = [name for _, name, _ in events]
    assert names[0] == "retrieved" and names[-1] == "done" and set(names[1:-1]) == {"delta"}
    assert events[0][0] <= events[-1][0]
    answer = events[-1][2]
    assert "".join(data["text"] for _, name, data in events if name == "delta") == answer["answer"]
    assert (answer["citations"][0]["article_id"], answer["citations"][0]["paragraph"]) == (TROOPS, 6)


def test_openai_client_receives_the_llm_sentences_as_they_are_written_and_the_citations_last(
        ingested: Ingested) -> None:
    with llm_server(ingested, quote_three, piece_delay=PIECE_DELAY) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        start = time.perf_counter()
        timed = [(time.perf_counter() - start, chunk) for chunk in client.chat.completions.create(
            model="qa", messages=[{"role": "user", "content": QUESTION}], stream=True,
            stream_options={"include_usage": True})]

    content = [(t, c) for t, c in timed if c.choices and c.choices[0].delta.content]
    assert len(content) == 3
    assert content[-1][0] - content[0][0] > 0.8
    stop = next(c for _, c in timed if c.choices and c.choices[0].finish_reason == "stop")
    citations = stop.model_extra["citations"]
    assert [c["marker"] for c in citations] == [1, 2, 3]
    assert timed[-1][1].usage.completion_tokens > 0
    text = "".join(c.choices[0].delta.content for _, c in content)
    assert text.count("[") == 3 and "[9]" not in text


def test_a_model_failing_before_any_text_ends_the_stream_with_an_error_event(ingested: Ingested) -> None:
    def fails(messages: list[dict]) -> str:
        raise HTTPException(status_code=500, detail="model crashed")

    with llm_server(ingested, fails) as url:
        events = timed_events(url, chat_body())

    assert [name for _, name, _ in events] == ["retrieved", "error"]
    assert events[-1][2]["status"] == 502 and "answered HTTP 500: model crashed" in events[-1][2]["detail"]


def test_with_the_fallback_a_model_failing_before_any_text_streams_the_extractive_answer(
        ingested: Ingested) -> None:
    def fails(messages: list[dict]) -> str:
        raise HTTPException(status_code=500, detail="model crashed")

    with llm_server(ingested, fails, fallback=True) as url:
        events = timed_events(url, chat_body())

    answer = events[-1][2]
    assert (events[-1][1], answer["answerer"]) == ("done", "extractive")
    assert "".join(data["text"] for _, name, data in events if name == "delta") == answer["answer"]
    assert answer["flags"][0]["reason"].startswith(FELL_BACK)


@pytest.mark.parametrize("path", ["/v1/chat", "/v1/chat/completions"])
def test_a_filter_matching_nothing_is_still_a_json_404_before_the_stream_starts(ingested: Ingested,
                                                                                path: str) -> None:
    body = chat_body() | {"model": "qa", "filters": {"date_from": "2031-01-01", "date_to": "2030-01-01"}}
    with serving(ingested) as url:
        response = httpx.post(f"{url}{path}", json=body, timeout=30)

    assert response.headers["content-type"] == "application/json"
    assert (response.status_code, response.json()) == (
        404, {"detail": "the date range is empty: 2031-01-01 is after 2030-01-01"})


def test_a_model_failing_after_text_was_sent_ends_the_stream_with_an_error_event(ingested: Ingested) -> None:
    def breaks_midway(messages: list[dict]) -> StreamingResponse:
        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": FAKE_MODEL,
                 "choices": [{"index": 0, "delta": {"content": quote_three(messages)}, "finish_reason": None}]}
        body = f"data: {json.dumps(chunk)}\n\ndata: {{not json\n\n"
        return StreamingResponse(iter([body]), media_type="text/event-stream")

    with llm_server(ingested, breaks_midway, fallback=True) as url:
        events = timed_events(url, chat_body())

    names = [name for _, name, _ in events]
    assert names[0] == "retrieved" and names[-1] == "error" and "delta" in names
    assert events[-1][2]["status"] == 502 and "sent a malformed reply" in events[-1][2]["detail"]
