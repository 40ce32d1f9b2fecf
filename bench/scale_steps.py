"""What bench/scale.py does at each step: the `chroma run` server it grows, the ingest of a step's
articles, and the measurements of the store at that size."""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3
import statistics
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
from served import free_port, tree_rss_mb

ROOT = Path(__file__).resolve().parent.parent
CHROMA = str(Path(sys.executable).parent / "chroma")
CHROMA_PORT = 8765
QA_MAIN = "from qa.cli import main; main()"
HTTP_SAMPLE = 100  # questions timed over HTTP
COLD_RUNS = 3


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
        figures = {"articles": len(articles), "held_paragraphs": sum(sizes.values()), "ingest_paragraphs": added,
                   "ingest_s": round(seconds, 1)}
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
    questions = random.Random(context.seed).sample(context.questions, min(context.sample, len(context.questions)))
    figures = {"store_mb": folder_mb(context.workdir / "chroma"),
               "lexical_mb": folder_mb(context.workdir / "client" / "lexical")}
    figures |= in_process(context, questions)
    figures |= cold_start(context, questions[0]["question"])
    with ApiProcess(context) as api:
        figures["serve_ready_s"] = api.ready_s
        figures |= over_http(api, questions[:HTTP_SAMPLE])
        figures |= fresh_article(context, api, size=size)
        figures["api_rss_mb"] = round(tree_rss_mb(api.process.pid) or 0.0, 1)
        figures["api_peak_rss_mb"] = peak_rss_mb(api.process.pid)
    print(f"  step {size}: {json.dumps(figures)}", file=sys.stderr, flush=True)
    return figures


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def in_process(context: StepContext, questions: list[dict]) -> dict:
    """Return the whole answer's p50/p95 in this process and SQuAD recall@1/@5 of the answer's ranking,
    with the time the pipeline took to open over the store (the lexical index read, not rebuilt)."""
    from qa.answer import answer_question
    from qa.api.runtime import build_components

    embedder, language = context.models()
    started = time.perf_counter()
    parts = build_components(context.settings, embedder=embedder, language=language)
    opened = time.perf_counter() - started
    for q in questions[:3]:  # warm: first-call allocations, the page cache
        answer_question(q["question"], pipeline=parts.pipeline)
    times, ranks, quoted = [], [], 0
    for q in questions:
        ms, rank, holds = ask_timed(parts.pipeline, q)
        times.append(ms)
        ranks.append(rank)
        quoted += holds
    return {"open_s": round(opened, 2), "query_p50_ms": round(percentile(times, 0.5), 1),
            "query_p95_ms": round(percentile(times, 0.95), 1), "questions": len(questions),
            "recall@1": round(sum(1 for r in ranks if r == 0) / len(ranks), 4),
            "recall@5": round(sum(1 for r in ranks if r is not None and r < 5) / len(ranks), 4),
            "first_quote_holds_answer": round(quoted / len(ranks), 4),
            "lexical_rebuilt": parts.retriever.follower.rebuilt}


def ask_timed(pipeline, question: dict) -> tuple[float, int | None, bool]:
    """Return the whole answer's time (ms), the gold paragraph's rank among its paragraphs (None when
    absent) and whether its first quote holds an answer string."""
    from qa.answer import answer_question

    started = time.perf_counter()
    answer = answer_question(question["question"], pipeline=pipeline)
    ms = 1000 * (time.perf_counter() - started)
    gold = f"{question['article_id']}:{question['paragraph']}"
    rank = answer.retrieved.index(gold) if gold in answer.retrieved else None
    return ms, rank, bool(answer.citations) and holds_answer(answer.citations[0].quote, question["answers"])


def holds_answer(text: str, answers: list[str]) -> bool:
    """Return True when `text` holds one of SQuAD's answer strings (case and spacing aside): the
    reader got the answer, from the gold paragraph or from another that states the same fact (SQuAD's
    articles repeat facts across paragraphs, and distractors are built from their sentences)."""
    flat = " ".join(text.lower().split())
    return any(" ".join(a.lower().split()) in flat for a in answers)


def environment(context: StepContext, *, data_dir: Path | None = None) -> dict[str, str]:
    """Return the environment of a `qa` process over the scale store (this machine's data folder unless
    another is given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return env | {"QA_CHROMA_URL": context.url, "QA_DATA_DIR": str(data_dir or context.workdir / "client"),
                  "QA_COLLECTION": "scale", "QA_STORE_TIMEOUT": "120", "PYTHONPATH": str(ROOT)}


def copy_lexical(context: StepContext, data_dir: Path) -> None:
    """Give `data_dir` a copy of this machine's lexical index (SQLite's backup: consistent while open),
    so a server there starts as one on another machine would once its index is built, and follows the
    store's change log on its own."""
    from qa.lexical import index_path

    source = index_path(context.settings)
    target = index_path(context.settings.model_copy(update={"data_dir": data_dir}))
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(target.name + "*"):
        stale.unlink()
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def cold_start(context: StepContext, question: str) -> dict:
    """Return the median wall time of `qa ask` as a new process, and of the import floor, in one run."""
    env = environment(context)
    ask = [sys.executable, "-c", QA_MAIN, "ask", question]
    floor = [sys.executable, "-c", "import chromadb, llama_index.core"]
    walls: dict[str, list[float]] = {"ask": [], "floor": []}
    for _ in range(COLD_RUNS):
        for name, command in (("floor", floor), ("ask", ask)):
            started = time.perf_counter()
            subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, timeout=600)
            walls[name].append(time.perf_counter() - started)
    return {"ask_wall_s": round(statistics.median(walls["ask"]), 2),
            "floor_wall_s": round(statistics.median(walls["floor"]), 2)}


class ApiProcess:
    """`qa serve` (one worker) over the scale store, in a child process, until the block ends."""

    def __init__(self, context: StepContext) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        copy_lexical(context, context.workdir / "api")
        self.env = environment(context, data_dir=context.workdir / "api")
        self.log = context.workdir / "serve.log"
        self.process: subprocess.Popen | None = None
        self.ready_s = 0.0

    def __enter__(self) -> ApiProcess:
        started = time.perf_counter()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-c", QA_MAIN, "serve", "--host", "127.0.0.1",
                                             "--port", str(self.port)], env=self.env, cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 900
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"qa serve did not get ready; see {self.log}")
            time.sleep(0.1)
        self.ready_s = round(time.perf_counter() - started, 2)
        return self

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def ask(self, question: str, **body: object) -> dict:
        """Return the body of POST /v1/ask."""
        response = httpx.post(f"{self.url}/v1/ask", json={"question": question, **body}, timeout=120)
        response.raise_for_status()
        return response.json()

    def indexed(self, article_id: str) -> bool:
        """Return True when the server's own lexical index holds the article (a question restricted to
        it is a 404 until then; dense search alone would find the article sooner)."""
        response = httpx.post(f"{self.url}/v1/ask", json={"question": FRESH_QUESTION,
                                                          "filters": {"articles": [article_id]}}, timeout=120)
        if response.status_code not in (200, 404):
            response.raise_for_status()
        return response.status_code == 200

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def over_http(api: ApiProcess, questions: list[dict]) -> dict:
    """Return p50/p95 of /v1/ask, one request at a time, from this process."""
    for q in questions[:3]:
        api.ask(q["question"])
    times = []
    for q in questions:
        started = time.perf_counter()
        api.ask(q["question"])
        times.append(1000 * (time.perf_counter() - started))
    return {"http_p50_ms": round(percentile(times, 0.5), 1), "http_p95_ms": round(percentile(times, 0.95), 1),
            "http_questions": len(questions)}


FRESH = Article(id="scale-fresh", title="Harbour festival in Quenlington",
                paragraphs=("The Zorvath lantern festival was held in Quenlington harbour on its ninth evening, "
                            "where the boatwright Ilsabet Marrow lit the first lantern.",))
FRESH_QUESTION = "Who lit the first lantern at the Zorvath lantern festival?"


def fresh_article(context: StepContext, api: ApiProcess, *, size: int) -> dict:
    """Return how long one article ingested by this process takes to be in the running server's own
    lexical index and first among its answer's paragraphs (from the end of its ingest), and how long
    its removal takes to leave both."""
    from qa.ingest import ingest_articles
    from qa.store import open_store

    embedder, language = context.models()
    store = open_store(context.settings)
    started = time.perf_counter()
    ingest_articles([FRESH], store=store, embedder=embedder, language=language)
    ingested = time.perf_counter()
    seen = _poll(lambda: api.indexed(FRESH.id) and api.ask(FRESH_QUESTION)["retrieved"][:1] == [f"{FRESH.id}:1"])
    store.delete_article(FRESH.id)
    removed = time.perf_counter()
    gone = _poll(lambda: not api.indexed(FRESH.id)
                 and not any(k.startswith(f"{FRESH.id}:") for k in api.ask(FRESH_QUESTION)["retrieved"]))
    return {"fresh_ingest_s": round(ingested - started, 2), "fresh_s": round(seen - ingested, 2),
            "removed_s": round(gone - removed, 2)}


def _poll(check, *, limit: float = 120.0) -> float:
    """Return the time at which `check()` first held (polled every 0.1 s), or raise after `limit`."""
    deadline = time.perf_counter() + limit
    while not check():
        if time.perf_counter() > deadline:
            raise SystemExit("the running server did not catch up within two minutes")
        time.sleep(0.1)
    return time.perf_counter()


def peak_rss_mb(pid: int) -> float | None:
    """Return a process's peak resident memory (VmHWM) in MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return round(next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024, 1)
    except (OSError, StopIteration, ValueError):
        return None
