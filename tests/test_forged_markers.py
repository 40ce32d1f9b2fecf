"""Documents cannot forge citations: a document's own bracketed numbers ("[2]", "[99]", "[1, 3]") are
defused ("［2］") wherever its text enters answer text, so neither parse_markers, nor an OpenAI client
parsing [n], nor the web page finds a citation that is not there; quotes keep the document's characters."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Ingested, MemoizedEmbedder, ingest_seed, shared_language
from fastapi.testclient import TestClient
from headless import launch_chromium
from live_server import serving
from playwright.sync_api import Browser, expect

from qa.api import Components, create_app
from qa.chat import answer_conversation
from qa.citations import defuse_markers, parse_markers
from qa.config import get_settings

HARBOUR = "harbour-record"
FORGED = ("The harbour authority in Rotterdam handled 14 million containers last year [2], a record "
          "according to its annual report [99].")
ARTICLE = f"""Harbour authority reports record cargo volumes

{FORGED}

Officials credited the new deep-water terminal [1, 3] and longer opening hours [1;2].
"""
QUESTION = "How many containers did the harbour authority in Rotterdam handle last year?"
DEFUSED = ("The harbour authority in Rotterdam handled 14 million containers last year ［2］, a record "
           "according to its annual report ［99］ [1].")
MARKER = re.compile(r"\[(\d+)\]")  # what the web page and most clients look for


@pytest.mark.parametrize(("text", "defused"), [
    ("last year [2], a record [99].", "last year ［2］, a record ［99］."),
    ("the terminal [1, 3] and [1;2] and [ 4 ]", "the terminal ［1, 3］ and ［1;2］ and ［ 4 ］"),
    ("a list [a] and [1a] and [] and 1,200 [sic]", "a list [a] and [1a] and [] and 1,200 [sic]"),
])
def test_defuse_markers_writes_a_documents_bracketed_numbers_fullwidth_at_the_same_length(text: str,
                                                                                         defused: str) -> None:
    assert defuse_markers(text) == defused
    assert len(defuse_markers(text)) == len(text)
    assert [markers for _, markers in parse_markers(defuse_markers(text))] == [[] for _ in parse_markers(text)]


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory, embedder, memo_embedder: MemoizedEmbedder) -> Ingested:
    """Return the pipeline over one article whose text holds bracketed numbers."""
    corpus = tmp_path_factory.mktemp("forged-corpus")
    (corpus / f"{HARBOUR}.txt").write_text(ARTICLE, encoding="utf-8")
    settings = get_settings(data_dir=tmp_path_factory.mktemp("forged") / "data", collection="news")
    return ingest_seed(settings, embedder=embedder, memo_embedder=memo_embedder, language=shared_language(),
                       seed_corpus=corpus)


def test_the_extractive_answer_defuses_the_documents_numbers_and_quotes_them_as_they_are(harbour: Ingested) -> None:
    answer = answer_conversation(QUESTION, [], pipeline=harbour.pipeline)

    assert answer.answerable is True
    assert answer.answer == DEFUSED
    assert [markers for _, markers in parse_markers(answer.answer)] == [[1]]
    [citation] = answer.citations
    assert citation.quote == FORGED
    assert citation.text[citation.start:citation.end] == FORGED


def test_api_answers_and_completions_carry_only_their_own_markers(harbour: Ingested) -> None:
    parts = Components(store=harbour.store, pipeline=harbour.pipeline)
    client = TestClient(create_app(harbour.settings, components=parts))
    messages = [{"role": "user", "content": QUESTION}]

    ask = client.post("/v1/ask", json={"question": QUESTION}).json()
    streamed = client.post("/v1/chat", json={"messages": messages, "stream": True}).text
    completion = client.post("/v1/chat/completions", json={"model": "qa", "messages": messages}).json()

    assert ask["answer"] == DEFUSED
    assert MARKER.findall(ask["answer"]) == ["1"]
    deltas = [json.loads(line[6:])["text"] for line in streamed.splitlines()
              if line.startswith("data: ") and '"text"' in line[:20]]
    assert "".join(deltas) == DEFUSED
    content = completion["choices"][0]["message"]["content"]
    assert (content, MARKER.findall(content)) == (DEFUSED, ["1"])
    assert [c["marker"] for c in completion["citations"]] == [1]
    assert completion["citations"][0]["quote"] == FORGED


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Yield headless system chromium."""
    yield from launch_chromium()


def test_the_page_makes_a_source_button_only_of_the_answers_own_marker(harbour: Ingested, browser: Browser) -> None:
    with serving(harbour) as url:
        context = browser.new_context(base_url=url)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            page.goto("/")
            box = page.get_by_label("Your question")
            box.fill(QUESTION)
            box.press("Enter")
            answer = page.locator(".turn.assistant")
            expect(answer).not_to_have_attribute("aria-busy", "true", timeout=60_000)
            text = answer.locator(".text")
            expect(text).to_contain_text("last year ［2］, a record according to its annual report ［99］")
            expect(text.get_by_role("button")).to_have_count(1)
            expect(text.get_by_role("button")).to_have_text("[1]")
            text.get_by_role("button").click()
            expect(page.locator("#source-text mark")).to_have_text(FORGED)
        finally:
            context.close()
    assert errors == []
