"""The pipeline as LlamaIndex's query and chat engines, the public `qa` surface, `qa eval run --engine`
on the LlamaIndex starter pipeline and on our own engine, and LlamaIndex's FaithfulnessEvaluator on our
responses (the one fake: the LLM, at the protocol level)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import env_for, reuse_model, run
from fake_llm import FAKE_MODEL, running_fake_llm
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.base.response.schema import AsyncStreamingResponse, Response, StreamingResponse
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse
from llama_index.core.evaluation import FaithfulnessEvaluator

import qa
from qa.answer import answer_question, build_pipeline
from qa.chat import answer_conversation
from qa.config import get_settings
from qa.engine import CitedQueryEngine, sentence_pieces
from qa.llm import llama_index_llm

ROOT = Path(__file__).resolve().parent.parent
SEED_SET = ROOT / "eval" / "datasets" / "seed.jsonl"
TROOPS = "macron-troops-remark-irks-us"
SPOKESMAN = "Who is the State Department spokesman who responded to Bloomberg's report?"
NEXT = "What did he say next?"
OFF_TOPIC = "Which team won the 2024 Super Bowl?"
NODE_KEYS = {"marker", "article_id", "title", "paragraph", "quote", "start", "end", "outlet", "date"}
QUOTED_TEXT = "Matthew Miller said he did not know what Macron meant. I don't know, he said."
CONTRACT_KEYS = {"answerable", "citations", "short_answer", "nearest", "flags", "confidence", "retrieved", "query"}


@pytest.fixture(scope="module", autouse=True)
def _one_model_load(embedder) -> Iterator[None]:
    """Make every engine and `qa` invocation reuse the session's real model."""
    yield from reuse_model(embedder)


@pytest.fixture
def engine(ingested) -> CitedQueryEngine:
    return CitedQueryEngine(ingested.pipeline)


def cited(nodes) -> list[tuple]:
    """Return what each source node cites: marker, address, quote and its offsets."""
    return [(n.node.metadata["marker"], n.node.metadata["article_id"], n.node.metadata["paragraph"],
             n.node.metadata["quote"], n.node.metadata["start"], n.node.metadata["end"]) for n in nodes]


def cli_cited(answer: dict) -> list[tuple]:
    """Return what each citation of a `qa ask --json` answer cites, as cited() gives it."""
    return [(c["marker"], c["article_id"], c["paragraph"], c["quote"], c["start"], c["end"]) for c in answer["citations"]]


# the query engine --------------------------------------------------------------------------------------

def test_query_returns_the_cited_answer_with_each_cited_paragraph_as_a_source_node(engine, ingested) -> None:
    response = engine.query(SPOKESMAN)
    answer = answer_question(SPOKESMAN, pipeline=ingested.pipeline)

    assert isinstance(engine, BaseQueryEngine) and isinstance(response, Response)
    assert response.response == answer.answer and "[1]" in response.response
    assert [(n.node.node_id, n.node.text) for n in response.source_nodes] == [
        (f"{c.article_id}:{c.paragraph}", c.text) for c in answer.citations]
    first = response.source_nodes[0].node
    assert set(first.metadata) == NODE_KEYS
    assert first.metadata["article_id"] == TROOPS and first.metadata["paragraph"] == 6
    assert first.text[first.metadata["start"]:first.metadata["end"]] == first.metadata["quote"]
    assert CONTRACT_KEYS <= set(response.metadata)
    assert response.metadata["answerable"] is True
    assert response.metadata["short_answer"]["text"] == "Matthew Miller"
    assert response.source_nodes[0].score == pytest.approx(answer.confidence)


def test_a_refusal_has_no_source_nodes_and_its_metadata_lists_the_nearest_passages(engine) -> None:
    response = engine.query("Which political party does Slovak Prime Minister Robert Fico lead?")

    assert response.metadata["answerable"] is False
    assert response.source_nodes == []
    assert response.metadata["nearest"] and {"article_id", "paragraph", "quote"} <= set(response.metadata["nearest"][0])


def test_aquery_answers_as_query_does(engine) -> None:
    response = asyncio.run(engine.aquery(SPOKESMAN))

    assert isinstance(response, Response)
    assert (response.response, cited(response.source_nodes)) == (
        engine.query(SPOKESMAN).response, cited(engine.query(SPOKESMAN).source_nodes))


def cite_miller_twice(messages: list[dict]) -> str:
    """Reply with two sentences, each citing the passage that names Matthew Miller (whatever the prompt's layout)."""
    parts = re.split(r"^\[(\d+)\]", messages[-1]["content"], flags=re.M)
    number = next(n for n, text in zip(parts[1::2], parts[2::2]) if "Matthew Miller responded" in text)
    return (f"State Department spokesman Matthew Miller responded to Bloomberg's publication [{number}]. "
            f"He said he doesn't have any reaction [{number}].")


@pytest.fixture
def llm_pipeline(ingested) -> Iterator:
    """Return the stages with the LLM answerer, its endpoint the loopback fake."""
    with running_fake_llm(cite_miller_twice) as llm:
        settings = get_settings(data_dir=ingested.settings.data_dir, collection=ingested.settings.collection,
                                llm_base_url=llm.base_url, llm_model=FAKE_MODEL)
        yield build_pipeline(settings, retriever=ingested.retriever, language=ingested.pipeline.language)


def test_a_streaming_engine_sends_the_answer_a_sentence_at_a_time(llm_pipeline) -> None:
    streaming = CitedQueryEngine(llm_pipeline, streaming=True)
    whole = CitedQueryEngine(llm_pipeline).query(SPOKESMAN)

    response = streaming.query(SPOKESMAN)
    pieces = list(response.response_gen)

    assert isinstance(response, StreamingResponse) and whole.metadata["answerer"] == "llm"
    assert pieces == ["State Department spokesman Matthew Miller responded to Bloomberg's publication [1]. ",
                      "He said he doesn't have any reaction [1]."]
    assert "".join(pieces) == whole.response
    assert cited(response.source_nodes) == cited(whole.source_nodes) and response.metadata == whole.metadata

    async def collect() -> tuple[AsyncStreamingResponse, list[str]]:
        streamed = await streaming.aquery(SPOKESMAN)
        return streamed, [piece async for piece in streamed.async_response_gen()]

    streamed, async_pieces = asyncio.run(collect())
    assert isinstance(streamed, AsyncStreamingResponse) and async_pieces == pieces


def test_sentence_pieces_keep_markers_with_their_sentence_and_join_to_the_text() -> None:
    text = 'He said he "doesn\'t have any reaction." [1] Then he left [2]. "We work with him," he said [1][2].'

    pieces = sentence_pieces(text)

    assert pieces == ['He said he "doesn\'t have any reaction." [1] ', "Then he left [2]. ",
                      '"We work with him," he said [1][2].']
    assert "".join(pieces) == text and sentence_pieces("") == [""]


# the chat engine ---------------------------------------------------------------------------------------

def test_the_chat_engine_resolves_what_did_he_say_next_as_the_cli_does(engine, ingested) -> None:
    chat = engine.as_chat_engine()

    first = chat.chat(SPOKESMAN)
    second = chat.chat(NEXT)

    assert isinstance(chat, BaseChatEngine) and isinstance(second, AgentChatResponse)
    library = answer_conversation(NEXT, [SPOKESMAN], pipeline=ingested.pipeline)
    assert second.response == library.answer
    assert (second.source_nodes[0].node.metadata["article_id"], second.source_nodes[0].node.metadata["paragraph"]) == (TROOPS, 7)
    assert second.metadata["query"] != NEXT  # resolved against the earlier turn
    assert [(m.role, m.content) for m in chat.chat_history] == [
        (MessageRole.USER, SPOKESMAN), (MessageRole.ASSISTANT, first.response),
        (MessageRole.USER, NEXT), (MessageRole.ASSISTANT, second.response)]
    assert second.sources[0].raw_output.metadata == second.metadata  # the contract, for agents reading tool outputs
    chat.reset()
    assert chat.chat_history == [] and chat.chat(NEXT).response != second.response


def test_a_given_chat_history_replaces_the_conversation(engine) -> None:
    chat = engine.as_chat_engine()
    chat.chat(OFF_TOPIC)

    response = chat.chat(NEXT, chat_history=[ChatMessage(role=MessageRole.USER, content=SPOKESMAN)])

    assert response.source_nodes[0].node.node_id == f"{TROOPS}:7"
    assert [m.content for m in chat.chat_history if m.role == MessageRole.USER] == [SPOKESMAN, NEXT]


def test_chat_streams_and_answers_asynchronously_as_it_answers(engine) -> None:
    expected = engine.as_chat_engine(
        chat_history=[ChatMessage(role=MessageRole.USER, content=SPOKESMAN)]).chat(NEXT)
    chat = engine.as_chat_engine(chat_history=[ChatMessage(role=MessageRole.USER, content=SPOKESMAN)])

    streamed = chat.stream_chat(NEXT)
    assert isinstance(streamed, StreamingAgentChatResponse)
    assert "".join(streamed.response_gen) == expected.response == streamed.response
    assert cited(streamed.source_nodes) == cited(expected.source_nodes)

    async def converse() -> tuple[AgentChatResponse, list[str]]:
        fresh = engine.as_chat_engine(chat_history=[ChatMessage(role=MessageRole.USER, content=SPOKESMAN)])
        answered = await fresh.achat(NEXT)
        fresh.reset()
        await fresh.achat(SPOKESMAN)
        stream = await fresh.astream_chat(NEXT)
        return answered, [piece async for piece in stream.async_response_gen()]

    answered, pieces = asyncio.run(converse())
    assert answered.response == expected.response == "".join(pieces)


# the public surface ------------------------------------------------------------------------------------

def test_source_nodes_match_the_cli_citations_for_the_same_questions(ingested, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in SEED_SET.read_text(encoding="utf-8").splitlines()[:10]]
    rows += [{"question": NEXT, "history": [SPOKESMAN]}, {"question": OFF_TOPIC, "history": []}]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps({"question": r["question"], "history": r.get("history", [])}) + "\n"
                             for r in rows), encoding="utf-8")
    result = run(["ask", "--batch", str(batch), "--json"], env_for(ingested.settings))
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines()]

    engine = qa.open_engine(data_dir=ingested.settings.data_dir, collection=ingested.settings.collection)
    for row, answer in zip(rows, printed, strict=True):
        history = [ChatMessage(role=MessageRole.USER, content=h) for h in row.get("history", [])]
        response = engine.as_chat_engine(chat_history=history).chat(row["question"]) if history \
            else engine.query(row["question"])
        assert response.response == answer["answer"], row["question"]
        assert cited(response.source_nodes) == cli_cited(answer), row["question"]
        assert [n.node.text for n in response.source_nodes] == [c["text"] for c in answer["citations"]]
        assert {**response.metadata, "answer": response.response} == answer


def test_import_qa_loads_no_model_and_no_database_client() -> None:
    probe = ("import sys, qa; heavy = ('chromadb', 'torch', 'spacy', 'sentence_transformers', 'llama_index', 'openai');"
             "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)), qa.Answer.__module__)")

    printed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout

    assert printed.split() == ["[]", "qa.models"]


def readme_snippet() -> str:
    """Return the README's Python block that opens the engine."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    return next(b for b in blocks if "from qa import open_engine" in b)


def test_the_readme_snippet_runs_as_written_in_a_fresh_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    report = qa.ingest_path(ROOT / "corpus", data_dir=data)
    assert (len(report.added), report.problems) == (2, [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | {"QA_DATA_DIR": str(data)}

    done = subprocess.run([sys.executable, "-c", readme_snippet()], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "Matthew Miller" in done.stdout and f"'article_id': '{TROOPS}'" in done.stdout
    assert "'paragraph': 6" in done.stdout and "'start': 0" in done.stdout


def test_ingest_path_again_embeds_nothing(tmp_path: Path) -> None:
    qa.ingest_path(ROOT / "corpus", data_dir=tmp_path / "data")

    again = qa.ingest_path(ROOT / "corpus", data_dir=tmp_path / "data")

    assert (again.added, again.updated, again.chunks, len(again.unchanged)) == ([], [], 0, 2)


# qa eval run --engine ----------------------------------------------------------------------------------

def few_questions(tmp_path: Path) -> Path:
    """Return a question set of seed rows: answerable, unanswerable and follow-ups."""
    rows = [json.loads(line) for line in SEED_SET.read_text(encoding="utf-8").splitlines()]
    chosen = rows[:6] + [r for r in rows if not r["answerable"]][:3] + [r for r in rows if r.get("history")][:3]
    path = tmp_path / "few.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in chosen), encoding="utf-8")
    return path


def test_eval_run_engine_on_our_engine_reports_what_our_own_run_reports(ingested, tmp_path: Path) -> None:
    dataset, env = few_questions(tmp_path), env_for(ingested.settings)
    own = run(["eval", "run", "--dataset", str(dataset), "--out", str(tmp_path / "own")], env)
    through = run(["eval", "run", "--dataset", str(dataset), "--out", str(tmp_path / "engine"),
                   "--engine", "qa.engine:open_engine"], env)

    assert own.exit_code == 0 and through.exit_code == 0, through.output
    a, b = (json.loads((tmp_path / name / "report.json").read_text(encoding="utf-8")) for name in ("own", "engine"))
    assert b["items"] == a["items"]
    assert {n: m["value"] for n, m in b["metrics"].items()} == {n: m["value"] for n, m in a["metrics"].items()}
    assert b["system"]["engine"] == "qa.engine:open_engine" and b["system"]["engine_type"] == "qa.engine.CitedQueryEngine"
    assert "follow-up" not in through.output


def test_eval_run_engine_on_the_llamaindex_starter_pipeline(ingested, tmp_path: Path) -> None:
    dataset = few_questions(tmp_path)
    result = run(["eval", "run", "--dataset", str(dataset), "--out", str(tmp_path / "starter"),
                  "--engine", "qa.evaluation.baseline:starter_engine"], env_for(ingested.settings))

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "starter" / "report.json").read_text(encoding="utf-8"))
    items, metrics = report["items"], report["metrics"]
    assert report["system"]["engine_type"].endswith("RetrieverQueryEngine")
    assert all(i["answerable"] and len(i["citations"]) == 2 for i in items)  # top 2, never refuses
    assert all(c["article_id"] and c["paragraph"] for i in items for c in i["citations"])
    assert metrics["citation_recall"]["value"] == 0.0  # no [n] markers: every claim is uncited
    assert metrics["faithfulness"]["value"] >= 0.9  # it quotes what it retrieved
    assert metrics["refusal_accuracy"]["value"] == pytest.approx(9 / 12)  # the 3 unanswerable ones are answered
    assert "3 follow-up question(s) asked without their earlier turns: RetrieverQueryEngine has no " \
           "as_chat_engine(), so follow-ups were asked alone" in result.output


OWN_ENGINE = """
from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, TextNode

QUOTED = "Matthew Miller said he did not know what Macron meant. I don't know, he said."


class Canned(CustomQueryEngine):
    def custom_query(self, query_str):
        nodes = [NodeWithScore(node=TextNode(id_="memo", text=QUOTED), score=1.0),
                 NodeWithScore(node=TextNode(id_="other", text="Paris is in France."), score=0.5)]
        if "Paris" in query_str:
            return Response("The context does not contain the answer.", source_nodes=nodes)
        if "quote" in query_str:
            return Response(QUOTED, source_nodes=nodes)
        return Response("Matthew Miller said he did not know what Macron meant [1]. Paris is in France [1].",
                        source_nodes=nodes)


def make():
    return Canned()
"""


def test_eval_run_engine_takes_a_users_engine_from_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "canned_engine.py").write_text(OWN_ENGINE, encoding="utf-8")
    rows = [{"id": "marked", "question": "What did Miller say?", "answerable": True, "expected_answer": ["Macron"]},
            {"id": "quoted", "question": "Give the quote.", "answerable": True},
            {"id": "declined", "question": "Where is Paris?", "answerable": False},
            {"id": "follow-up", "question": "And then?", "history": ["What did Miller say?"], "answerable": True}]
    dataset = tmp_path / "own.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    result = run(["eval", "run", "--dataset", str(dataset), "--out", str(tmp_path / "out"), "--engine",
                  "canned_engine:make"], {"QA_DATA_DIR": str(tmp_path / "data")})

    assert result.exit_code == 0, result.output
    items = {i["id"]: i for i in json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))["items"]}
    assert [c["text"] for c in items["marked"]["citations"]] == [QUOTED_TEXT, "Paris is in France."]
    assert [(c["text"], c["supported"]) for c in items["marked"]["claims"]][1] == ("Paris is in France.", False)
    assert items["marked"]["citation_recall"] == 0.5  # [1] does not say where Paris is
    assert items["quoted"]["answerable"] is True  # "I don't know" is the quoted passage's, not the engine's
    assert (items["declined"]["answerable"], items["declined"]["refusal_correct"]) == (False, True)
    assert "1 follow-up question(s) asked without their earlier turns: Canned has no as_chat_engine()" in result.output


@pytest.mark.parametrize(("spec", "message"), [
    ("qa.engine", "--engine 'qa.engine': expected MODULE:FACTORY, e.g. qa.engine:open_engine"),
    ("no_such_module:make", "--engine no_such_module:make: cannot load it (ModuleNotFoundError: "
                            "No module named 'no_such_module')"),
    ("qa.config:get_settings", "--engine qa.config:get_settings: returned a Settings, which has no query()"),
])
def test_eval_run_with_an_unusable_engine_says_why_in_one_line(tmp_path: Path, spec: str, message: str) -> None:
    result = run(["eval", "run", "--dataset", str(SEED_SET), "--out", str(tmp_path), "--engine", spec], {})

    assert result.exit_code == 1
    assert result.output == f"error: {message}\n"


def test_eval_run_takes_api_or_engine_not_both(tmp_path: Path) -> None:
    result = run(["eval", "run", "--dataset", str(SEED_SET), "--out", str(tmp_path), "--engine", "qa.engine:open_engine",
                  "--api", "http://127.0.0.1:9"], {})

    assert (result.exit_code, result.output) == (1, "error: give --api or --engine, not both\n")


# LlamaIndex's own evaluator beside ours ----------------------------------------------------------------

def test_llamaindex_faithfulness_evaluator_judges_our_responses_through_an_openai_compatible_llm(engine) -> None:
    response = engine.query(SPOKESMAN)
    paragraph = response.source_nodes[0].node.text

    def judge(messages: list[dict]) -> str:  # a word-for-word judge: the information must be in the context
        information, context = re.findall(r"Information: (.*?)\nContext: (.*?)\nAnswer:", messages[-1]["content"],
                                          re.S)[-1]
        return "YES" if re.sub(r"\s*\[\d+\]", "", information).strip() in context else "NO"

    with running_fake_llm(judge) as llm:
        settings = get_settings(llm_base_url=llm.base_url, llm_model=FAKE_MODEL)
        evaluator = FaithfulnessEvaluator(llm=llama_index_llm(settings))
        verdict = evaluator.evaluate_response(response=response)
        altered = Response(response=response.response.replace("doesn't have", "has"), source_nodes=response.source_nodes)
        refuted = evaluator.evaluate_response(response=altered)

    assert (verdict.passing, verdict.score) == (True, 1.0)
    assert (refuted.passing, refuted.score) == (False, 0.0)
    assert verdict.contexts == [paragraph]
    assert llm.requests[0]["model"] == FAKE_MODEL
