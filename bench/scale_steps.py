"""What bench/scale.py does at each step: the `chroma run` server it grows, the ingest of a step's
articles, and the measurements of the store at that size."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from qa.config import Settings, get_settings
from qa.models import Article

CHROMA = str(Path(sys.executable).parent / "chroma")
CHROMA_PORT = 8765


@contextmanager
def serve_chroma(workdir: Path, *, port: int = CHROMA_PORT) -> Iterator[str]:
    """Yield the URL of a `chroma run` server over workdir/chroma, started here and stopped after."""
    log = (workdir / "chroma.log").open("ab")
    process = subprocess.Popen([CHROMA, "run", "--path", str(workdir / "chroma"), "--host", "127.0.0.1",
                                "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"{url}/api/v2/heartbeat", timeout=2).raise_for_status()
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"chroma run did not start; see {workdir / 'chroma.log'}") from None
            time.sleep(0.5)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class StepContext:
    """What every step shares: the server, the folders, the questions and the loaded models."""

    url: str
    workdir: Path
    questions: list[dict]
    sample: int
    seed: int
    _loaded: dict = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        """Return the settings of the scale store (server URL, its own data dir, a long store timeout)."""
        return get_settings(chroma_url=self.url, data_dir=self.workdir / "client", collection="scale",
                            store_timeout=120.0)

    def models(self) -> tuple:
        """Return the embedder and the language pipeline, loaded once."""
        if not self._loaded:
            from qa.embedding import build_embedder
            from qa.nlp import Language

            self._loaded["embedder"] = build_embedder(self.settings)
            self._loaded["language"] = Language(self.settings.nlp_model, processes=self.settings.nlp_processes)
        return self._loaded["embedder"], self._loaded["language"]

    def ingest(self, articles: list[Article]) -> dict:
        """Return the figures of ingesting `articles` (those stored already are unchanged and cost nothing)."""
        from qa.ingest import ingest_articles
        from qa.store import open_store

        embedder, language = self.models()
        store = open_store(self.settings)
        sizes = {a.id: len(a.paragraphs) for a in articles}
        done = [0]

        def progress(count: int) -> None:
            done[0] += count
            if done[0] % 200 < count:
                print(f"  ingest: {done[0]}/{len(articles)} articles", file=sys.stderr, flush=True)

        started = time.perf_counter()
        report = ingest_articles(articles, store=store, embedder=embedder, language=language, progress=progress)
        seconds = time.perf_counter() - started
        added = sum(sizes[a] for a in report.added + report.updated)
        print(f"  ingest: {report.summary()}", file=sys.stderr, flush=True)
        figures = {"articles": len(articles), "ingest_paragraphs": added, "ingest_s": round(seconds, 1)}
        if added:
            figures["ingest_paragraphs_per_s"] = round(added / seconds, 2)
        return figures


def folder_mb(path: Path) -> float:
    """Return the size of the files under `path` in MB (0 when it does not exist)."""
    if not path.exists():
        return 0.0
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 1e6, 1)


def measure_step(context: StepContext, *, size: int) -> dict:
    """Return the measurements of the store at this step."""
    raise NotImplementedError


def _unused() -> None:
    shutil.which("qa")
