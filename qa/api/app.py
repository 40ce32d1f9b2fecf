"""The FastAPI app: health and readiness, /v1 question answering (plain, chat, SSE, OpenAI-compatible),
the articles an answer cites, and the chat page at / when qa/static exists."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Security
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from qa.api.completions import completion, completion_events
from qa.api.errors import BodyLimit, install_error_handlers
from qa.api.headers import SecurityHeaders
from qa.api.limits import RateLimit
from qa.api.runtime import RETRY_SECONDS, Components, Runtime
from qa.api.schemas import AskBody, ChatBody, CompletionBody, ErrorBody, Options, Text
from qa.api.streams import SSE_HEADERS, chat_events, started
from qa.chat import answer_conversation, conversation_events
from qa.config import Settings, check_api_key, get_settings
from qa.errors import ArticleNotFound
from qa.models import Answer, Article
from qa.streaming import Event

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
MAX_BODY_BYTES = 1_000_000  # a long conversation is well under this
MODEL_ID = "qa"

ERRORS = {
    401: "Missing or wrong API key (when QA_API_KEY is set).",
    404: "No such article or paragraph.",
    413: "The request body is larger than the limit.",
    429: "Too many requests from this address (QA_RATE_LIMIT, without QA_API_KEY).",
    422: "Invalid request.",
    502: "The LLM or embeddings endpoint failed.",
    503: "Not ready: the store is unreachable or empty, or the model is loading.",
}


def errors(*codes: int) -> dict:
    """Return the OpenAPI `responses` of these error statuses, each a one-line {"detail"} body."""
    return {code: {"model": ErrorBody, "description": ERRORS[code]} for code in codes}


def streamed(*events: str) -> dict:
    """Return the OpenAPI 200 response of a route that answers JSON, or with "stream": true Server-Sent
    Events of these names (an OpenAPI 3.1 `schema` of text/event-stream describes one event)."""
    event = {"type": "object", "required": ["data"],
             "properties": {"event": {"type": "string", "enum": list(events)}, "data": {"type": "string"},
                            "id": {"type": "string"}, "retry": {"type": "integer"}}}
    return {200: {"description": "The answer (JSON), or with \"stream\": true its Server-Sent Events, "
                                 "sent as the answer is composed.",
                  "content": {"application/json": {"schema": {"type": "object"}},
                              "text/event-stream": {"schema": event}}}}


health = APIRouter(tags=["health"])
page = APIRouter(include_in_schema=False)
v1 = APIRouter(prefix="/v1", tags=["v1"], responses=errors(401, 429))
_bearer = HTTPBearer(auto_error=False, description="Required when QA_API_KEY is set.")


def create_app(settings: Settings, *, components: Components | None = None) -> FastAPI:
    """Return the app; without `components` it builds them in a background thread at start-up. Raise
    ConfigError for an API key that looks like a placeholder."""
    check_api_key(settings.api_key)
    runtime = Runtime(settings, components)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        yield
        runtime.stop()

    app = FastAPI(title="qa", summary="Answers from a news archive, citing article and paragraph.",
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    install_error_handlers(app, on_store_failure=runtime.health.failed)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    if settings.rate_limit and not settings.api_key:  # with a key, whoever holds it is trusted
        app.add_middleware(RateLimit, limit=settings.rate_limit)
    app.add_middleware(SecurityHeaders)  # added last, so it wraps the others: even a 413 carries the headers
    if settings.cors_origins:
        origins = [origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()]
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.include_router(health)
    app.include_router(v1, dependencies=[Depends(authorize)] if settings.api_key else [])
    if STATIC_DIR.is_dir():  # the page at /, its files under /static: other paths stay the API's own
        app.include_router(page)
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def app_from_environment() -> FastAPI:
    """Return the app for the settings of the QA_* environment (what `qa serve --workers N` runs)."""
    return create_app(get_settings())


# dependencies --------------------------------------------------------------------------------------

async def authorize(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> None:
    """Let the request through only with `Authorization: Bearer <QA_API_KEY>`."""
    if credentials is None:
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})
    expected = request.app.state.settings.api_key.encode("utf-8")
    if not hmac.compare_digest(credentials.credentials.encode("utf-8"), expected):
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})


async def ready(request: Request) -> Components:
    """Return the components, or answer 503 with the reason they are not built."""
    # this and authorize are async only so FastAPI does not hand them to a worker thread
    runtime: Runtime = request.app.state.runtime
    if runtime.components is None:
        raise HTTPException(503, runtime.reason, headers={"Retry-After": f"{RETRY_SECONDS:.0f}"})
    if runtime.health.down:  # answer at once while the store is known to be down; the check sees it return
        reason = await run_in_threadpool(runtime.health.check, runtime.components.store)
        if reason:
            raise HTTPException(503, reason, headers={"Retry-After": f"{RETRY_SECONDS:.0f}"})
    return runtime.components


Ready = Annotated[Components, Depends(ready)]


async def answer_in_thread(request: Request, parts: Components, question: str, history: Sequence[str],
                           options: Options) -> Answer:
    """Return the answer, computed in a worker thread: embedding and store calls block."""
    k = options.k or request.app.state.settings.top_k
    return await run_in_threadpool(answer_conversation, question, list(history), pipeline=parts.pipeline,
                                   k=k, filters=options.retrieval_filters())


async def events_in_thread(request: Request, parts: Components, question: str, history: Sequence[str],
                           options: Options) -> AsyncIterator[Event]:
    """Return the answer's stage events as worker threads produce them; a failure before retrieval is
    done (a bad question, the store down) raises here, before the response starts."""
    k = options.k or request.app.state.settings.top_k
    return await started(conversation_events(question, list(history), pipeline=parts.pipeline, k=k,
                                             filters=options.retrieval_filters()))


def event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    """Return a Server-Sent Events response sending each event as it is produced."""
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


@page.get("/")
async def chat_page() -> FileResponse:
    """The web chat page."""
    return FileResponse(STATIC_DIR / "index.html")


# health ----------------------------------------------------------------------------------------------

@health.get("/healthz")
async def healthz() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@health.get("/readyz", responses=errors(503))
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 once the store is open and the model loaded and while the store answers its
    heartbeat (asked at most once a second), else 503 with the reason."""
    runtime: Runtime = request.app.state.runtime
    components = runtime.components
    reason = runtime.reason if components is None else await run_in_threadpool(runtime.health.check, components.store)
    if reason:
        return JSONResponse({"detail": reason}, status_code=503, headers={"Retry-After": f"{RETRY_SECONDS:.0f}"})
    return JSONResponse({"status": "ready", "chunks": components.retriever.size})


# answers -----------------------------------------------------------------------------------------------

@v1.post("/ask", responses=errors(404, 413, 422, 502, 503))
async def ask(request: Request, body: AskBody, parts: Ready) -> JSONResponse:
    """Answer one question; the body is what `qa ask --json` prints."""
    answer = await answer_in_thread(request, parts, body.question, [], body)
    return JSONResponse(answer.to_dict())


@v1.post("/chat", response_model=None, responses=streamed("retrieved", "delta", "done", "error") | errors(404, 413, 422, 502, 503))
async def chat(request: Request, body: ChatBody, parts: Ready) -> JSONResponse | StreamingResponse:
    """Answer the last user message after the earlier ones; with "stream", as `delta` events then `done`."""
    question, history = body.conversation()
    if body.stream:
        events = await events_in_thread(request, parts, question, history, body)
        return event_stream(chat_events(events, on_store_failure=request.app.state.runtime.health.failed))
    answer = await answer_in_thread(request, parts, question, history, body)
    return JSONResponse(answer.to_dict())


@v1.post("/chat/completions", response_model=None, responses=streamed("message") | errors(404, 413, 422, 502, 503))
async def chat_completions(request: Request, body: CompletionBody, parts: Ready) -> JSONResponse | StreamingResponse:
    """OpenAI-compatible chat completions; the citations ride along in a `citations` field."""
    question, history = body.conversation()
    prompt = [m.text() for m in body.messages]
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = await events_in_thread(request, parts, question, history, body)
        return event_stream(completion_events(events, model=body.model, prompt=prompt, include_usage=include_usage,
                                              on_store_failure=request.app.state.runtime.health.failed))
    answer = await answer_in_thread(request, parts, question, history, body)
    return JSONResponse(completion(answer, model=body.model, prompt=prompt))


@v1.get("/models")
async def models() -> dict:
    """The one model, for OpenAI clients that list models first."""
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "qa"}]}


# articles ------------------------------------------------------------------------------------------------

# for clients (and fuzzers) that follow links: an id from the list opens that article and its paragraphs
ARTICLE_LINKS = {200: {"description": "Every stored article.", "links": {
    "GetArticle": {"operationId": "get_article", "parameters": {"article_id": "$response.body#/articles/0/id"}},
    "GetParagraph": {"operationId": "get_paragraph",
                     "parameters": {"article_id": "$response.body#/articles/0/id", "number": 1}},
}}}


@v1.get("/articles", responses=ARTICLE_LINKS | errors(503))
async def list_articles(parts: Ready) -> dict:
    """Every stored article: id, title, outlet, date, url and paragraph count, by id."""
    rows = await run_in_threadpool(parts.store.list_articles)
    keys = ("title", "outlet", "date", "url")
    return {"articles": [{"id": row["id"], **{key: row.get(key, "") for key in keys},
                          "paragraphs": int(row.get("paragraphs", 0))} for row in rows]}


@v1.get("/articles/{article_id}", operation_id="get_article", responses=errors(404, 422, 503))
async def get_article(article_id: Text, parts: Ready) -> dict:
    """One article with its numbered paragraphs and the section each stands under."""
    article = await fetch_article(parts, article_id)
    paragraphs = [{"number": n, "text": article.paragraph(n), "section": article.section(n)}
                  for n in range(1, len(article.paragraphs) + 1)]
    return {"id": article.id, "title": article.title, "outlet": article.outlet, "date": article.date,
            "url": article.url, "paragraphs": paragraphs}


@v1.get("/articles/{article_id}/paragraphs/{number}", operation_id="get_paragraph",
        responses=errors(404, 422, 503))
async def get_paragraph(article_id: Text, number: int, parts: Ready) -> dict:
    """One numbered paragraph of an article."""
    article = await fetch_article(parts, article_id)
    if not 1 <= number <= len(article.paragraphs):
        raise HTTPException(404, f"{article_id} has paragraphs 1-{len(article.paragraphs)}; got {number}")
    return {"article_id": article.id, "title": article.title, "number": number,
            "text": article.paragraph(number), "section": article.section(number)}


async def fetch_article(parts: Components, article_id: str) -> Article:
    """Return the stored article, or raise ArticleNotFound."""
    found = await run_in_threadpool(parts.store.get_articles, [article_id])
    if article_id not in found:
        raise ArticleNotFound(f"no article {article_id!r}")
    return found[article_id]
