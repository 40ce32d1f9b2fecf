"""The cost of a conversation's history: server CPU for one POST /v1/chat whose body is 100 distinct user
messages (about 7 KB), answered by `qa serve` in a second process on loopback, and in this process the
CPU of answering the same conversation with the replay window the API used before (20 earlier turns)
and with the one it uses now (qa.chat.MAX_REPLAYED_TURNS), beside a single question.

    python bench/history.py [--messages 100] [--repeats 3] [--corpus corpus] [--out bench/results/history.json]

Every message is a seed question made distinct by a number, so no cache answers it; the server is
warmed by one request first. Server CPU comes from /proc (the process and its children). Also sent:
a body of the largest size the API accepts, made of tiny messages, to show what validation alone costs.
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from served import Server

from qa.api.app import MAX_BODY_BYTES
from qa.api.schemas import ChatBody
from qa.answer import build_pipeline
from qa.chat import MAX_REPLAYED_TURNS, answer_conversation
from qa.config import get_settings
from qa.embedding import build_embedder
from qa.ingest import ingest_corpus
from qa.nlp import Language
from qa.retrieve import build_retriever
from qa.store import open_store

ROOT = Path(__file__).resolve().parent.parent
BEFORE = 20  # earlier user turns the API replayed before the cap


def conversation(dataset: Path, count: int, *, salt: int) -> list[dict]:
    """Return `count` distinct user messages built from the seed set's questions."""
    questions = [json.loads(line)["question"] for line in dataset.read_text(encoding="utf-8").splitlines() if line]
    return [{"role": "user", "content": f"{questions[i % len(questions)]} ({salt}-{i})"} for i in range(count)]


def server_cpu(server: Server, body: dict) -> tuple[float, int, float]:
    """Return the server CPU seconds one POST /v1/chat of `body` cost, its status and its wall seconds."""
    before, began = server.cpu_seconds(), time.perf_counter()
    response = httpx.post(f"{server.url}/v1/chat", json=body, timeout=300)
    wall = time.perf_counter() - began
    time.sleep(0.2)  # let the worker thread's last CPU tick land
    return server.cpu_seconds() - before, response.status_code, wall


def in_process_cpu(pipeline, messages: list[dict], window: int) -> float:
    """Return the CPU seconds of answering the last message after `window` earlier ones, in this process."""
    questions = [m["content"] for m in messages]
    history = questions[:-1][-window:] if window else []
    began = time.process_time()
    answer_conversation(questions[-1], history, pipeline=pipeline)
    return time.process_time() - began


def tiny_messages_body() -> dict:
    """Return a /v1/chat body just under the size limit, made of one-character user messages."""
    one = {"role": "user", "content": "a"}
    count = (MAX_BODY_BYTES - 100) // (len(json.dumps(one)) + 2)
    return {"messages": [one] * count}


def measure(args: argparse.Namespace, workdir: Path) -> dict:
    """Return the figures: HTTP (the server as it is now) and in-process (each replay window)."""
    settings = get_settings(data_dir=workdir / "bench-data")
    embedder = build_embedder(settings)
    store = open_store(settings)
    language = Language(settings.nlp_model)
    ingest_corpus(args.corpus, store=store, embedder=embedder, language=language)
    retriever = build_retriever(settings, store=store, embedder=embedder)
    pipeline = build_pipeline(settings, retriever=retriever, language=language)
    server = Server(workdir=workdir, corpus=args.corpus)
    rows = {"http_now": [], "single": [], "before": [], "now": []}
    try:
        server.start()
        server_cpu(server, {"messages": conversation(args.dataset, args.messages, salt=-1)})  # warm-up
        for repeat in range(args.repeats):
            messages = conversation(args.dataset, args.messages, salt=repeat)
            assert len(ChatBody.model_validate({"messages": messages}).conversation()[1]) == MAX_REPLAYED_TURNS
            cpu, status, wall = server_cpu(server, {"messages": messages})
            if status != 200:
                raise RuntimeError(f"POST /v1/chat answered {status}")
            rows["http_now"].append({"cpu_s": cpu, "wall_s": wall})
            for name, window in (("single", 0), ("before", BEFORE), ("now", MAX_REPLAYED_TURNS)):
                rows[name].append({"cpu_s": in_process_cpu(pipeline, conversation(args.dataset, args.messages,
                                                                                   salt=100 * (repeat + 1) + window),
                                                            window)})
        tiny = tiny_messages_body()
        cpu, status, wall = server_cpu(server, tiny)
        largest = {"messages": len(tiny["messages"]), "bytes": len(json.dumps(tiny)), "status": status,
                   "cpu_s": cpu, "wall_s": wall}
    finally:
        server.stop()
    body_bytes = len(json.dumps({"messages": conversation(args.dataset, args.messages, salt=0)}))
    return {"messages": args.messages, "body_bytes": body_bytes, "replayed_before": BEFORE,
            "replayed_now": MAX_REPLAYED_TURNS, "runs": rows, "largest_body": largest,
            "mean_cpu_s": {name: sum(r["cpu_s"] for r in runs) / len(runs) for name, runs in rows.items()}}


def print_table(figures: dict) -> None:
    """Print the mean CPU of each way of answering the long conversation, and the largest body's."""
    mean = figures["mean_cpu_s"]
    print(f"\n/v1/chat with {figures['messages']} distinct user messages ({figures['body_bytes']:,} bytes), "
          "CPU seconds per request (mean):")
    print(f"  in-process, one question, no history             {mean['single']:6.2f}")
    print(f"  in-process, {figures['replayed_before']:>2} earlier turns replayed (before the cap) {mean['before']:6.2f}")
    print(f"  in-process, {figures['replayed_now']:>2} earlier turns replayed (now)            {mean['now']:6.2f}")
    print(f"  qa serve, the whole body over HTTP (now)        {mean['http_now']:6.2f}")
    largest = figures["largest_body"]
    print(f"  qa serve, {largest['messages']:,} one-letter messages ({largest['bytes']:,} bytes): "
          f"{largest['cpu_s']:.2f} s CPU, status {largest['status']}")


def main() -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "datasets" / "seed.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "history.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-history-") as tmp:
        figures = measure(args, Path(tmp))
    print_table(figures)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
