"""Security headers on every response: the page may run only its own script and style and talk only to
its own server; no response is sniffed into another type, framed, or leaks its address as a referrer."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# the page (/ and /static/*): its own files only, no inline script or style, data: only for the empty icon
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
API_POLICY = "default-src 'none'; frame-ancestors 'none'"  # JSON and event streams are never documents
DOCS = ("/docs", "/redoc")  # FastAPI's own pages load their script from a CDN: left to their defaults
COMMON = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def security_headers(path: str) -> dict[str, str]:
    """Return the security headers of a response to `path`."""
    if path.startswith(DOCS):
        return dict(COMMON)
    page = path == "/" or path.startswith("/static/")
    return COMMON | {"Content-Security-Policy": PAGE_POLICY if page else API_POLICY}


class SecurityHeaders:
    """ASGI middleware adding security_headers() to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, adding the headers to the response when it starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in security_headers(scope["path"]).items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
