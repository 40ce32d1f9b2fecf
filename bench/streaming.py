"""Streaming benchmark: how soon a streamed answer starts arriving from `qa serve` on loopback.

    python bench/streaming.py [--corpus corpus] [--dataset eval/datasets/seed.jsonl] [--questions 8]
                              [--rounds 2] [--piece-delay 0.03] [--out bench/results/streaming.json]

Two servers over the seed corpus, each ingested by `qa ingest` into its own temporary folder: the
extractive answerer, and the LLM answerer against the loopback fake OpenAI-compatible endpoint of
tests/fake_llm.py, which streams its reply a word every --piece-delay seconds (it quotes the first
sentence of the first three passages it is given, each cited). For /v1/chat and /v1/chat/completions with
"stream": true, each stand-alone answerable question of the dataset is asked --rounds times after one
warm-up pass; the medians are reported of

    first event     the `retrieved` event (/v1/chat) or the role chunk (completions): retrieval is done
    first sentence  the first `delta` or content chunk
    last event      `done`, or [DONE]

against the in-process retrieval time (qa.answer.retrieve_paragraphs on the same questions, this process,
its own copy of the corpus) and the in-process time of the whole answer. Prints a table, writes the JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from served import ROOT, Server

sys.path.insert(0, str(ROOT / "tests"))  # the loopback fake LLM the tests use
from fake_llm import FAKE_MODEL, running_fake_llm  # noqa: E402

from qa.answer import answer_question, build_pipeline, retrieve_paragraphs  # noqa: E402
from qa.config import get_settings  # noqa: E402
from qa.embedding import build_embedder  # noqa: E402
from qa.ingest import ingest_corpus  # noqa: E402
from qa.nlp import Language  # noqa: E402
from qa.retrieve import build_retriever  # noqa: E402
from qa.store import open_store  # noqa: E402

ENDPOINTS = ("/v1/chat", "/v1/chat/completions")
_PASSAGE = re.compile(r"^\[(\d+)\] [^\n]*\n<passage>\n(.*?)\n</passage>", re.M | re.S)


def quote_passages(messages: list[dict]) -> str:
    """Reply with the first sentence of each of the first three passages, cited."""
    found = _PASSAGE.findall(messages[-1]["content"])[:3]
    first = [re.split(r"(?<=[.!?])\s+", text.strip())[0].rstrip(".!?") for _, text in found]
    return " ".join(f"{sentence} [{n}]." for (n, _), sentence in zip(found, first)) or "NOT_IN_CORPUS"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "datasets" / "seed.jsonl")
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--piece-delay", type=float, default=0.03)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "streaming.json")
    return parser.parse_args()


def load_questions(path: Path, count: int) -> list[str]:
    """Return the first `count` stand-alone answerable questions of the dataset."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("answerable") and not r.get("history")][:count]


def in_process_seconds(workdir: Path, corpus: Path, questions: list[str], rounds: int) -> dict:
    """Return the median in-process retrieval and whole-answer times (extractive), after a warm-up pass."""
    settings = get_settings(data_dir=workdir / "in-process")
    embedder = build_embedder(settings)
    store = open_store(settings)
    language = Language(settings.nlp_model)
    ingest_corpus(corpus, store=store, embedder=embedder, language=language)
    pipeline = build_pipeline(settings, retriever=build_retriever(settings, store=store, embedder=embedder),
                              language=language)
    retrieval, whole = [], []
    for round_ in range(rounds + 1):
        for question in questions:
            start = time.perf_counter()
            retrieve_paragraphs(question, pipeline=pipeline)
            middle = time.perf_counter()
            answer_question(question, pipeline=pipeline, k=settings.top_k)
            if round_:
                retrieval.append(middle - start)
                whole.append(time.perf_counter() - middle)
    return {"retrieval_ms": 1000 * statistics.median(retrieval), "answer_ms": 1000 * statistics.median(whole)}


def timed_stream(client: httpx.Client, url: str, path: str, question: str) -> dict:
    """Return the seconds to the first event, the first sentence and the last event of one streamed answer."""
    body = {"model": "qa", "messages": [{"role": "user", "content": question}], "stream": True}
    start = time.perf_counter()
    first = sentence = last = None
    name = ""
    with client.stream("POST", f"{url}{path}", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
                continue
            if not line.startswith("data: "):
                continue
            now = time.perf_counter() - start
            first = now if first is None else first
            data = line[len("data: "):]
            if sentence is None and (name == "delta" or '"content": "' in data and '"content": ""' not in data):
                sentence = now
            if name == "error" or '"error"' in data[:10]:
                raise RuntimeError(f"{path} streamed an error: {data}")
            last = now
    return {"first_event": first, "first_sentence": sentence, "last_event": last}


def measure(url: str, questions: list[str], rounds: int) -> dict[str, dict]:
    """Return per endpoint the median milliseconds of each moment, after a warm-up pass."""
    out = {}
    with httpx.Client(timeout=120, trust_env=False) as client:
        for path in ENDPOINTS:
            for question in questions:
                timed_stream(client, url, path, question)
            runs = [timed_stream(client, url, path, q) for _ in range(rounds) for q in questions]
            out[path] = {key: 1000 * statistics.median(r[key] for r in runs) for key in runs[0]}
            out[path]["requests"] = len(runs)
    return out


def serve(workdir: Path, corpus: Path, **env: str) -> Server:
    """Return a started `qa serve` over its own copy of the corpus, with `env` on top of this environment."""
    server = Server(workdir=workdir, corpus=corpus)
    server.env |= env
    workdir.mkdir(parents=True, exist_ok=True)
    server.start()
    return server


def print_table(results: dict) -> None:
    inproc = results["in_process"]
    print(f"in-process: retrieval {inproc['retrieval_ms']:.0f} ms, whole extractive answer "
          f"{inproc['answer_ms']:.0f} ms (medians)")
    print(f"{'answerer':<11} {'endpoint':<21} {'first event':>12} {'first sentence':>15} {'last event':>11}"
          f" {'first/retrieval':>16}")
    for answerer, endpoints in results["served"].items():
        for path, ms in endpoints.items():
            ratio = ms["first_event"] / inproc["retrieval_ms"]
            print(f"{answerer:<11} {path:<21} {ms['first_event']:>9.0f} ms {ms['first_sentence']:>12.0f} ms"
                  f" {ms['last_event']:>8.0f} ms {ratio:>15.2f}x")


def main() -> int:
    args = parse_args()
    questions = load_questions(args.dataset, args.questions)
    results: dict = {"questions": len(questions), "rounds": args.rounds, "piece_delay_s": args.piece_delay,
                     "served": {}}
    with tempfile.TemporaryDirectory(prefix="qa-streaming-") as tmp:
        workdir = Path(tmp)
        results["in_process"] = in_process_seconds(workdir, args.corpus, questions, args.rounds)
        server = serve(workdir / "extractive", args.corpus)
        try:
            results["served"]["extractive"] = measure(server.url, questions, args.rounds)
        finally:
            server.stop()
        with running_fake_llm(quote_passages, piece_delay=args.piece_delay) as llm:
            server = serve(workdir / "llm", args.corpus, QA_LLM_BASE_URL=llm.base_url, QA_LLM_MODEL=FAKE_MODEL)
            try:
                results["served"]["llm"] = measure(server.url, questions, args.rounds)
            finally:
                server.stop()
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
