"""The API's one translation of failures into responses: every error body is {"detail": "<one line>"}.

    BadRequest, request validation, a body that is not UTF-8,
    malformed or too deeply nested JSON                         422
    ArticleNotFound                                             404
    a body over the size limit                                  413
    NotIngested, StoreUnavailable                               503 (with Retry-After)
    LLMError, EmbeddingError                                    502
    any other QAError                                           500
    anything else                                               500, traceback only in the log
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.errors import ArticleNotFound, BadRequest, EmbeddingError, LLMError, NotIngested, QAError, StoreUnavailable

STATUS: tuple[tuple[type[QAError], int], ...] = (
    (BadRequest, 422),
    (ArticleNotFound, 404),
    (NotIngested, 503),
    (StoreUnavailable, 503),
    (LLMError, 502),
    (EmbeddingError, 502),  # only an embeddings endpoint fails at request time; a local model loaded at start
)
NOT_AN_OBJECT = "the request body must be a JSON object (send Content-Type: application/json)"
NOT_UTF8 = "the request body is not UTF-8 text"
TOO_DEEP = "the request body's JSON is nested too deeply"
UNREADABLE = "the request body could not be read as JSON"
TOO_LARGE = "the request body is larger than the limit of {limit:,} bytes"
RETRY_AFTER = {"Retry-After": "5"}

log = logging.getLogger("qa.api")


def one_line(exc: BaseException) -> str:
    """Return the first line of an exception's message, or its type name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def error_response(detail: str, status: int, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """Return the one-line {"detail"} response; text that is not valid Unicode (a lone surrogate
    echoed from the request) is written as its escape, so the body always encodes."""
    safe = detail.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse({"detail": safe}, status_code=status, headers=headers)


def status_for(exc: QAError) -> int:
    """Return the HTTP status of a library error."""
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 500)


def validation_detail(exc: RequestValidationError) -> str:
    """Return the first validation error as one line: where it is, then what is wrong."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    # of the errors a union gives (one per member), the member of the input's own type says why
    error = next((e for e in errors if not e.get("type", "").endswith("_type")), errors[0])
    kind, loc, ctx = error.get("type", ""), tuple(error.get("loc", ())), error.get("ctx") or {}
    if kind == "json_invalid":
        at = f" at character {loc[-1]}" if len(loc) > 1 and isinstance(loc[-1], int) else ""
        return f"malformed JSON{at}: {ctx.get('error', error['msg'])}"
    if loc == ("body",):
        return NOT_AN_OBJECT
    where = _location(loc)
    if kind in ("union_tag_invalid", "union_tag_not_found"):  # a message's role picks its model
        where = f"{where}.{ctx.get('discriminator', '').strip(chr(39))}"
        tags = ctx.get("expected_tags", "").split(", ")
        message = (f"Input should be {', '.join(tags[:-1])} or {tags[-1]}" if kind == "union_tag_invalid"
                   else "Field required")
    else:
        message = str(ctx["error"]) if kind == "value_error" and "error" in ctx else error["msg"]
    return f"{where}: {message}" if where else message


_MEMBER_TYPES = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})
_ROLES = frozenset({"user", "assistant", "system", "developer"})


def _location(loc: tuple) -> str:
    """Return ('body', 'messages', 1, 'role') as "messages[1].role"; path parameters keep their name;
    the labels pydantic adds for a union's members and a message's role are left out."""
    parts = loc[1:] if loc and loc[0] in ("body", "path", "query", "header") else loc
    text = ""
    previous: object = None
    for part in parts:
        label = isinstance(part, str) and ("[" in part or part in _MEMBER_TYPES
                                           or (part in _ROLES and isinstance(previous, int)))
        previous = part
        if not label:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def body_error(exc: HTTPException) -> str:
    """Return the one-line reason of FastAPI's 400 for a body it could not parse."""
    if isinstance(exc.__cause__, UnicodeDecodeError):
        return NOT_UTF8
    if isinstance(exc.__cause__, RecursionError):
        return TOO_DEEP
    return UNREADABLE


def install_error_handlers(app: FastAPI, *,
                           on_store_failure: Callable[[StoreUnavailable], None] | None = None) -> None:
    """Register the handlers that turn every failure into a one-line detail; `on_store_failure`
    hears of each StoreUnavailable a request met."""

    @app.exception_handler(QAError)
    async def _library_error(request: Request, exc: QAError) -> JSONResponse:
        status = status_for(exc)
        if status == 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        if isinstance(exc, StoreUnavailable) and on_store_failure:
            on_store_failure(exc)
        return error_response(one_line(exc), status, headers=RETRY_AFTER if status == 503 else None)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_detail(exc), 422)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's only 400: a body it could not parse
            return error_response(body_error(exc), 422)
        return error_response(str(exc.detail), exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after sending this, so the server logs the traceback; the client gets one line
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"},
                            status_code=500)


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is refused with 413 and a one-line detail
    (declared by Content-Length, or counted as a chunked body arrives)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413 when its body is too large."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await error_response(TOO_LARGE.format(limit=self.limit), 413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b"")) if message["type"] == "http.request" else 0
            if received > self.limit:  # raised inside the route's body read, so the handler above answers
                raise HTTPException(413, TOO_LARGE.format(limit=self.limit))
            return message

        await self.app(scope, counted, send)
