"""Load benchmark of the HTTP API, `qa serve` in a second process on loopback, against in-process answering.

Concurrent clients send the seed set's stand-alone answerable questions to POST /v1/ask; the
in-process answer time is measured in the same run.

    python bench/load.py [--clients 1,4,16,32] [--seconds 30] [--warmup 3] [--rounds 3] [--client http1|httpx]
                         [--workers N]
                         [--corpus corpus] [--dataset eval/datasets/seed.jsonl] [--out bench/results/load.json]

The corpus is ingested twice into a temporary folder: once here (the in-process pipeline) and once
by `qa ingest` for the server, so the two processes never share one embedded Chroma directory.
The in-process time is answer_conversation() on the same questions after one warm-up round,
measured while the server is up, idle and warmed by one round over HTTP, before and after the load.
Questions are cycled, so both sides answer from warm query and sentence embedding caches: the
Python-bound path, not the model.

Each level runs `clients` clients (one keep-alive connection each) sending requests back to
back for --warmup seconds (not counted), then --seconds; a request counts when it starts inside the
measured window. An error is an exception or a status other than 200; errors are counted apart
(latencies and throughput are of answered requests) and a run with errors meets no goal. A mismatch
is a 200 whose answer text or first citation differs from the in-process answer to the same
question. The round trip without answering (sequential GET /healthz, same client) shows how much of
the ratio is HTTP and client. Server and client CPU are in cores (CPU seconds per wall second; the
server's includes its child processes, the client's is this whole process); the server's resident
memory (with its children) is taken when each level's measured window starts and ends. The default client is a
minimal HTTP/1.1 one (bench/http1.py), so the client library's own CPU is not counted as the
service's; --client httpx measures through httpx instead.

Goals (issue 3): HTTP p50 at one client at most 1.5x the in-process p50; throughput at 16 clients at
least 1.6x that at one client on 2 cores; no errors. Prints a table, writes bench/results/load.json and
exits 1 when a request failed or answered differently.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from http1 import CLIENTS, Connection, HTTPError
from served import Server

from qa.answer import build_pipeline
from qa.chat import answer_conversation
from qa.config import Settings, get_settings
from qa.embedding import build_embedder
from qa.ingest import ingest_corpus
from qa.nlp import Language
from qa.retrieve import Filters, build_retriever
from qa.store import open_store

ROOT = Path(__file__).resolve().parent.parent
LATENCY_GOAL, SCALING_GOAL = 1.5, 1.6
FLOOR_REQUESTS = 500
ERROR_PAUSE = 0.05


@dataclass
class Level:
    """What the clients of one concurrency level saw inside the measured window."""

    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    mismatches: int = 0
    samples: list[str] = field(default_factory=list)  # first few error and mismatch descriptions
    window: float = 0.0
    server_cpu: float | None = None
    client_cpu: float = 0.0
    rss_mb: tuple[float | None, float | None] = (None, None)  # server memory before and after the level

    def note(self, text: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(text)

    def summary(self) -> dict:
        """Return the JSON-ready figures of the level."""
        n = len(self.latencies)
        return {"clients": self.clients, "requests": n, "seconds": round(self.window, 3),
                "throughput_rps": n / self.window if self.window else 0.0,
                **percentiles(self.latencies), "errors": self.errors, "mismatches": self.mismatches,
                "server_cpu_cores": self.server_cpu, "client_cpu_cores": self.client_cpu,
                "server_rss_mb_before": self.rss_mb[0], "server_rss_mb_after": self.rss_mb[1],
                "samples": self.samples}


def percentiles(seconds: list[float]) -> dict:
    """Return p50, p95, p99 and mean in milliseconds (None when there are no samples)."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None}
    ms = np.asarray(seconds) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99), "mean_ms": float(ms.mean())}


def load_questions(dataset: Path) -> list[str]:
    """Return the answerable questions of the dataset that need no history."""
    rows = [json.loads(line) for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows if r["answerable"] and not r.get("history")]


def answer_key(answer: dict) -> tuple:
    """Return what must agree between the HTTP and the in-process answer: text and first citation."""
    first = (answer.get("citations") or [{}])[0]
    return answer.get("answer"), first.get("article_id"), first.get("paragraph")


class InProcess:
    """The answering pipeline built in this process, over its own copy of the corpus."""

    def __init__(self, settings: Settings, corpus: Path) -> None:
        self.settings = settings
        embedder = build_embedder(settings)
        store = open_store(settings)
        language = Language(settings.nlp_model)
        ingest_corpus(corpus, store=store, embedder=embedder, language=language)
        self.pipeline = build_pipeline(settings, retriever=build_retriever(settings, store=store, embedder=embedder),
                                       language=language)

    def answer(self, question: str) -> dict:
        """Return the answer as `qa ask --json` prints it."""
        return answer_conversation(question, [], pipeline=self.pipeline, k=self.settings.top_k,
                                   filters=Filters()).to_dict()

    def time_rounds(self, questions: list[str], rounds: int) -> list[float]:
        """Return the seconds each answer took over `rounds` passes through the questions."""
        seconds = []
        for question in itertools.islice(itertools.cycle(questions), rounds * len(questions)):
            started = time.perf_counter()
            self.answer(question)
            seconds.append(time.perf_counter() - started)
        return seconds


async def send(client: Connection, question: str) -> tuple[float, str | None, dict | None]:
    """Return the seconds one POST /v1/ask took, an error description (None when it succeeded) and the body."""
    began = time.perf_counter()
    try:
        status, body = await client.post_json("/v1/ask", {"question": question})
    except HTTPError as exc:
        return time.perf_counter() - began, str(exc)[:200], None
    elapsed = time.perf_counter() - began
    if status != 200:
        return elapsed, f"status {status}: {body[:200].decode('utf-8', 'replace')}", None
    try:
        return elapsed, None, json.loads(body)
    except ValueError as exc:
        return elapsed, f"invalid JSON: {exc}"[:200], None


async def run_client(client: Connection, level: Level, *, questions: list[str], offset: int,
                     reference: dict[str, tuple], window: tuple[float, float], budget: list[int]) -> None:
    """Send questions back to back until the window ends; record the requests started inside it."""
    start, end = window
    for question in itertools.islice(itertools.cycle(questions), offset, None):
        began = time.perf_counter()
        if began >= end or budget[0] <= 0:
            return
        counted = began >= start
        budget[0] -= counted
        elapsed, error, body = await send(client, question)
        if error:
            await asyncio.sleep(ERROR_PAUSE)  # a dead server must not turn the loop into a busy spin
        if not counted:
            continue
        if error:
            level.errors += 1
            level.note(error)
            continue
        level.latencies.append(elapsed)
        if reference and answer_key(body) != reference[question]:
            level.mismatches += 1
            level.note(f"mismatch on {question[:60]!r}: {answer_key(body)} != {reference[question]}")


async def prime(url: str, questions: list[str], *, client_type: type[Connection], timeout: float) -> dict:
    """Ask the server each question once, as the in-process pipeline was, so both start warm; return
    the percentiles of FLOOR_REQUESTS sequential GET /healthz, the round trip with no answering in it."""
    client = client_type(url, headers=auth_headers(), timeout=timeout)
    try:
        for question in questions:
            await send(client, question)
        seconds = []
        for _ in range(FLOOR_REQUESTS):
            began = time.perf_counter()
            status, _ = await client.get("/healthz")
            if status != 200:
                raise RuntimeError(f"GET /healthz answered {status}")
            seconds.append(time.perf_counter() - began)
    finally:
        await client.close()
    return percentiles(seconds)


def auth_headers() -> dict[str, str]:
    """Return the bearer header the server wants when QA_API_KEY is set."""
    key = os.environ.get("QA_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


async def run_level(url: str, clients: int, *, questions: list[str], reference: dict[str, tuple],
                    args: argparse.Namespace, server: Server) -> Level:
    """Return what `clients` concurrent clients saw in --seconds after --warmup seconds."""
    level = Level(clients)
    client_type = CLIENTS[args.client]
    sessions = [client_type(url, headers=auth_headers(), timeout=args.timeout) for _ in range(clients)]
    now = time.perf_counter()
    window = (now + args.warmup, now + args.warmup + args.seconds)
    budget = [args.max_requests]
    try:
        tasks = [run_client(s, level, questions=questions, offset=i * len(questions) // clients,
                            reference=reference, window=window, budget=budget) for i, s in enumerate(sessions)]
        load = asyncio.ensure_future(asyncio.gather(*tasks))
        await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
        cpu_server, cpu_client, rss_before = server.cpu_seconds(), time.process_time(), server.rss_mb()
        await load
        level.rss_mb = (rss_before, server.rss_mb())
        finished = time.perf_counter()
        level.window = finished - window[0]
        level.client_cpu = (time.process_time() - cpu_client) / level.window
        cpu_after = server.cpu_seconds()
        if cpu_server is not None and cpu_after is not None:
            level.server_cpu = (cpu_after - cpu_server) / level.window
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return level


def print_table(inprocess: dict, levels: list[dict], ratios: dict) -> None:
    head = (f"{'clients':>7} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
            f"{'errors':>6} {'mismatch':>8} {'srv cpu':>7} {'cli cpu':>7} {'srv MB':>13}")
    print(f"\nin-process answer_conversation: {inprocess['answers']} answers, p50 {inprocess['p50_ms']:.1f} ms, "
          f"p95 {inprocess['p95_ms']:.1f} ms (before load p50 {inprocess['before']['p50_ms']:.1f}, "
          f"after {inprocess['after']['p50_ms']:.1f})\n")
    print(head)
    print("-" * len(head))
    for r in levels:
        cpu = f"{r['server_cpu_cores']:.2f}" if r["server_cpu_cores"] is not None else "-"
        print(f"{r['clients']:>7} {r['requests']:>8} {r['throughput_rps']:>7.1f} {fmt(r['p50_ms'])} "
              f"{fmt(r['p95_ms'])} {fmt(r['p99_ms'])} {r['errors']:>6} {r['mismatches']:>8} "
              f"{cpu:>7} {r['client_cpu_cores']:>7.2f} {memory(r):>13}")
    for r in levels:
        for sample in r["samples"]:
            print(f"  [{r['clients']} clients] {sample}")
    print()
    for name, entry in ratios.items():
        verdict = "n/a" if entry["value"] is None else ("met" if entry["met"] else "NOT met")
        value = "-" if entry["value"] is None else f"{entry['value']:.2f}"
        print(f"  {entry['label']:<52} {value:>6}   goal {entry['goal']}   {verdict}")


def memory(level: dict) -> str:
    """Return the server's memory before and after a level, as "664->735"."""
    before, after = level["server_rss_mb_before"], level["server_rss_mb_after"]
    return f"{before:.0f}->{after:.0f}" if before is not None and after is not None else "-"


def fmt(ms: float | None) -> str:
    return f"{ms:>8.1f}" if ms is not None else f"{'-':>8}"


def ratio_figures(inprocess: dict, levels: list[dict]) -> dict:
    """Return the two goal ratios of issue 3 (None when the run lacks the level they need)."""
    by = {r["clients"]: r for r in levels}
    one, top = by.get(1), by.get(16)
    clean = all(r["errors"] == 0 for r in levels)  # a run with failed requests meets no goal
    latency = one["p50_ms"] / inprocess["p50_ms"] if one and one["p50_ms"] else None
    scaling = top["throughput_rps"] / one["throughput_rps"] if one and top and one["throughput_rps"] else None
    return {
        "http_p50_over_inprocess_p50": {"label": "HTTP p50 at 1 client / in-process p50", "value": latency,
                                        "goal": f"<= {LATENCY_GOAL}",
                                        "met": clean and latency is not None and latency <= LATENCY_GOAL},
        "throughput_16_over_1": {"label": "throughput at 16 clients / at 1 client", "value": scaling,
                                 "goal": f">= {SCALING_GOAL}",
                                 "met": clean and scaling is not None and scaling >= SCALING_GOAL},
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,4,16,32", help="comma-separated concurrency levels")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted seconds before each level")
    parser.add_argument("--rounds", type=int, default=3, help="in-process passes over the questions, before and after")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="http1",
                        help="http1: a minimal keep-alive client (bench/http1.py); httpx: a general-purpose one")
    parser.add_argument("--workers", type=int, default=1, help="server processes (qa serve --workers)")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    parser.add_argument("--max-requests", type=int, default=100_000, help="cap on counted requests per level")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "datasets" / "seed.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    if not args.clients or min(args.clients) < 1 or args.seconds <= 0 or args.warmup < 0 or args.rounds < 1:
        parser.error("--clients must be positive integers, --seconds > 0, --warmup >= 0, --rounds >= 1")
    return args


def measure(args: argparse.Namespace, workdir: Path, settings: Settings, questions: list[str]) -> dict:
    """Return the in-process times, the /healthz round trip and every level's figures."""
    pipeline = InProcess(settings, args.corpus)
    reference = {q: answer_key(pipeline.answer(q)) for q in questions}  # also the in-process warm-up round
    if settings.llm_base_url:
        reference = {}  # an LLM's answers need not repeat word for word
    server = Server(workdir=workdir, corpus=args.corpus, workers=args.workers)
    try:
        server.start()
        print(f"qa serve ready at {server.url} (pid {server.process.pid})", file=sys.stderr)
        floor = asyncio.run(prime(server.url, questions, client_type=CLIENTS[args.client], timeout=args.timeout))
        before = pipeline.time_rounds(questions, args.rounds)
        levels = []
        for clients in args.clients:
            print(f"{clients} clients: {args.warmup:g}s warm-up + {args.seconds:g}s...", file=sys.stderr)
            level = asyncio.run(run_level(server.url, clients, questions=questions, reference=reference,
                                          args=args, server=server))
            levels.append(level.summary())
        after = pipeline.time_rounds(questions, args.rounds)
    except Exception:
        if server.process is not None:
            print(f"server log tail:\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()
    inprocess = {"answers": len(before) + len(after), **percentiles(before + after),
                 "before": percentiles(before), "after": percentiles(after)}
    return {"inprocess": inprocess, "healthz_round_trip": floor, "levels": levels}


def run(args: argparse.Namespace, workdir: Path) -> int:
    questions = load_questions(args.dataset)
    settings = get_settings(data_dir=workdir / "bench-data")
    print(f"{len(questions)} questions, {args.client} client, {args.workers} server process(es); ingesting {args.corpus} in-process and for the server...", file=sys.stderr)
    figures = measure(args, workdir, settings, questions)
    ratios = ratio_figures(figures["inprocess"], figures["levels"])
    print_table(figures["inprocess"], figures["levels"], ratios)
    print(f"  (round trip without answering, GET /healthz at 1 client: p50 "
          f"{figures['healthz_round_trip']['p50_ms']:.2f} ms)")
    failed = sum(r["errors"] + r["mismatches"] for r in figures["levels"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "questions": len(questions), "client": args.client, "workers": args.workers, "seconds": args.seconds, "warmup": args.warmup,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "answerer": "llm" if settings.llm_base_url else "extractive",
        **figures, "ratios": ratios, "failed_requests": failed,
    }, indent=2))
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 1 if failed else 0


def interrupt(signum, frame) -> None:
    """Unwind on SIGTERM as on Ctrl-C, so the server is stopped and the temp folder removed either way."""
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
            return run(args, Path(tmp))
    except KeyboardInterrupt:
        print("interrupted; server stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
