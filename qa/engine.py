"""The answering pipeline as LlamaIndex's own types: a query engine and a chat engine over the same
stages the CLI and the API answer with (`answer_conversation` over `answer_question`), nothing beside them.

    engine = open_engine()                    # QA_* settings, keyword overrides on top
    response = engine.query("Who is Matthew Miller?")
    response.response                         # the cited answer text, [n] markers and all
    response.source_nodes[n - 1]              # what [n] cites: the paragraph, metadata below
    response.metadata                         # the rest of the Answer contract (answerable, short_answer, ...)

Each source node is one cited paragraph: `node.text` is the whole paragraph, `node.id_` its address
`article_id:n`, `node.metadata` holds marker, article_id, title, paragraph, quote (the sentences the
answer rests on), start and end (the quote's offsets in the paragraph), outlet and date; its score is
the answer's confidence (the same for every node of an answer: the stages score answers, not single
citations). A refusal has no source nodes; `metadata["nearest"]` lists where to look instead.

Streaming (`streaming=True`, `stream_chat`) sends the answer a sentence at a time: the stages compose
the whole answer at once, so the stream is for the reader, not for speed. The async methods run the
same stages in a worker thread.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.base.response.schema import (
    RESPONSE_TYPE,
    AsyncStreamingResponse,
    Response,
    StreamingResponse,
)
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse
from llama_index.core.chat_engine.utils import aresponse_gen_from_query_engine, response_gen_from_query_engine
from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo, TextNode
from llama_index.core.tools import ToolOutput

from qa.answer import Pipeline
from qa.assembly import Assembly
from qa.chat import answer_conversation
from qa.config import get_settings
from qa.models import Answer
from qa.retrieve import Filters
from qa.sentences import split_sentences

TOOL_NAME = "qa"  # how the chat engine's ToolOutput names the answering pipeline
_LLM_KEYS = ("title", "outlet", "date")  # the metadata an LLM reading a source node sees beside its text
_MARKER = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")


class CitedQueryEngine(BaseQueryEngine):
    """A LlamaIndex query engine whose responses are the pipeline's cited answers."""

    def __init__(self, pipeline: Pipeline, *, k: int = 5, filters: Filters = Filters(), streaming: bool = False,
                 callback_manager: CallbackManager | None = None) -> None:
        self.pipeline = pipeline
        self.k = k
        self.filters = filters
        self.streaming = streaming
        super().__init__(callback_manager=callback_manager)

    def answer(self, question: str, history: Sequence[str] = ()) -> Answer:
        """Return the pipeline's Answer to `question` after the earlier user questions in `history`, as
        `qa ask` and `qa chat` answer it."""
        return answer_conversation(question, list(history), pipeline=self.pipeline, k=self.k, filters=self.filters)

    def as_chat_engine(self, chat_history: Sequence[ChatMessage] | None = None) -> CitedChatEngine:
        """Return a chat engine over the same stages, with its own chat history."""
        return CitedChatEngine(self, chat_history=chat_history)

    def _query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        answer = self.answer(query_bundle.query_str)
        if self.streaming:
            return StreamingResponse(response_gen=iter(sentence_pieces(answer.answer)),
                                     source_nodes=self.source_nodes(answer), metadata=answer_metadata(answer))
        return self.response(answer)

    async def _aquery(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        answer = await asyncio.to_thread(self.answer, query_bundle.query_str)
        if self.streaming:
            return AsyncStreamingResponse(response_gen=_async_pieces(answer.answer),
                                          source_nodes=self.source_nodes(answer), metadata=answer_metadata(answer))
        return self.response(answer)

    def response(self, answer: Answer) -> Response:
        """Return `answer` as a LlamaIndex Response: text, cited paragraphs as nodes, the rest as metadata."""
        return Response(response=answer.answer, source_nodes=self.source_nodes(answer),
                        metadata=answer_metadata(answer))

    def source_nodes(self, answer: Answer) -> list[NodeWithScore]:
        """Return the answer's citations as nodes, in marker order (source_nodes[n - 1] is [n])."""
        if not answer.citations:
            return []
        citations = sorted(answer.citations, key=lambda c: c.marker)
        keys = [f"{c.article_id}:{c.paragraph}" for c in citations]
        hits = {h.key: h for h in self.pipeline.retriever.fetch_hits(keys)}  # for outlet and date
        nodes = []
        for key, citation in zip(keys, citations):
            hit = hits.get(key)
            metadata = {
                "marker": citation.marker, "article_id": citation.article_id, "title": citation.title,
                "paragraph": citation.paragraph, "quote": citation.quote, "start": citation.start,
                "end": citation.end, "outlet": hit.outlet if hit else "", "date": hit.date if hit else "",
            }
            node = TextNode(id_=key, text=citation.text, metadata=metadata,
                            excluded_llm_metadata_keys=[m for m in metadata if m not in _LLM_KEYS],
                            excluded_embed_metadata_keys=list(metadata),
                            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=citation.article_id)})
            nodes.append(NodeWithScore(node=node, score=answer.confidence))
        return nodes

    def _get_prompt_modules(self) -> dict[str, Any]:
        return {}  # no prompts of its own (the LLM answerer reads prompts/ files)


class CitedChatEngine(BaseChatEngine):
    """A LlamaIndex chat engine: each message is answered after the earlier user messages, follow-ups
    resolved as `qa chat` resolves them ("What did he say next?")."""

    def __init__(self, engine: CitedQueryEngine, *, chat_history: Sequence[ChatMessage] | None = None) -> None:
        self.engine = engine
        self._history: list[ChatMessage] = list(chat_history or [])

    @property
    def chat_history(self) -> list[ChatMessage]:
        """Return the conversation so far: user messages and the answers given."""
        return list(self._history)

    def reset(self) -> None:
        """Forget the conversation."""
        self._history = []

    def chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        """Return the answer to `message` after the conversation (or `chat_history`, which replaces it)."""
        answer = self._answer(message, chat_history)
        response = self.engine.response(answer)
        return AgentChatResponse(response=answer.answer, sources=[self._tool_output(message, response)],
                                 source_nodes=response.source_nodes, metadata=response.metadata)

    def stream_chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> StreamingAgentChatResponse:
        """Return the answer to `message` streamed a sentence at a time."""
        answer = self._answer(message, chat_history)
        response = self.engine.response(answer)
        return StreamingAgentChatResponse(
            chat_stream=response_gen_from_query_engine(iter(sentence_pieces(answer.answer))),
            sources=[self._tool_output(message, response)], source_nodes=response.source_nodes,
            is_writing_to_memory=False)  # the history already holds the whole answer

    async def achat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        """Return what chat() returns, answered in a worker thread."""
        return await asyncio.to_thread(self.chat, message, chat_history)

    async def astream_chat(self, message: str,
                           chat_history: list[ChatMessage] | None = None) -> StreamingAgentChatResponse:
        """Return what stream_chat() returns, answered in a worker thread, with an async stream."""
        answer = await asyncio.to_thread(self._answer, message, chat_history)
        response = self.engine.response(answer)
        return StreamingAgentChatResponse(
            achat_stream=aresponse_gen_from_query_engine(_async_pieces(answer.answer)),
            sources=[self._tool_output(message, response)], source_nodes=response.source_nodes,
            is_writing_to_memory=False)

    def _answer(self, message: str, chat_history: list[ChatMessage] | None) -> Answer:
        if chat_history is not None:
            self._history = list(chat_history)
        earlier = [m.content or "" for m in self._history if m.role == MessageRole.USER]
        answer = self.engine.answer(message, earlier)
        self._history += [ChatMessage(role=MessageRole.USER, content=message),
                          ChatMessage(role=MessageRole.ASSISTANT, content=answer.answer)]
        return answer

    def _tool_output(self, message: str, response: Response) -> ToolOutput:
        earlier = [m.content for m in self._history[:-2] if m.role == MessageRole.USER]
        return ToolOutput(tool_name=TOOL_NAME, content=response.response or "",
                          raw_input={"question": message, "history": earlier}, raw_output=response)


def answer_metadata(answer: Answer) -> dict[str, Any]:
    """Return the Answer contract (`qa ask --json`) without its text: answerable, citations,
    short_answer, nearest, flags, confidence, retrieved, query, answerer."""
    contract = answer.to_dict()
    del contract["answer"]
    return contract


def sentence_pieces(text: str) -> list[str]:
    """Return `text` cut before each sentence after the first (joined, the pieces are `text` again)."""
    # markers blanked out (same length, so offsets hold): one after a closing quote ('reaction." [1]')
    # stays with the sentence before it, and never opens a sentence of its own
    blanked = _MARKER.sub(lambda m: " " * len(m.group()), text)
    starts = [start for start, _ in split_sentences(blanked)[1:]]
    bounds = [0, *starts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:]) if text[a:b]] or [text]


async def _async_pieces(text: str) -> AsyncGenerator[str, None]:
    for piece in sentence_pieces(text):
        yield piece


def open_engine(*, streaming: bool = False, **overrides: Any) -> CitedQueryEngine:
    """Return the query engine over the store the QA_* settings (with `overrides` on top) name, built
    as the CLI builds its pipeline; the store must have been ingested (`qa ingest`, `qa.ingest_path`)."""
    settings = get_settings(**overrides)
    return CitedQueryEngine(Assembly(settings).pipeline, k=settings.top_k, streaming=streaming)

