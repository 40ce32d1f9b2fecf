"""A real uvicorn server over the session's pipeline, in a thread on a free loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from conftest import Ingested, free_port

from qa.answer import Pipeline
from qa.api import Components, create_app

SERVER_START_TIMEOUT = 30.0


@contextmanager
def serving(ingested: Ingested, *, pipeline: Pipeline | None = None, **overrides: object) -> Iterator[str]:
    """Yield the base URL of a real uvicorn server over the session's pipeline (or `pipeline`), in a thread
    on a free loopback port; `overrides` go on top of the ingested store's settings."""
    components = Components(store=ingested.store, pipeline=pipeline or ingested.pipeline)
    app = create_app(ingested.settings.model_copy(update=overrides), components=components)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail(f"uvicorn did not start on 127.0.0.1:{port} within {SERVER_START_TIMEOUT:.0f}s", pytrace=False)
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

