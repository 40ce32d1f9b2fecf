"""Request bodies of the /v1 routes, and their translation into the library's terms.

The schema says what the server enforces: every string is valid Unicode (no lone surrogates), a
question is 1-4000 characters and not blank, dates are YYYY-MM-DD, booleans and integers are JSON's
own (no 0 for false, no "3" for 3), and a conversation holds a user message (the last one is answered;
anything after it, such as the reply being regenerated, is ignored)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from qa.answer import MAX_QUESTION_CHARS
from qa.chat import MAX_REPLAYED_TURNS
from qa.errors import BadRequest
from qa.retrieve import Filters

NO_USER_MESSAGE = "messages: there is no user message to answer"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NOT_BLANK = re.compile(r"\S")
QUESTION_SCHEMA = {"minLength": 1, "maxLength": MAX_QUESTION_CHARS, "pattern": r"\S"}
DATE_SCHEMA = {"anyOf": [{"type": "string", "maxLength": 0}, {"type": "string", "format": "date"}]}
HAS_USER = {"contains": {"type": "object", "properties": {"role": {"const": "user"}}, "required": ["role"]}}


def valid_unicode(text: str) -> str:
    """Return `text`, or raise ValueError when it holds a lone surrogate (JSON's "\\ud800" decodes to
    one): it is not text, and nothing downstream can encode it."""
    found = _SURROGATE.search(text)
    if found:
        raise ValueError(f"not valid Unicode: a lone surrogate (U+{ord(found.group()):04X}) "
                         f"at character {found.start()}")
    return text


def question_text(text: str) -> str:
    """Return `text` when it can be a question: valid Unicode, not blank, at most MAX_QUESTION_CHARS."""
    valid_unicode(text)
    if not _NOT_BLANK.search(text):
        raise ValueError("the text is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise ValueError(f"{len(text)} characters; the limit is {MAX_QUESTION_CHARS}")
    return text


def article_id(text: str) -> str:
    """Return `text` when it can name an article: valid Unicode and not empty."""
    if not valid_unicode(text):
        raise ValueError("the article id is empty")
    return text


def iso_date(text: str) -> str:
    """Return `text` when it is "" or a real YYYY-MM-DD date, else raise ValueError."""
    if text and not _is_date(valid_unicode(text)):
        raise ValueError(f"{text!r} is not a date (use YYYY-MM-DD)")
    return text


def whole_number(value: object) -> object:
    """Return a float that is a whole number (JSON's 3.0 is the integer 3) as an int; anything else as it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Text = Annotated[str, AfterValidator(valid_unicode)]
Question = Annotated[str, AfterValidator(question_text), Field(json_schema_extra=QUESTION_SCHEMA)]
Date = Annotated[str, AfterValidator(iso_date), Field(json_schema_extra=DATE_SCHEMA)]
ArticleId = Annotated[str, AfterValidator(article_id), Field(json_schema_extra={"minLength": 1})]


class Body(BaseModel):
    """A request body: JSON's types as they are, no coercion of 0 to false or "3" to 3."""

    model_config = ConfigDict(strict=True)


class ErrorBody(BaseModel):
    """Every error response: what went wrong, in one line."""

    detail: str


class FiltersBody(Body):
    """Restrictions on what retrieval may return."""

    model_config = ConfigDict(extra="forbid")  # a misspelt filter must not silently widen the search

    articles: list[ArticleId] = []
    outlet: Text = ""
    date_from: Date = ""
    date_to: Date = ""

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


class Options(Body):
    """What every question may carry besides the question."""

    k: Annotated[int, Field(ge=1, le=50), BeforeValidator(whole_number)] | None = Field(
        None, description="Paragraphs to consider (default QA_TOP_K).")
    filters: FiltersBody | None = None

    def retrieval_filters(self) -> Filters:
        """Return the retrieval filters (none when not given)."""
        return self.filters.to_filters() if self.filters else Filters()


class AskBody(Options):
    """POST /v1/ask."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"question": "Who criticized the idea of sending troops?"},
        {"question": "What did a senior US official tell the outlet?", "k": 3, "filters": {"date_to": "2030-12-31"}},
    ]})

    question: Question


class UserMessage(Body):
    """A question of a /v1/chat conversation."""

    role: Literal["user"]
    content: Question


class AssistantMessage(Body):
    """An earlier answer of a /v1/chat conversation (not needed: the questions are replayed)."""

    role: Literal["assistant"]
    content: Text


ChatMessage = Annotated[UserMessage | AssistantMessage, Field(discriminator="role")]


class ChatBody(Options):
    """POST /v1/chat: the whole conversation; its last user message is answered."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"messages": [
        {"role": "user", "content": "Who is the State Department spokesman who responded to Bloomberg's report?"},
        {"role": "assistant", "content": "State Department spokesman Matthew Miller responded [1]."},
        {"role": "user", "content": "What did he say next?"},
    ]}]})

    messages: list[ChatMessage] = Field(min_length=1, json_schema_extra=HAS_USER)
    stream: bool = False

    def conversation(self) -> tuple[str, list[str]]:
        """Return the question and the earlier user questions."""
        return split_conversation([(m.role, m.content) for m in self.messages])


class TextPart(Body):
    """A text part of an OpenAI message whose content is a list."""

    type: Literal["text"]
    text: Text


class UserTextPart(TextPart):
    """A text part of a question; a question's parts are joined by newlines."""

    text: Annotated[Text, Field(max_length=MAX_QUESTION_CHARS)]


# a question's parts: one of them not blank; together (joined by newlines) at most MAX_QUESTION_CHARS
UserParts = Annotated[list[UserTextPart], Field(min_length=1, json_schema_extra={
    "contains": {"type": "object", "properties": {"text": {"type": "string", "pattern": r"\S"}}, "required": ["text"]},
})]


class CompletionUserMessage(Body):
    """An OpenAI user message: the question."""

    role: Literal["user"]
    content: Question | UserParts

    def text(self) -> str:
        """Return the message text (text parts joined by newlines)."""
        return self.content if isinstance(self.content, str) else "\n".join(p.text for p in self.content)


class CompletionOtherMessage(Body):
    """An OpenAI system, developer or assistant message: accepted and ignored."""

    role: Literal["system", "developer", "assistant"]
    content: Text | list[TextPart] | None = None

    def text(self) -> str:
        """Return the message text (text parts joined by newlines)."""
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


CompletionMessage = Annotated[CompletionUserMessage | CompletionOtherMessage, Field(discriminator="role")]


class StreamOptions(Body):
    """OpenAI's stream_options."""

    include_usage: bool = False


class CompletionBody(Options):
    """POST /v1/chat/completions, OpenAI-compatible; other OpenAI parameters are accepted and ignored."""

    model: Text = "qa"
    messages: list[CompletionMessage] = Field(min_length=1, json_schema_extra=HAS_USER)
    stream: bool = False
    stream_options: StreamOptions | None = None

    def conversation(self) -> tuple[str, list[str]]:
        """Return the question and the earlier user questions."""
        return split_conversation([(m.role, m.text()) for m in self.messages])


def split_conversation(messages: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """Return the last user message and the MAX_REPLAYED_TURNS user messages before it.

    Assistant messages are not needed: the earlier questions are replayed to resolve follow-ups,
    and older turns than those replayed seldom change how a follow-up resolves."""
    questions = [text.strip() for role, text in messages if role == "user"]
    if not questions:
        raise BadRequest(NO_USER_MESSAGE)
    if len(questions[-1]) > MAX_QUESTION_CHARS:  # text parts joined
        raise BadRequest(f"the question is {len(questions[-1])} characters long; the limit is {MAX_QUESTION_CHARS}")
    return questions[-1], questions[-1 - MAX_REPLAYED_TURNS:-1]
