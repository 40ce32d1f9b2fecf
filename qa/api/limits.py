"""Per-client rate limiting of the /v1 routes, for a server without an API key: each client address
gets a bucket of QA_RATE_LIMIT requests a minute, refilled continuously; past it, 429 with Retry-After."""

from __future__ import annotations

import math
import threading
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from qa.api.errors import error_response

MAX_CLIENTS = 10_000  # addresses remembered; full buckets are forgotten first
TOO_MANY = "too many requests from {client}: at most {limit} a minute; try again in {wait}s"


class Buckets:
    """Token buckets by client address: `limit` tokens, refilled at `limit` a minute."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._rate = limit / 60.0
        self._tokens: dict[str, tuple[float, float]] = {}  # address -> (tokens, when counted)
        self._lock = threading.Lock()

    def take(self, client: str, *, now: float | None = None) -> float:
        """Return 0 and spend a token when `client` has one, else the seconds until it will."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, then = self._tokens.get(client, (float(self.limit), now))
            tokens = min(float(self.limit), tokens + (now - then) * self._rate)
            if tokens < 1.0:
                self._tokens[client] = (tokens, now)
                return (1.0 - tokens) / self._rate
            self._tokens[client] = (tokens - 1.0, now)
            if len(self._tokens) > MAX_CLIENTS:
                self._forget_full(now)
            return 0.0

    def _forget_full(self, now: float) -> None:
        full = [c for c, (tokens, then) in self._tokens.items() if tokens + (now - then) * self._rate >= self.limit]
        for client in full or list(self._tokens)[: len(self._tokens) - MAX_CLIENTS]:
            del self._tokens[client]


class RateLimit:
    """ASGI middleware: at most `limit` /v1 requests a minute from each client address."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.buckets = Buckets(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 429 when its client has used up its minute."""
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.buckets.take(client)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                detail = TOO_MANY.format(client=client, limit=self.buckets.limit, wait=seconds)
                await error_response(detail, 429, headers={"Retry-After": str(seconds)})(scope, receive, send)
                return
        await self.app(scope, receive, send)
