"""`qa`'s ingest in a process of its own, for the crash and concurrency tests: the real ingest_corpus into
the store the QA_* environment names, with the model's vectors read from a file (the parent computed them
with the real model), and optionally killed with SIGKILL around its Nth store call.

    python tests/ingest_child.py CORPUS VECTORS.json [--kill-at N --when before|after|during] [--group N]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

import qa.ingest
from qa.config import get_settings
from qa.ingest import ingest_corpus
from qa.nlp import Language
from qa.store import Store, open_store

DURING_DELAY = 0.002  # seconds into a call when a "during" kill lands


class StoredVectors:
    """The embedder interface over vectors the parent computed: text -> the real model's vector."""

    def __init__(self, path: Path) -> None:
        payload = json.loads(path.read_text(encoding="utf-8"))
        self.window = payload["window"]
        self._vectors = payload["vectors"]
        self._pooled = {(p["text"], tuple(map(tuple, p["spans"]))): (p["vector"], p["span_vectors"])
                        for p in payload.get("pooled", [])}

    def get_text_embedding_batch(self, texts: list[str], **kwargs) -> list[list[float]]:
        """Return the stored vector of each text."""
        return [self._vectors[text] for text in texts]

    def embed_with_spans(self, texts: list[str], spans_per_text: list) -> tuple[list, list]:
        """Return the stored text and pooled span vectors of each (text, spans)."""
        found = [self._pooled[(t, tuple(map(tuple, s)))] for t, s in zip(texts, spans_per_text)]
        return [v for v, _ in found], [p for _, p in found]


def kill_around(call_number: int, when: str) -> None:
    """Make the store's call number `call_number` (1-based) end the process with SIGKILL."""
    original = Store._call
    seen = [0]

    def counted(fn, *args, **kwargs):
        seen[0] += 1
        if seen[0] == call_number and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        if seen[0] == call_number and when == "during":
            threading.Timer(DURING_DELAY, os.kill, (os.getpid(), signal.SIGKILL)).start()
        result = original(fn, *args, **kwargs)
        if seen[0] == call_number and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    Store._call = staticmethod(counted)


def count_calls() -> list[int]:
    """Count the store's calls; return the counter."""
    original = Store._call
    seen = [0]

    def counted(fn, *args, **kwargs):
        seen[0] += 1
        return original(fn, *args, **kwargs)

    Store._call = staticmethod(counted)
    return seen


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("vectors", type=Path)
    parser.add_argument("--kill-at", type=int, default=0)
    parser.add_argument("--when", choices=["before", "after", "during"], default="before")
    parser.add_argument("--group", type=int, default=0, help="texts per embedding group (default ingest's own)")
    args = parser.parse_args()
    if args.group:
        qa.ingest.EMBED_GROUP = args.group  # more groups, so more write calls to crash between
    store = open_store(get_settings())
    counter = count_calls() if not args.kill_at else None
    if args.kill_at:
        kill_around(args.kill_at, args.when)
    report = ingest_corpus(args.corpus, store=store, embedder=StoredVectors(args.vectors), language=Language())
    print(json.dumps({"added": len(report.added), "calls": counter[0] if counter else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
