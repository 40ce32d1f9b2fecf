"""The collaborators the routes answer with, built once per process in a background thread so the
server listens (and /healthz answers) while the store opens and the embedding model loads."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from qa import embedding
from qa.answer import Pipeline, build_pipeline
from qa.api.errors import one_line
from qa.config import Settings
from qa.errors import NotIngested, QAError, StoreUnavailable
from qa.nlp import Language
from qa.retrieve import Retriever, build_retriever
from qa.store import Store, open_store

STARTING = "starting: opening the store and loading the embedding model"
RETRY_SECONDS = 5.0  # an unreachable or empty store may come up later (a server starting, an ingest)
HEARTBEAT_SECONDS = 1.0  # /readyz asks the store at most this often; other polls get the last answer

log = logging.getLogger("qa.api")


@dataclass
class Components:
    """The store and the answering pipeline over it."""

    store: Store
    pipeline: Pipeline

    @property
    def retriever(self) -> Retriever:
        """Return the pipeline's first stage."""
        return self.pipeline.retriever


def build_components(settings: Settings, *, store: Store | None = None, embedder=None,
                     language: Language | None = None) -> Components:
    """Return the pipeline over the store the settings name, opening and loading what is not given."""
    store = open_store(settings) if store is None else store
    # looked up at call time, so tests can hand every app the session's one model
    embedder = embedding.build_embedder(settings) if embedder is None else embedder
    language = Language(settings.nlp_model) if language is None else language
    retriever = build_retriever(settings, store=store, embedder=embedder)
    return Components(store=store, pipeline=build_pipeline(settings, retriever=retriever, language=language))


class StoreHealth:
    """Whether the store answers, from a heartbeat at most every HEARTBEAT_SECONDS and from the
    failures requests meet; one log line when it stops answering, one when it answers again."""

    def __init__(self) -> None:
        self.reason = ""  # "" while the store answers
        self._down_since: float | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        """Return True while the store is known not to answer."""
        return self._down_since is not None

    def check(self, store: Store) -> str:
        """Return "" when the store answers, else the reason; blocks for at most one heartbeat."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked < HEARTBEAT_SECONDS:
                return self.reason
            self._checked = now  # concurrent polls take the last answer instead of piling up
        try:
            store.heartbeat()
        except StoreUnavailable as exc:
            self.failed(exc)
            return self.reason
        self.answered()
        return ""

    def failed(self, exc: StoreUnavailable) -> None:
        """Note that a store call failed; log it when the store was answering until now."""
        with self._lock:
            self.reason = str(exc)
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("store unreachable: %s", exc)

    def answered(self) -> None:
        """Note that the store answered; log the recovery when it was down."""
        with self._lock:
            if self._down_since is not None:
                log.warning("store reachable again after %.1fs", time.monotonic() - self._down_since)
            self._down_since = None
            self.reason = ""


class Runtime:
    """Holds the components once built, or the one-line reason they are not there yet."""

    def __init__(self, settings: Settings, components: Components | None = None) -> None:
        self.settings = settings
        self.components = components
        self.reason = "" if components else STARTING
        self.health = StoreHealth()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start building the components in a daemon thread, unless they were given."""
        if self.components is None and self._thread is None:
            self._thread = threading.Thread(target=self._build, name="qa-build", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Make the build thread stop retrying."""
        self._stop.set()

    def refresh_if_stale(self) -> bool:
        """Catch up with the store's change log when it grew (an ingest or removal by another process):
        one count call when nothing changed, else the changed articles' chunks alone are read into
        the lexical index. Return True when some article changed."""
        current = self.components
        if current is None or not current.retriever.stale():
            return False
        if not current.retriever.refresh():
            return False  # only this process's own writes, already applied
        log.info("store changed: %d chunks indexed", current.retriever.size)
        return True

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.refresh_seconds):
            try:
                self.refresh_if_stale()
            except StoreUnavailable as exc:  # an outage is logged once, by the health check
                self.health.failed(exc)
            except QAError as exc:  # keep answering from the index we have
                log.warning("could not refresh the index: %s", exc)

    def _build(self) -> None:
        embedder = None
        while not self._stop.is_set():
            try:
                store = open_store(self.settings)  # before the slow model load: an unreachable store shows at once
                embedder = embedding.build_embedder(self.settings) if embedder is None else embedder
                self.components = build_components(self.settings, store=store, embedder=embedder)
                self.reason = ""
                log.info("ready: %d chunks indexed", self.components.retriever.size)
                self._watch()
                return
            except (StoreUnavailable, NotIngested) as exc:  # may pass: a server starting, an ingest running
                if str(exc) != self.reason:  # one line per reason, not one per retry
                    log.warning("not ready (retrying every %gs): %s", RETRY_SECONDS, exc)
                self.reason = str(exc)
            except QAError as exc:
                self.reason = str(exc)
                log.error("not ready: %s", exc)
                return
            except Exception as exc:  # noqa: BLE001 -- /readyz reports it; the log keeps the traceback
                self.reason = f"start-up failed: {one_line(exc)}"
                log.exception("not ready")
                return
            self._stop.wait(RETRY_SECONDS)
