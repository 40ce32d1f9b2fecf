"""Hostile request input through TestClient: text that is not valid Unicode wherever a string enters,
bodies over the limit, malformed and deeply nested JSON. Each is a one-line {"detail"}, never a 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from qa.api import Components, create_app
from qa.api.app import MAX_BODY_BYTES
from qa.api.errors import TOO_DEEP, TOO_LARGE

from conftest import Ingested

QUESTION = "Who is the State Department spokesman who responded to Bloomberg's report?"
ANGRY = "us-angry-with-macron"
# "\ud800" in JSON decodes to a lone surrogate: not a character, and nothing can encode it as UTF-8
LONE = "Who is \\ud800 Matthew Miller?"
AT_7 = "not valid Unicode: a lone surrogate (U+D800) at character 7"


@pytest.fixture(scope="module")
def client(ingested: Ingested) -> TestClient:
    """Return a client of the app over the seed corpus."""
    parts = Components(store=ingested.store, pipeline=ingested.pipeline)
    return TestClient(create_app(ingested.settings, components=parts), raise_server_exceptions=False)


def raw_post(client: TestClient, path: str, body: str):
    """Return the response to a POST of `body` as written (JSON escapes kept as they are)."""
    return client.post(path, content=body.encode("ascii"), headers={"content-type": "application/json"})


def user(text: str) -> str:
    """Return a user message as raw JSON (`text` already escaped)."""
    return f'{{"role": "user", "content": "{text}"}}'


@pytest.mark.parametrize(("path", "body", "detail"), [
    ("/v1/ask", f'{{"question": "{LONE}"}}', f"question: {AT_7}"),
    ("/v1/chat", f'{{"messages": [{user(LONE)}]}}', f"messages[0].content: {AT_7}"),
    ("/v1/chat", f'{{"messages": [{user(LONE)}], "stream": true}}', f"messages[0].content: {AT_7}"),
    ("/v1/chat", f'{{"messages": [{user(LONE)}, {user(QUESTION)}]}}', f"messages[0].content: {AT_7}"),
    ("/v1/chat", f'{{"messages": [{{"role": "assistant", "content": "{LONE}"}}, {user(QUESTION)}]}}',
     f"messages[0].content: {AT_7}"),
    ("/v1/chat/completions", f'{{"messages": [{user(LONE)}]}}', f"messages[0].content: {AT_7}"),
    ("/v1/chat/completions", f'{{"messages": [{user(LONE)}], "stream": true}}', f"messages[0].content: {AT_7}"),
    ("/v1/chat/completions", f'{{"messages": [{{"role": "system", "content": "{LONE}"}}, {user(QUESTION)}]}}',
     f"messages[0].content: {AT_7}"),
    ("/v1/chat/completions", f'{{"messages": [{{"role": "user", "content": [{{"type": "text", "text": "{LONE}"}}]}}]}}',
     f"messages[0].content[0].text: {AT_7}"),
    ("/v1/chat/completions", f'{{"model": "{LONE}", "messages": [{user(QUESTION)}]}}', f"model: {AT_7}"),
    ("/v1/ask", f'{{"question": "{QUESTION}", "filters": {{"articles": ["{LONE}"]}}}}', f"filters.articles[0]: {AT_7}"),
    ("/v1/ask", f'{{"question": "{QUESTION}", "filters": {{"outlet": "{LONE}"}}}}', f"filters.outlet: {AT_7}"),
    ("/v1/ask", f'{{"question": "{QUESTION}", "filters": {{"date_from": "{LONE}"}}}}', f"filters.date_from: {AT_7}"),
    ("/v1/ask", f'{{"question": "{QUESTION}", "filters": {{"\\udc00": ""}}}}',
     "filters: Input should be a valid string, unable to parse raw data as a unicode string"),
])
def test_a_lone_surrogate_anywhere_answers_422_saying_where(client: TestClient, path: str, body: str,
                                                             detail: str) -> None:
    response = raw_post(client, path, body)

    assert (response.status_code, response.json()) == (422, {"detail": detail})


def test_a_path_parameter_that_is_not_utf8_finds_no_article(client: TestClient) -> None:
    # a surrogate's bytes in the path are decoded with replacement characters: no surrogate gets through
    response = client.get("/v1/articles/%ED%A0%80/paragraphs/1")

    assert (response.status_code, response.json()) == (404, {"detail": "no article '\ufffd\ufffd\ufffd'"})


def test_a_body_over_the_limit_answers_413_with_a_one_line_json_detail(client: TestClient) -> None:
    body = json.dumps({"question": QUESTION, "padding": "x" * MAX_BODY_BYTES})

    response = client.post("/v1/ask", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": TOO_LARGE.format(limit=MAX_BODY_BYTES)}
    assert response.json()["detail"] == "the request body is larger than the limit of 1,000,000 bytes"


def test_a_chunked_body_over_the_limit_answers_413_as_it_arrives(client: TestClient) -> None:
    def pieces():
        yield b'{"question": "' + QUESTION.encode() + b'", "padding": "'
        for _ in range(11):
            yield b"x" * 100_000
        yield b'"}'

    response = client.post("/v1/ask", content=pieces(), headers={"content-type": "application/json"})

    assert (response.status_code, response.json()) == (413, {"detail": TOO_LARGE.format(limit=MAX_BODY_BYTES)})


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_json_nested_thousands_of_levels_deep_answers_422(client: TestClient, depth: int) -> None:
    body = '{"question": "q", "k": ' + "[" * depth + "]" * depth + "}"

    response = raw_post(client, "/v1/ask", body)

    assert (response.status_code, response.json()) == (422, {"detail": TOO_DEEP})


def test_json_nested_a_few_hundred_levels_deep_is_read_and_refused_for_what_it_holds(client: TestClient) -> None:
    body = '{"question": "q", "k": ' + "[" * 500 + "]" * 500 + "}"

    response = raw_post(client, "/v1/ask", body)

    assert (response.status_code, response.json()) == (422, {"detail": "k: Input should be a valid integer"})


@pytest.mark.parametrize("body", ['{"question": "q",}', '{"question": NaN}', "{'question': 'q'}", "\ufeff{}"])
def test_malformed_json_answers_422_with_one_line(client: TestClient, body: str) -> None:
    response = client.post("/v1/ask", content=body.encode("utf-8"), headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert response.json()["detail"].startswith(("malformed JSON", "question:"))
    assert "\n" not in response.json()["detail"]


def test_the_openapi_document_states_what_the_server_enforces(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    chat = spec["paths"]["/v1/chat"]["post"]["responses"]["200"]["content"]

    assert sorted(chat) == ["application/json", "text/event-stream"]
    assert sorted(spec["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]) == sorted(chat)
    assert schemas["ChatBody"]["properties"]["messages"]["contains"]["properties"]["role"] == {"const": "user"}
    assert schemas["FiltersBody"]["properties"]["date_from"]["anyOf"][1]["format"] == "date"
    assert schemas["FiltersBody"]["properties"]["articles"]["items"]["minLength"] == 1
    assert schemas["CompletionUserMessage"]["required"] == ["role", "content"]
    assert schemas["AssistantMessage"]["properties"]["content"] == {"type": "string", "title": "Content"}
    assert schemas["ChatBody"]["properties"]["stream"] == {"type": "boolean", "title": "Stream", "default": False}
