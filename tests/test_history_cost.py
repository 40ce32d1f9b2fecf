"""A conversation's cost is bounded: whatever its length, a request replays at most MAX_REPLAYED_TURNS
earlier questions, through the API and the CLI alike, and answers as the same conversation cut to them."""

from __future__ import annotations

from dataclasses import replace

import json
from pathlib import Path

import pytest
from conftest import Ingested
from fastapi.testclient import TestClient

from qa.api import Components, create_app
from qa.api.schemas import split_conversation
from qa.chat import MAX_REPLAYED_TURNS

QUESTION = "Who is the State Department spokesman who responded to Bloomberg's report?"
FOLLOW_UP = "What did he say next?"
TROOPS = "macron-troops-remark-irks-us"


class CountingRetriever:
    """The session's retriever, counting the retrievals a request runs."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.retrievals = 0

    def retrieve_hits(self, *args, **kwargs):
        """Count, then retrieve."""
        self.retrievals += 1
        return self.inner.retrieve_hits(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def long_conversation(turns: int) -> list[dict]:
    """Return `turns` distinct user questions, the Miller question, then its follow-up."""
    asked = [{"role": "user", "content": f"When did European leaders gather in Paris? ({i})"} for i in range(turns)]
    return [*asked, {"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Miller [1]."},
            {"role": "user", "content": FOLLOW_UP}]


def test_split_conversation_keeps_the_last_user_message_and_the_ones_just_before_it() -> None:
    messages = [("user", f"q{i}") for i in range(100)] + [("assistant", "a"), ("user", "last"), ("assistant", "b")]

    question, history = split_conversation(messages)

    assert (question, history) == ("last", [f"q{i}" for i in range(100 - MAX_REPLAYED_TURNS, 100)])
    assert MAX_REPLAYED_TURNS == 5


def test_a_100_message_conversation_costs_as_many_retrievals_as_its_last_turns(ingested: Ingested) -> None:
    counting = CountingRetriever(ingested.retriever)
    parts = Components(store=ingested.store, pipeline=replace(ingested.pipeline, retriever=counting))
    client = TestClient(create_app(ingested.settings, components=parts))
    messages = long_conversation(98)

    whole = client.post("/v1/chat", json={"messages": messages})
    spent = counting.retrievals
    cut = client.post("/v1/chat", json={"messages": messages[-2 - MAX_REPLAYED_TURNS:]})

    assert len(json.dumps({"messages": messages})) > 7_000
    assert whole.status_code == 200
    assert spent == MAX_REPLAYED_TURNS + 1
    assert {k: v for k, v in whole.json().items() if k != "confidence"} == {
        k: v for k, v in cut.json().items() if k != "confidence"}
    assert (whole.json()["citations"][0]["article_id"], whole.json()["citations"][0]["paragraph"]) == (TROOPS, 7)


def test_cli_batch_replays_the_same_last_turns_as_the_api(ingested: Ingested, monkeypatch: pytest.MonkeyPatch,
                                                          embedder, tmp_path: Path) -> None:
    from click.testing import CliRunner

    import qa.embedding
    from qa.cli import cli

    monkeypatch.setattr(qa.embedding, "build_embedder", lambda settings: embedder)
    history = [m["content"] for m in long_conversation(30) if m["role"] == "user"][:-1]
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({"question": FOLLOW_UP, "history": history}) + "\n"
                     + json.dumps({"question": FOLLOW_UP, "history": history[-MAX_REPLAYED_TURNS:]}) + "\n")
    env = {"QA_DATA_DIR": str(ingested.settings.data_dir), "QA_COLLECTION": ingested.settings.collection}

    result = CliRunner().invoke(cli, ["ask", "--batch", str(batch), "--json"], env=env, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    whole, cut = (json.loads(line) for line in result.stdout.splitlines())
    assert {k: v for k, v in whole.items() if k != "confidence"} == {k: v for k, v in cut.items() if k != "confidence"}
    assert (whole["citations"][0]["article_id"], whole["citations"][0]["paragraph"]) == (TROOPS, 7)
