"""Request bodies of the /v1 routes, and their translation into the library's terms."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qa.answer import MAX_QUESTION_CHARS, check_question
from qa.errors import BadRequest
from qa.retrieve import Filters

MAX_HISTORY = 20  # earlier user questions replayed per request; older turns seldom change the resolution
LAST_NOT_USER = "the last message must come from the user"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# documented, not enforced by pydantic: check_question gives the one-line reasons ("the question is empty")
QUESTION_TEXT = {"minLength": 1, "maxLength": MAX_QUESTION_CHARS, "pattern": r"\S"}


class ErrorBody(BaseModel):
    """Every error response: what went wrong, in one line."""

    detail: str


class FiltersBody(BaseModel):
    """Restrictions on what retrieval may return."""

    model_config = ConfigDict(extra="forbid")  # a misspelt filter must not silently widen the search

    articles: list[str] = []
    outlet: str = ""
    date_from: str = ""
    date_to: str = ""

    @field_validator("date_from", "date_to")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        if value and not _is_date(value):
            raise ValueError(f"{value!r} is not a date (use YYYY-MM-DD)")
        return value

    def to_filters(self) -> Filters:
        """Return the retrieval filters."""
        return Filters(articles=tuple(self.articles), outlet=self.outlet, date_from=self.date_from,
                       date_to=self.date_to)


def _is_date(value: str) -> bool:
    if not _ISO_DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


class Options(BaseModel):
    """What every question may carry besides the question."""

    k: int | None = Field(None, ge=1, le=50, description="Paragraphs to consider (default QA_TOP_K).")
    filters: FiltersBody | None = None

    def retrieval_filters(self) -> Filters:
        """Return the retrieval filters (none when not given)."""
        return self.filters.to_filters() if self.filters else Filters()


class AskBody(Options):
    """POST /v1/ask."""

    question: str = Field(json_schema_extra=QUESTION_TEXT)


class ChatMessage(BaseModel):
    """One turn of a /v1/chat conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(json_schema_extra=QUESTION_TEXT)


class ChatBody(Options):
    """POST /v1/chat: the whole conversation, last message from the user."""

    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False

    def conversation(self) -> tuple[str, list[str]]:
        """Return the question and the earlier user questions."""
        return split_conversation([(m.role, m.content) for m in self.messages])


class TextPart(BaseModel):
    """A text part of an OpenAI message whose content is a list."""

    type: Literal["text"]
    text: str


class CompletionMessage(BaseModel):
    """One OpenAI chat message; system and developer messages are accepted and ignored."""

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        """Return the message text (text parts joined by newlines)."""
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    """OpenAI's stream_options."""

    include_usage: bool = False


class CompletionBody(Options):
    """POST /v1/chat/completions, OpenAI-compatible; other OpenAI parameters are accepted and ignored."""

    model: str = "qa"
    messages: list[CompletionMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None

    def conversation(self) -> tuple[str, list[str]]:
        """Return the question and the earlier user questions."""
        return split_conversation([(m.role, m.text()) for m in self.messages])


def split_conversation(messages: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """Return the last user message and the earlier user messages, the last MAX_HISTORY of them.

    Assistant messages are not needed: the earlier questions are replayed to resolve follow-ups."""
    turns = [(i, role, text) for i, (role, text) in enumerate(messages) if role in ("user", "assistant")]
    if not turns or turns[-1][1] != "user":
        raise BadRequest(LAST_NOT_USER)
    question = check_question(turns[-1][2])
    history = []
    for i, role, text in turns[:-1]:
        if role == "user":
            try:
                history.append(check_question(text))
            except BadRequest as exc:
                raise BadRequest(f"messages[{i}]: {exc}") from None
    return question, history[-MAX_HISTORY:]
