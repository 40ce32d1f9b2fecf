"""The LlamaIndex starter pipeline as a baseline for `qa eval run --engine`: a VectorStoreIndex over
the same Chroma chunks collection the project ingests (one chunk per paragraph, long ones as sentence
windows), LlamaIndex's default retriever (dense only, similarity_top_k=2) and RetrieverQueryEngine.

    qa eval run --engine qa.evaluation.baseline:starter_engine --dataset eval/datasets/seed.jsonl --out DIR

LlamaIndex's default response synthesizer needs an LLM. With QA_LLM_BASE_URL set it gets that
endpoint (qa.llm.llama_index_llm) and runs as shipped (compact mode, LlamaIndex's own prompts).
Offline there is no LLM, so the synthesizer is RetrievedText: `no_text` mode plus the retrieved chunks'
text as the answer. What that measures is retrieval presented as an answer: it quotes its sources
word for word (faithfulness near 1 by construction), carries no [n] markers (citation recall 0, no
citation precision), never refuses, and its answer accuracy is whether an expected answer string is
somewhere in the two chunks it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts.mixin import PromptDictType
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import BaseSynthesizer, get_response_synthesizer
from llama_index.core.types import RESPONSE_TEXT_TYPE

from qa.assembly import Assembly
from qa.config import get_settings
from qa.llm import llama_index_llm, no_llm


class RetrievedText(BaseSynthesizer):
    """A response synthesizer that calls no LLM: the answer is the retrieved chunks' text, in order."""

    def _get_prompts(self) -> PromptDictType:
        return {}

    def _update_prompts(self, prompts: PromptDictType) -> None:
        pass

    def get_response(self, query_str: str, text_chunks: Sequence[str], **response_kwargs: Any) -> RESPONSE_TEXT_TYPE:
        """Return the chunks' text, one paragraph each."""
        return "\n\n".join(chunk.strip() for chunk in text_chunks)

    async def aget_response(self, query_str: str, text_chunks: Sequence[str],
                            **response_kwargs: Any) -> RESPONSE_TEXT_TYPE:
        """Return what get_response() returns."""
        return self.get_response(query_str, text_chunks)

    def get_response_from_messages(self, query_str: str, message_chunks: Sequence[ChatMessage],
                                   **response_kwargs: Any) -> RESPONSE_TEXT_TYPE:
        """Return the messages' text, one paragraph each."""
        return self.get_response(query_str, [m.content or "" for m in message_chunks])

    async def aget_response_from_messages(self, query_str: str, message_chunks: Sequence[ChatMessage],
                                          **response_kwargs: Any) -> RESPONSE_TEXT_TYPE:
        """Return what get_response_from_messages() returns."""
        return self.get_response_from_messages(query_str, message_chunks)


def starter_over(assembly: Assembly) -> RetrieverQueryEngine:
    """Return the starter pipeline over the assembly's store and embedding model."""
    index = VectorStoreIndex.from_vector_store(assembly.store.vector_store, embed_model=assembly.embedder)
    settings = assembly.settings
    if settings.llm_base_url:
        synthesizer = get_response_synthesizer(llm=llama_index_llm(settings))
    else:
        synthesizer = RetrievedText(llm=no_llm())  # an LLM object it never calls, so Settings.llm stays unused
    return RetrieverQueryEngine(retriever=index.as_retriever(), response_synthesizer=synthesizer)


def starter_engine(**overrides: Any) -> BaseQueryEngine:
    """Return the LlamaIndex starter pipeline over the store the QA_* settings (with `overrides`) name."""
    return starter_over(Assembly(get_settings(**overrides)))
