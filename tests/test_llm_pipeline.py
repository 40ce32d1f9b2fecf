"""The LLM answerer end to end: the real store and retriever, the real OpenAI-compatible client, and a
fake endpoint on loopback that answers by quoting the passage the prompt numbers for it."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from fake_llm import running_fake_llm

import qa.embedding
from qa.answer import build_pipeline
from qa.chat import answer_conversation
from qa.cli import cli
from qa.config import get_settings

TROOPS = "macron-troops-remark-irks-us"
QUESTION = "Who is the State Department spokesman who responded to Bloomberg's report?"


def cite_miller(messages: list[dict]) -> str:
    """Reply with one supported sentence citing the passage about Miller, and one bogus citation."""
    prompt = messages[-1]["content"]
    passages = re.findall(r"^\[(\d+)\] [^\n]*\n<passage>\n(.*?)\n</passage>", prompt, re.M | re.S)
    number = next(n for n, text in passages if "Matthew Miller" in text)
    return (f"State Department spokesman Matthew Miller responded to Bloomberg's publication [{number}]. "
            "He also announced new sanctions [9].")


@pytest.fixture
def llm_settings(ingested):
    with running_fake_llm(cite_miller) as llm:
        yield get_settings(data_dir=ingested.settings.data_dir, collection=ingested.settings.collection,
                           llm_base_url=llm.base_url, llm_model="fake-model"), llm


def test_llm_answer_cites_the_paragraph_the_model_cited_and_flags_the_bogus_marker(ingested, llm_settings) -> None:
    settings, llm = llm_settings
    pipeline = build_pipeline(settings, retriever=ingested.retriever, language=ingested.pipeline.language)

    answer = answer_conversation(QUESTION, [], pipeline=pipeline)

    assert answer.answerer == "llm"
    assert answer.answerable is True
    assert [(c.marker, c.article_id, c.paragraph) for c in answer.citations] == [(1, TROOPS, 6)]
    assert "Matthew Miller" in answer.citations[0].quote
    assert [(f.marker, f.reason) for f in answer.flags] == [(9, "no such passage")]
    assert len(llm.requests) == 1


def test_llm_follow_up_replays_history_without_calling_the_model_again(ingested, llm_settings) -> None:
    settings, llm = llm_settings
    pipeline = build_pipeline(settings, retriever=ingested.retriever, language=ingested.pipeline.language)

    answer = answer_conversation("What did he say next?", [QUESTION], pipeline=pipeline)

    assert answer.answerer == "llm"
    assert len(llm.requests) == 1
    messages = llm.requests[0]["messages"]
    assert any(m["role"] == "user" and QUESTION in m["content"] for m in messages[:-1])


def test_cli_ask_json_uses_the_configured_llm_endpoint(ingested, llm_settings, embedder, monkeypatch) -> None:
    settings, _ = llm_settings
    monkeypatch.setattr(qa.embedding, "build_embedder", lambda s: embedder)
    env = {"QA_DATA_DIR": str(settings.data_dir), "QA_COLLECTION": settings.collection,
           "QA_LLM_BASE_URL": settings.llm_base_url, "QA_LLM_MODEL": "fake-model"}

    result = CliRunner().invoke(cli, ["ask", "--json", QUESTION], env=env, catch_exceptions=False)

    assert result.exit_code == 0
    answer = json.loads(result.stdout)
    assert (answer["answerer"], answer["answerable"]) == ("llm", True)
    assert (answer["citations"][0]["article_id"], answer["citations"][0]["paragraph"]) == (TROOPS, 6)
    assert answer["flags"][0]["marker"] == 9


def test_cli_ask_with_unreachable_llm_prints_one_error_line(ingested, embedder, monkeypatch) -> None:
    from fake_llm import free_port

    monkeypatch.setattr(qa.embedding, "build_embedder", lambda s: embedder)
    env = {"QA_DATA_DIR": str(ingested.settings.data_dir), "QA_COLLECTION": ingested.settings.collection,
           "QA_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "QA_LLM_MODEL": "fake-model"}

    result = CliRunner().invoke(cli, ["ask", QUESTION], env=env, catch_exceptions=False)

    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: LLM endpoint http://127.0.0.1:")


def swap_numbers(messages: list[dict]) -> str:
    """Reply with the Paris meeting's day and head count swapped: each number is in the passage, the
    sentence no longer says what it says."""
    prompt = messages[-1]["content"]
    number = next(n for n, text in re.findall(r"^\[(\d+)\] (.*)$", prompt, re.M) if "approximately 20" in text)
    return (f"On February 20, approximately 26 European leaders gathered in Paris to discuss threats from "
            f"Russian President Vladimir Putin [{number}].")


def test_a_generated_answer_swapping_numbers_is_flagged_in_the_api_response(ingested) -> None:
    from fastapi.testclient import TestClient

    from qa.api import Components, create_app

    with running_fake_llm(swap_numbers) as llm:
        settings = get_settings(data_dir=ingested.settings.data_dir, collection=ingested.settings.collection,
                                llm_base_url=llm.base_url, llm_model="fake-model")
        pipeline = build_pipeline(settings, retriever=ingested.retriever, language=ingested.pipeline.language)
        client = TestClient(create_app(settings, components=Components(store=ingested.store, pipeline=pipeline)))
        response = client.post("/v1/ask", json={"question": "How many European leaders gathered in Paris?"})

    assert response.status_code == 200
    body = response.json()
    assert body["answerable"] is False and body["citations"] == []
    (flag,) = body["flags"]
    assert flag["reason"] == ("passage contradicts the sentence: the cited sentence has February 26 where the "
                              "claim has February 20")
