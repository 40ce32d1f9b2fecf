"""The HTTP service: `create_app(settings)` returns the FastAPI app that `qa serve` runs.

    app.py          the app factory and the routes
    runtime.py      Components (store, retriever, answerer), built in a background thread
    schemas.py      request bodies and their translation into library terms
    completions.py  OpenAI chat-completions shapes
    streams.py      Server-Sent Events
    errors.py       the one mapping of failures to status codes and one-line details; the body limit
    headers.py      security headers (Content-Security-Policy, nosniff, no referrer)
    limits.py       per-client rate limiting when no API key is set
"""

from qa.api.app import create_app
from qa.api.runtime import Components, build_components

__all__ = ["Components", "build_components", "create_app"]
