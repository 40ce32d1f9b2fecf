"""The HTTP API through TestClient(create_app(settings)): over the seed corpus ingested once (the session's
store, retriever and answerer handed in), and through the app's own start-up for readiness."""

from __future__ import annotations

from dataclasses import replace

import json
import time
from collections.abc import Callable

import pytest
from fake_llm import FAKE_MODEL, running_fake_llm
from fastapi import HTTPException
from fastapi.testclient import TestClient
from httpx import Response

import qa.embedding
from qa.answer import build_pipeline
from qa.api import Components, create_app
from qa.api.errors import NOT_AN_OBJECT, NOT_UTF8
from qa.api.runtime import STARTING
from qa.api.streams import text_pieces
from qa.chat import answer_conversation
from qa.config import Settings
from qa.extractive import REFUSAL

from conftest import Ingested, free_port

QUESTION = "Who is the State Department spokesman who responded to Bloomberg's report?"
FOLLOW_UP = "What did he say next?"
OFF_TOPIC = "Which team won the 2024 Super Bowl?"
NEAR_MISS = "Which political party does Slovak Prime Minister Robert Fico lead?"
TROOPS = "macron-troops-remark-irks-us"
ANGRY = "us-angry-with-macron"
ANSWER_KEYS = ["answer", "answerable", "citations", "question", "query", "answerer", "confidence", "flags", "retrieved",
               "nearest", "short_answer"]
CITATION_KEYS = ["marker", "article_id", "title", "paragraph", "text", "quote", "start", "end"]
KEY = "k3y-for-api-tests-8c41f2"
READY_TIMEOUT = 60.0


def components_of(ingested: Ingested) -> Components:
    """Return the session's pipeline over the seed corpus as API components."""
    return Components(store=ingested.store, pipeline=ingested.pipeline)


def app_client(ingested: Ingested, **overrides: object) -> TestClient:
    """Return a client of an app over the seed corpus, with settings overridden."""
    settings = ingested.settings.model_copy(update=overrides)
    return TestClient(create_app(settings, components=components_of(ingested)))


@pytest.fixture(scope="module")
def client(ingested: Ingested) -> TestClient:
    """Return a client of the app over the seed corpus, no key, no CORS."""
    return app_client(ingested)


@pytest.fixture
def one_model(monkeypatch: pytest.MonkeyPatch, embedder) -> None:
    """Make apps that build their own components reuse the session's model instead of loading it again."""
    monkeypatch.setattr(qa.embedding, "build_embedder", lambda settings: embedder)


def user(content: str) -> dict:
    """Return a user message."""
    return {"role": "user", "content": content}


def assistant(content: str) -> dict:
    """Return an assistant message."""
    return {"role": "assistant", "content": content}


def without_confidence(answer: dict) -> dict:
    """Return the answer without its confidence (a float compared separately, approximately)."""
    return {key: value for key, value in answer.items() if key != "confidence"}


def first_citation(answer: dict) -> tuple[str, int]:
    """Return the article and paragraph the answer's first citation points at."""
    return answer["citations"][0]["article_id"], answer["citations"][0]["paragraph"]


def sse_events(response: Response) -> list[tuple[str, str]]:
    """Return the (event, data) pairs of a Server-Sent Events body."""
    events = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields.get("event", ""), fields["data"]))
    return events


def wait_for_readiness(client: TestClient, done: Callable[[Response], bool]) -> Response:
    """Return the first /readyz response for which `done` holds, polling until READY_TIMEOUT."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        response = client.get("/readyz")
        if done(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


# health and readiness -----------------------------------------------------------------------------------

def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_answers_200_when_the_components_are_ready(client: TestClient) -> None:
    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "ready", "chunks": 25})


def test_readyz_and_v1_answer_503_before_start_up_has_built_the_components(ingested: Ingested) -> None:
    client = TestClient(create_app(ingested.settings))  # no `with`: the lifespan, which builds them, never runs

    ready = client.get("/readyz")
    ask = client.post("/v1/ask", json={"question": QUESTION})

    assert (ready.status_code, ready.json()) == (503, {"detail": STARTING})
    assert ready.headers["retry-after"] == "5"
    assert (ask.status_code, ask.json()) == (503, {"detail": STARTING})
    assert client.get("/healthz").status_code == 200


def test_readyz_stays_503_with_the_reason_while_chroma_is_unreachable(tmp_path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = Settings(chroma_url=url, collection="news", data_dir=tmp_path / "data")

    with TestClient(create_app(settings)) as client:
        ready = wait_for_readiness(client, lambda r: r.json()["detail"] != STARTING)
        ask = client.post("/v1/ask", json={"question": QUESTION})
        health = client.get("/healthz")

    assert ready.status_code == 503
    assert ready.json() == {
        "detail": f"cannot open Chroma at {url}: cannot connect to the Chroma server"}
    assert (ask.status_code, ask.json()) == (503, ready.json())
    assert health.status_code == 200


def test_readyz_stays_503_with_the_reason_while_the_store_is_empty(embedded_settings: Settings, one_model) -> None:
    with TestClient(create_app(embedded_settings)) as client:
        ready = wait_for_readiness(client, lambda r: r.json()["detail"] != STARTING)
        articles = client.get("/v1/articles")

    assert (ready.status_code, ready.json()) == (503, {"detail": "the store is empty: run `qa ingest` first"})
    assert (articles.status_code, articles.json()) == (503, ready.json())


def test_app_builds_its_components_at_start_up_then_answers(ingested: Ingested, one_model) -> None:
    with TestClient(create_app(ingested.settings)) as client:
        ready = wait_for_readiness(client, lambda r: r.status_code == 200)
        answer = client.post("/v1/ask", json={"question": QUESTION})

    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "chunks": 25})
    assert answer.status_code == 200
    assert first_citation(answer.json()) == (TROOPS, 6)


# /v1/ask -------------------------------------------------------------------------------------------------

def test_ask_returns_the_answer_contract_citing_the_spokesman_paragraph(client: TestClient,
                                                                       ingested: Ingested) -> None:
    response = client.post("/v1/ask", json={"question": QUESTION})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ANSWER_KEYS
    assert list(body["citations"][0]) == CITATION_KEYS
    assert body["answerable"] is True
    assert "Matthew Miller" in body["answer"] and "[1]" in body["answer"]
    assert first_citation(body) == (TROOPS, 6)
    assert body["citations"][0]["quote"] in body["citations"][0]["text"]
    library = answer_conversation(QUESTION, [], pipeline=ingested.pipeline).to_dict()
    assert without_confidence(body) == without_confidence(library)  # the object `qa ask --json` prints
    assert body["confidence"] == pytest.approx(library["confidence"], abs=1e-6)


def test_ask_off_topic_question_is_not_answerable_and_cites_nothing(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": OFF_TOPIC}).json()

    assert (body["answerable"], body["citations"], body["answer"]) == (False, [], REFUSAL)
    assert body["nearest"] == []


def test_ask_refusal_carries_the_closest_passages(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": NEAR_MISS}).json()

    assert (body["answerable"], body["citations"]) == (False, [])
    assert [(p["article_id"], p["paragraph"]) for p in body["nearest"]][:1] == [(TROOPS, 10)]


def test_ask_with_a_filter_naming_an_unknown_article_answers_404(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": QUESTION, "filters": {"articles": ["no-such-article"]}})

    assert (response.status_code, response.json()) == (
        404, {"detail": "no article 'no-such-article' in the store (see `qa status` or `qa show`)"})


def test_ask_with_an_article_filter_cites_only_that_article(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "What did a senior US official tell the outlet?", "k": 3,
                                            "filters": {"articles": [ANGRY], "date_to": "2030-12-31"}})

    assert response.status_code == 200
    body = response.json()
    assert body["answerable"] is True
    assert {c["article_id"] for c in body["citations"]} == {ANGRY}


# /v1/chat --------------------------------------------------------------------------------------------------

def test_chat_with_one_message_returns_what_ask_returns(client: TestClient) -> None:
    chat = client.post("/v1/chat", json={"messages": [user(QUESTION)]})
    ask = client.post("/v1/ask", json={"question": QUESTION})

    assert chat.status_code == 200
    assert without_confidence(chat.json()) == without_confidence(ask.json())


def test_chat_resolves_a_follow_up_from_the_history_to_the_next_paragraph(client: TestClient) -> None:
    messages = [user(QUESTION), assistant("Matthew Miller [1]."), user(FOLLOW_UP)]

    response = client.post("/v1/chat", json={"messages": messages})

    assert response.status_code == 200
    body = response.json()
    assert (body["question"], body["answerable"]) == (FOLLOW_UP, True)
    assert body["query"] != FOLLOW_UP
    assert first_citation(body) == (TROOPS, 7)
    assert "not going to send any troops to Ukraine" in body["answer"]


def test_chat_ending_with_an_assistant_message_answers_the_last_user_message_again(client: TestClient) -> None:
    regenerated = client.post("/v1/chat", json={"messages": [user(QUESTION), assistant("Nobody.")]})
    asked = client.post("/v1/chat", json={"messages": [user(QUESTION)]})

    assert regenerated.status_code == 200
    assert without_confidence(regenerated.json()) == without_confidence(asked.json())


def test_chat_ignores_assistant_messages_when_resolving(client: TestClient) -> None:
    with_reply = client.post("/v1/chat", json={"messages": [user(QUESTION), assistant("Nobody."), user(FOLLOW_UP)]})
    without = client.post("/v1/chat", json={"messages": [user(QUESTION), user(FOLLOW_UP)]})

    assert without_confidence(with_reply.json()) == without_confidence(without.json())


def test_chat_stream_sends_retrieved_then_delta_events_then_a_done_event_with_the_answer(client: TestClient) -> None:
    response = client.post("/v1/chat", json={"messages": [user(QUESTION)], "stream": True})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    names = [name for name, _ in events]
    assert names == ["retrieved"] + ["delta"] * (len(events) - 2) + ["done"]
    assert len(events) >= 3
    done = json.loads(events[-1][1])
    assert list(done) == ANSWER_KEYS
    assert first_citation(done) == (TROOPS, 6)
    assert set(done["retrieved"]) <= set(json.loads(events[0][1])["paragraphs"])
    assert "".join(json.loads(data)["text"] for _, data in events[1:-1]) == done["answer"]


@pytest.mark.parametrize(("text", "pieces"), [
    ('Miller said he "does not have any reaction." [1] He added more [2]. Then [3][4].',
     ['Miller said he "does not have any reaction." [1]', ' He added more [2].', ' Then [3][4].']),
    (REFUSAL, [REFUSAL]),
    ("", []),
])
def test_answer_text_streams_sentence_by_sentence_with_its_markers(text: str, pieces: list[str]) -> None:
    assert text_pieces(text) == pieces


def test_chat_stream_of_a_follow_up_ends_with_its_citations(client: TestClient) -> None:
    response = client.post("/v1/chat", json={"messages": [user(QUESTION), user(FOLLOW_UP)], "stream": True})

    done = json.loads(sse_events(response)[-1][1])
    assert first_citation(done) == (TROOPS, 7)


# /v1/chat/completions ----------------------------------------------------------------------------------------

def test_chat_completions_returns_an_openai_completion_with_citations(client: TestClient) -> None:
    messages = [{"role": "system", "content": "You are terse."}, user(QUESTION)]

    response = client.post("/v1/chat/completions", json={"model": "anything", "messages": messages,
                                                         "temperature": 0.2})

    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("chatcmpl-")
    assert (body["object"], body["model"]) == ("chat.completion", "anything")
    assert isinstance(body["created"], int)
    [choice] = body["choices"]
    assert (choice["index"], choice["finish_reason"], choice["message"]["role"]) == (0, "stop", "assistant")
    assert "Matthew Miller" in choice["message"]["content"] and "[1]" in choice["message"]["content"]
    ask = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert choice["message"]["content"] == ask["answer"]
    assert body["citations"] == ask["citations"]
    assert body["nearest"] == []
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_completions_stream_sends_role_content_stop_with_citations_then_done(client: TestClient) -> None:
    messages = [user(QUESTION), assistant("Matthew Miller."), user(FOLLOW_UP)]

    response = client.post("/v1/chat/completions", json={"model": "qa", "messages": messages, "stream": True,
                                                         "stream_options": {"include_usage": True}})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    data = [data for name, data in sse_events(response)]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    *content, stop, usage = chunks
    assert content[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"]["content"] for c in content)
    assert "not going to send any troops to Ukraine" in text
    assert [c["choices"][0]["finish_reason"] for c in content] == [None] * len(content)
    assert (stop["choices"][0]["delta"], stop["choices"][0]["finish_reason"]) == ({}, "stop")
    assert (stop["citations"][0]["article_id"], stop["citations"][0]["paragraph"]) == (TROOPS, 7)
    assert stop["nearest"] == []
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0


def test_chat_completions_refusal_carries_the_closest_passages(client: TestClient) -> None:
    body = client.post("/v1/chat/completions", json={"model": "qa", "messages": [user(NEAR_MISS)]}).json()

    assert body["choices"][0]["message"]["content"] == REFUSAL
    assert body["citations"] == []
    assert body["nearest"] == client.post("/v1/ask", json={"question": NEAR_MISS}).json()["nearest"]
    assert (body["nearest"][0]["article_id"], body["nearest"][0]["paragraph"]) == (TROOPS, 10)


def test_models_lists_the_one_model(client: TestClient) -> None:
    body = client.get("/v1/models").json()

    assert [model["id"] for model in body["data"]] == ["qa"]


# articles --------------------------------------------------------------------------------------------------

def test_articles_lists_every_article_with_its_paragraph_count(client: TestClient) -> None:
    response = client.get("/v1/articles")

    assert response.status_code == 200
    articles = response.json()["articles"]
    assert [(a["id"], a["paragraphs"]) for a in articles] == [(TROOPS, 18), (ANGRY, 7)]
    assert articles[0]["title"].startswith("Macron's remark on deployment of foreign troops")
    assert list(articles[0]) == ["id", "title", "outlet", "date", "url", "paragraphs"]


def test_article_returns_its_numbered_paragraphs_with_their_sections(client: TestClient) -> None:
    response = client.get(f"/v1/articles/{TROOPS}")

    assert response.status_code == 200
    article = response.json()
    assert article["id"] == TROOPS
    assert [p["number"] for p in article["paragraphs"]] == list(range(1, 19))
    sixth = article["paragraphs"][5]
    assert sixth["text"].startswith("State Department spokesman Matthew Miller")
    assert sixth["section"] == "State Department reaction"
    assert article["paragraphs"][0]["section"] == ""


def test_paragraph_returns_one_numbered_paragraph(client: TestClient) -> None:
    response = client.get(f"/v1/articles/{ANGRY}/paragraphs/3")

    assert response.status_code == 200
    assert response.json() == {
        "article_id": ANGRY, "title": "US angry with Macron – Bloomberg", "number": 3, "section": "",
        "text": "A senior US official has told the outlet that some in Washington believe Macron might trigger a "
                "clash with Moscow. The French leader’s justification for his statement has been criticized by "
                "allies behind closed doors, according to a report on Wednesday.",
    }


@pytest.mark.parametrize(("path", "status", "detail"), [
    ("/v1/articles/nope", 404, "no article 'nope'"),
    ("/v1/articles/nope/paragraphs/1", 404, "no article 'nope'"),
    (f"/v1/articles/{ANGRY}/paragraphs/99", 404, f"{ANGRY} has paragraphs 1-7; got 99"),
    (f"/v1/articles/{ANGRY}/paragraphs/0", 404, f"{ANGRY} has paragraphs 1-7; got 0"),
    (f"/v1/articles/{ANGRY}/paragraphs/two", 422,
     "number: Input should be a valid integer, unable to parse string as an integer"),
])
def test_unknown_article_or_paragraph_answers_with_one_line(client: TestClient, path: str, status: int,
                                                            detail: str) -> None:
    response = client.get(path)

    assert (response.status_code, response.json()) == (status, {"detail": detail})


# errors ----------------------------------------------------------------------------------------------------

TOO_LONG = "x" * 4001
NO_USER = "messages: there is no user message to answer"


@pytest.mark.parametrize(("path", "body", "detail"), [
    ("/v1/ask", {"question": ""}, "question: the text is empty"),
    ("/v1/ask", {"question": "   "}, "question: the text is empty"),
    ("/v1/ask", {"question": TOO_LONG}, "question: 4001 characters; the limit is 4000"),
    ("/v1/ask", {"question": " " + "x" * 4000}, "question: 4001 characters; the limit is 4000"),
    ("/v1/ask", {}, "question: Field required"),
    ("/v1/ask", {"question": 42}, "question: Input should be a valid string"),
    ("/v1/ask", {"question": QUESTION, "k": 0}, "k: Input should be greater than or equal to 1"),
    ("/v1/ask", {"question": QUESTION, "k": 51}, "k: Input should be less than or equal to 50"),
    ("/v1/ask", {"question": QUESTION, "k": "3"}, "k: Input should be a valid integer"),
    ("/v1/ask", {"question": QUESTION, "k": True}, "k: Input should be a valid integer"),
    ("/v1/ask", {"question": QUESTION, "filters": {"date_from": "2024-13-01"}},
     "filters.date_from: '2024-13-01' is not a date (use YYYY-MM-DD)"),
    ("/v1/ask", {"question": QUESTION, "filters": {"date_to": "March 5"}},
     "filters.date_to: 'March 5' is not a date (use YYYY-MM-DD)"),
    ("/v1/ask", {"question": QUESTION, "filters": {"since": "2024-01-01"}},
     "filters.since: Extra inputs are not permitted"),
    ("/v1/ask", {"question": QUESTION, "filters": {"articles": [""]}},
     "filters.articles[0]: the article id is empty"),
    ("/v1/ask", [QUESTION], NOT_AN_OBJECT),
    ("/v1/chat", {"messages": [{"role": "robot", "content": QUESTION}]},
     "messages[0].role: Input should be 'user' or 'assistant'"),
    ("/v1/chat", {"messages": [{"content": QUESTION}]}, "messages[0].role: Field required"),
    ("/v1/chat", {"messages": [assistant("Matthew Miller.")]}, NO_USER),
    ("/v1/chat", {"messages": []}, "messages: List should have at least 1 item after validation, not 0"),
    ("/v1/chat", {"messages": [user(QUESTION), user("")]}, "messages[1].content: the text is empty"),
    ("/v1/chat", {"messages": [user(" "), user(QUESTION)]}, "messages[0].content: the text is empty"),
    ("/v1/chat", {"messages": [user(TOO_LONG), assistant("No."), user(FOLLOW_UP)]},
     "messages[0].content: 4001 characters; the limit is 4000"),
    ("/v1/chat", {"messages": [user(QUESTION)], "stream": 0}, "stream: Input should be a valid boolean"),
    ("/v1/chat/completions", {"model": "qa", "messages": [{"role": "tool", "content": "42"}]},
     "messages[0].role: Input should be 'user', 'system', 'developer' or 'assistant'"),
    ("/v1/chat/completions", {"model": "qa", "messages": [{"role": "system", "content": "Be brief."}]}, NO_USER),
    ("/v1/chat/completions", {"model": "qa", "messages": [{"role": "user"}]}, "messages[0].content: Field required"),
    ("/v1/chat/completions", {"model": "qa", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                                                      {"type": "text", "text": TOO_LONG[2:]}]}]},
     "the question is 4001 characters long; the limit is 4000"),
    ("/v1/chat/completions", {"model": "qa", "messages": [user(QUESTION)], "stream": 1},
     "stream: Input should be a valid boolean"),
])
def test_invalid_request_answers_422_with_a_one_line_detail(client: TestClient, path: str, body: object,
                                                             detail: str) -> None:
    response = client.post(path, json=body)

    assert (response.status_code, response.json()) == (422, {"detail": detail})


def test_malformed_json_answers_422_with_where_it_broke(client: TestClient) -> None:
    response = client.post("/v1/ask", content=b'{"question": ', headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert response.json() == {"detail": "malformed JSON at character 13: Expecting value"}


def test_a_body_that_is_not_json_answers_422_asking_for_json(client: TestClient) -> None:
    response = client.post("/v1/ask", content=f'{{"question": "{QUESTION}"}}',
                           headers={"content-type": "application/x-www-form-urlencoded"})

    assert (response.status_code, response.json()) == (422, {"detail": NOT_AN_OBJECT})


def test_a_body_that_is_not_utf8_answers_422_saying_so(client: TestClient) -> None:
    response = client.post("/v1/ask", content=b'{"question": "caf\xe9?"}', headers={"content-type": "application/json"})

    assert (response.status_code, response.json()) == (422, {"detail": NOT_UTF8})


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("GET", "/v1/ask", "POST"),
    ("OPTIONS", "/v1/chat", "POST"),
    ("DELETE", "/v1/articles", "GET"),
])
def test_a_wrong_method_on_an_api_path_answers_405_naming_the_right_one(client: TestClient, method: str, path: str,
                                                                        allowed: str) -> None:
    response = client.request(method, path)

    assert (response.status_code, response.headers["allow"]) == (405, allowed)


def test_the_page_and_its_files_are_served_beside_the_api(client: TestClient) -> None:
    page = client.get("/")
    script = client.get("/static/app.js")

    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert 'src="static/app.js"' in page.text
    assert (script.status_code, script.headers["content-type"].split(";")[0]) == (200, "text/javascript")
    assert client.get("/static/missing.js").status_code == 404


def test_the_openapi_document_gives_every_error_its_one_line_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ask = spec["paths"]["/v1/ask"]["post"]
    paragraph = spec["paths"]["/v1/articles/{article_id}/paragraphs/{number}"]["get"]

    assert sorted(ask["responses"]) == ["200", "401", "404", "413", "422", "429", "502", "503"]
    assert sorted(paragraph["responses"]) == ["200", "401", "404", "422", "429", "503"]
    assert {r["content"]["application/json"]["schema"]["$ref"] for r in [
        ask["responses"]["422"], paragraph["responses"]["404"]]} == {"#/components/schemas/ErrorBody"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    question = spec["components"]["schemas"]["AskBody"]["properties"]["question"]
    assert (question["minLength"], question["maxLength"], question["pattern"]) == (1, 4000, r"\S")
    assert "/" not in spec["paths"]


def test_a_failing_llm_answers_502_with_one_line(ingested: Ingested) -> None:
    def refuse(messages: list[dict]) -> str:
        raise HTTPException(status_code=401, detail="invalid api key")

    with running_fake_llm(refuse) as llm:
        settings = ingested.settings.model_copy(update={"llm_base_url": llm.base_url, "llm_model": FAKE_MODEL})
        parts = Components(store=ingested.store,
                           pipeline=build_pipeline(settings, retriever=ingested.retriever,
                                                   language=ingested.pipeline.language))
        response = TestClient(create_app(settings, components=parts)).post("/v1/ask", json={"question": QUESTION})

    assert (response.status_code, response.json()) == (
        502, {"detail": f"LLM endpoint {llm.base_url} answered HTTP 401: invalid api key"})


class BrokenRetriever:
    """A retriever with a bug: the API must answer 500 with one line, not a traceback."""

    def resolve_filters(self, filters):
        return filters

    def retrieve_hits(self, query: str, **kwargs) -> list:
        raise RuntimeError("index out of sync\n  File \"retrieve.py\", line 1")


def test_an_unexpected_error_answers_500_with_one_line_and_no_traceback(ingested: Ingested) -> None:
    parts = Components(store=ingested.store, pipeline=replace(ingested.pipeline, retriever=BrokenRetriever()))
    client = TestClient(create_app(ingested.settings, components=parts), raise_server_exceptions=False)

    response = client.post("/v1/ask", json={"question": QUESTION})

    assert response.status_code == 500
    assert response.json() == {"detail": "internal error (RuntimeError); see the server log"}


# API key and CORS ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keyed_client(ingested: Ingested) -> TestClient:
    """Return a client of an app that requires the API key KEY."""
    return app_client(ingested, api_key=KEY)


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/v1/ask"), ("post", "/v1/chat"), ("post", "/v1/chat/completions"), ("get", "/v1/articles"),
    ("get", f"/v1/articles/{ANGRY}"), ("get", f"/v1/articles/{ANGRY}/paragraphs/1"), ("get", "/v1/models"),
])
def test_every_v1_route_without_the_key_answers_401(keyed_client: TestClient, method: str, path: str) -> None:
    response = keyed_client.request(method, path, json={})

    assert response.status_code == 401
    assert response.json() == {"detail": "missing API key: send Authorization: Bearer <key>"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_wrong_key_answers_401(keyed_client: TestClient) -> None:
    response = keyed_client.post("/v1/ask", json={"question": QUESTION}, headers={"Authorization": f"Bearer {KEY}x"})

    assert (response.status_code, response.json()) == (401, {"detail": "invalid API key"})


def test_the_right_key_answers_and_health_needs_no_key(keyed_client: TestClient) -> None:
    response = keyed_client.post("/v1/ask", json={"question": QUESTION}, headers={"Authorization": f"Bearer {KEY}"})

    assert response.status_code == 200
    assert first_citation(response.json()) == (TROOPS, 6)
    assert keyed_client.get("/healthz").status_code == 200
    assert keyed_client.get("/readyz").status_code == 200


ORIGIN = "http://localhost:5173"


def test_cors_headers_are_sent_only_to_configured_origins(ingested: Ingested) -> None:
    client = app_client(ingested, cors_origins=f"{ORIGIN}, https://example.org")

    allowed = client.get("/v1/articles", headers={"Origin": ORIGIN})
    preflight = client.options("/v1/ask", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "authorization,content-type"})
    other = client.get("/v1/articles", headers={"Origin": "http://evil.example"})

    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-origin" not in other.headers


def test_cors_is_off_unless_configured(client: TestClient) -> None:
    response = client.get("/v1/articles", headers={"Origin": ORIGIN})
    preflight = client.options("/v1/ask", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert preflight.status_code == 405
