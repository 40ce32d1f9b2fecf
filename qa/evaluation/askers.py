"""Where `qa eval run` gets its answers: the pipeline in this process, a running server's /v1/chat, or
any LlamaIndex query engine (`--engine MODULE:FACTORY`). Each comes with a way to read a paragraph's
text by address, for quote-based retrieval checks."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

import httpx

from qa.answer import Pipeline
from qa.chat import answer_conversation
from qa.errors import BadRequest, QAError, RemoteError
from qa.evaluation.runner import Asker, ParagraphText
from qa.evaluation.scoring import is_refusal
from qa.models import Article
from qa.retrieve import Filters
from qa.store import Store


def pipeline_asker(*, pipeline: Pipeline, k: int) -> Asker:
    """Return an asker answering with the pipeline in this process."""

    def ask(question: str, history: list[str]) -> dict:
        return answer_conversation(question, history, pipeline=pipeline, k=k, filters=Filters()).to_dict()

    return ask


def store_paragraphs(store: Store) -> ParagraphText:
    """Return a paragraph reader over the store (articles fetched once each)."""
    return _paragraph_reader(lambda article_id: store.get_articles([article_id]).get(article_id))


def load_engine(spec: str) -> Any:
    """Return the query engine `MODULE:FACTORY` makes (the factory is called with no arguments; the
    working directory is importable, as for uvicorn); raise BadRequest saying what went wrong."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise BadRequest(f"--engine {spec!r}: expected MODULE:FACTORY, e.g. qa.engine:open_engine")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise BadRequest(f"--engine {spec}: cannot load it ({type(exc).__name__}: {exc})") from None
    try:
        engine = factory()
    except QAError:
        raise
    except Exception as exc:  # noqa: BLE001 -- someone else's factory: say what it raised, in one line
        raise BadRequest(f"--engine {spec}: the factory failed ({type(exc).__name__}: {_first_line(exc)})") from None
    if not callable(getattr(engine, "query", None)):
        raise BadRequest(f"--engine {spec}: returned a {type(engine).__name__}, which has no query()")
    return engine


class EngineAsker:
    """A LlamaIndex query engine under evaluation: each question through engine.query(), a follow-up
    through the engine's chat engine (as_chat_engine, its earlier questions as the chat history) when
    it has one, else asked alone and counted in `unreplayed`. Source node n is what [n] refers to."""

    def __init__(self, engine: Any, *, fallback: Callable[[], ParagraphText] | None = None) -> None:
        self.engine = engine
        self.unreplayed = 0  # follow-ups asked without their earlier turns
        self._seen: dict[str, str] = {}  # paragraph address -> the text a response gave for it
        self._fallback = fallback
        self._store_text: ParagraphText | None = None

    @property
    def chats(self) -> bool:
        """Return True when the engine has a chat engine for follow-ups."""
        return callable(getattr(self.engine, "as_chat_engine", None))

    def ask(self, question: str, history: list[str]) -> dict:
        """Return the engine's response to `question` as a `qa ask --json` object."""
        from llama_index.core.base.llms.types import ChatMessage, MessageRole

        try:
            if history and self.chats:
                earlier = [ChatMessage(role=MessageRole.USER, content=turn) for turn in history]
                response = self.engine.as_chat_engine().chat(question, chat_history=earlier)
            else:
                self.unreplayed += bool(history)
                response = self.engine.query(question)
            return self._answer(question, response)
        except QAError:
            raise
        except Exception as exc:  # noqa: BLE001 -- the item records it; the run goes on
            raise RemoteError(f"the engine failed: {type(exc).__name__}: {_first_line(exc)}") from None

    def paragraph_text(self, key: str) -> str | None:
        """Return the text of the paragraph at `key`: as a response gave it, else from the store."""
        if key in self._seen:
            return self._seen[key]
        if self._fallback is None:
            return None
        if self._store_text is None:
            self._store_text = self._fallback()
        return self._store_text(key)

    def _answer(self, question: str, response: Any) -> dict:
        text, nodes, metadata = _read_response(response)
        citations, keys = [], []
        for marker, scored in enumerate(nodes, start=1):
            node, meta = scored.node, scored.node.metadata or {}
            addressed = "article_id" in meta and "paragraph" in meta
            keys.append(f"{meta['article_id']}:{meta['paragraph']}" if addressed else node.node_id)
            body = node.get_content()
            self._seen.setdefault(keys[-1], body)
            citations.append({"marker": marker, "article_id": meta.get("article_id", node.ref_doc_id or node.node_id),
                              "title": meta.get("title", ""), "paragraph": meta.get("paragraph", 0), "text": body,
                              "quote": meta.get("quote", "")})
        answerable = metadata.get("answerable")
        if not isinstance(answerable, bool):  # an engine that does not say
            answerable = not _declines(text, [c["text"] for c in citations])
        retrieved = metadata.get("retrieved")  # what the engine considered, when it says (ours does)
        if not (isinstance(retrieved, list) and all(isinstance(r, str) for r in retrieved)):
            retrieved = list(dict.fromkeys(keys))
        return {"question": question, "answer": text, "answerable": answerable, "citations": citations,
                "retrieved": retrieved, "nearest": metadata.get("nearest") or [],
                "short_answer": metadata.get("short_answer")}


def _declines(text: str, contexts: list[str]) -> bool:
    """Return True when a response is empty or declines to answer in its own words: what it quotes of
    its contexts is left out first, so a quoted passage saying "I don't know" is not a refusal."""
    if text.strip() in ("", "Empty Response", "None"):  # LlamaIndex's reply when nothing was retrieved
        return True
    own = text
    for context in sorted(contexts, key=len, reverse=True):
        if context.strip():
            own = own.replace(context.strip(), " ")
    return bool(own.strip()) and is_refusal(own)


def _read_response(response: Any) -> tuple[str, list, dict]:
    """Return a query or chat response's text, source nodes and metadata (a stream read to its end)."""
    from llama_index.core.base.response.schema import PydanticResponse, StreamingResponse
    from llama_index.core.chat_engine.types import StreamingAgentChatResponse

    if isinstance(response, (StreamingResponse, PydanticResponse)):
        response = response.get_response()
    if isinstance(response, StreamingAgentChatResponse):
        text = "".join(response.response_gen)
    else:
        text = getattr(response, "response", None)
        text = text if isinstance(text, str) else str(response)
    metadata = getattr(response, "metadata", None)
    return text, list(getattr(response, "source_nodes", None) or []), metadata if isinstance(metadata, dict) else {}


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]


class APIClient:
    """A running `qa serve` under evaluation: asks through POST /v1/chat, reads articles back."""

    def __init__(self, url: str, *, api_key: str = "", timeout: float = 120.0, k: int | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self.k = k
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, trust_env=False)

    def check_ready(self) -> None:
        """Raise RemoteError unless the server answers /readyz with 200."""
        response = self._get("/readyz")
        if response.status_code != 200:
            raise RemoteError(f"{self.url} is not ready: {_detail(response)}")

    def ask(self, question: str, history: list[str]) -> dict:
        """Return the server's answer to `question` after the earlier user turns."""
        messages = [{"role": "user", "content": turn} for turn in [*history, question]]
        body = {"messages": messages, **({"k": self.k} if self.k else {})}
        try:
            response = self._http.post("/v1/chat", json=body)
        except httpx.HTTPError as exc:
            raise RemoteError(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise RemoteError(f"{self.url} answered {response.status_code}: {_detail(response)}")
        return response.json()

    def paragraphs(self) -> ParagraphText:
        """Return a paragraph reader over the server's /v1/articles/{id} (articles fetched once each)."""

        def fetch(article_id: str) -> Article | None:
            response = self._get(f"/v1/articles/{article_id}")
            if response.status_code != 200:
                return None
            body = response.json()
            return Article(id=body["id"], title=body["title"],
                           paragraphs=tuple(p["text"] for p in body["paragraphs"]))

        return _paragraph_reader(fetch)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _get(self, path: str) -> httpx.Response:
        try:
            return self._http.get(path)
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {self.url}: {type(exc).__name__}: {exc}") from None


def _paragraph_reader(fetch: Callable[[str], Article | None]) -> ParagraphText:
    cache: dict[str, Article | None] = {}

    def text(key: str) -> str | None:
        article_id, _, number = key.rpartition(":")
        if article_id not in cache:
            cache[article_id] = fetch(article_id)
        article = cache[article_id]
        if article is None or not number.isdigit() or not 1 <= int(number) <= len(article.paragraphs):
            return None
        return article.paragraph(int(number))

    return text


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))[:300]
    except ValueError:
        return response.text[:300]
