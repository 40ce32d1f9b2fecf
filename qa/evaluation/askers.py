"""Where `qa eval run` gets its answers: the pipeline in this process, or a running server's /v1/chat.
Each comes with a way to read a paragraph's text by address, for quote-based retrieval checks."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from qa.answer import Pipeline
from qa.chat import answer_conversation
from qa.errors import RemoteError
from qa.evaluation.runner import Asker, ParagraphText
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
