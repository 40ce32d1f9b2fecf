"""The API's one translation of failures into responses: every error body is {"detail": "<one line>"}.

    BadRequest, request validation, a body that is not UTF-8    422
    ArticleNotFound                                             404
    NotIngested, StoreUnavailable                               503
    LLMError, EmbeddingError                                    502
    any other QAError                                           500
    anything else                                               500, traceback only in the log
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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

log = logging.getLogger("qa.api")


def one_line(exc: BaseException) -> str:
    """Return the first line of an exception's message, or its type name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def status_for(exc: QAError) -> int:
    """Return the HTTP status of a library error."""
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 500)


def validation_detail(exc: RequestValidationError) -> str:
    """Return the first validation error as one line: where it is, then what is wrong."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    error = errors[0]
    kind, loc, ctx = error.get("type", ""), tuple(error.get("loc", ())), error.get("ctx") or {}
    if kind == "json_invalid":
        at = f" at character {loc[-1]}" if len(loc) > 1 and isinstance(loc[-1], int) else ""
        return f"malformed JSON{at}: {ctx.get('error', error['msg'])}"
    if loc == ("body",):
        return NOT_AN_OBJECT
    message = str(ctx["error"]) if kind == "value_error" and "error" in ctx else error["msg"]
    where = _location(loc)
    return f"{where}: {message}" if where else message


def _location(loc: tuple) -> str:
    """Return ('body', 'messages', 1, 'role') as "messages[1].role"; path parameters keep their name."""
    parts = loc[1:] if loc and loc[0] in ("body", "path", "query", "header") else loc
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a one-line detail."""

    @app.exception_handler(QAError)
    async def _library_error(request: Request, exc: QAError) -> JSONResponse:
        status = status_for(exc)
        if status == 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": one_line(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_detail(exc)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's 400 for a body it cannot decode
            return JSONResponse({"detail": NOT_UTF8}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after sending this, so the server logs the traceback; the client gets one line
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"},
                            status_code=500)
