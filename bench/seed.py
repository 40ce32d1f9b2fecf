"""The seed question set (eval/datasets/seed.jsonl) over the bundled corpus: how often the first
citation's paragraph holds the answer, how often unanswerable questions are refused, and how many
answerable ones are refused.

    python bench/seed.py [--dataset eval/datasets/seed.jsonl] [--corpus corpus] [-v]

Prints a table and writes bench/results/seed.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from qa.answer import build_answerer
from qa.chat import answer_conversation
from qa.config import get_settings
from qa.corpus import load_corpus
from qa.embedding import build_embedder
from qa.ingest import ingest_articles
from qa.retrieve import build_retriever
from qa.store import open_store

ROOT = Path(__file__).resolve().parent.parent


def grade(row: dict, answer) -> str:
    """Return 'correct', 'wrong', 'refused' (answerable row) or 'refused-ok', 'answered' (unanswerable)."""
    if not row["answerable"]:
        return "refused-ok" if not answer.answerable else "answered"
    if not answer.answerable:
        return "refused"
    first = answer.citations[0]
    return "correct" if f"{first.article_id}:{first.paragraph}" in row["expected_paragraphs"] else "wrong"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "datasets" / "seed.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "seed.json")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every question's grade")
    args = parser.parse_args()

    settings = get_settings(data_dir=Path(tempfile.mkdtemp(prefix="qa-seed-")))
    embedder = build_embedder(settings)
    store = open_store(settings)
    articles, _ = load_corpus(args.corpus)
    ingest_articles(articles, store=store, embedder=embedder)
    retriever = build_retriever(settings, store=store, embedder=embedder)
    answerer = build_answerer(settings, retriever=retriever)
    rows = [json.loads(line) for line in args.dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = []
    for row in rows:
        answer = answer_conversation(row["question"], row.get("history", []), retriever=retriever, answerer=answerer)
        verdict = grade(row, answer)
        items.append({"id": row["id"], "followup": bool(row.get("history")), "verdict": verdict,
                      "answer": answer.answer, "confidence": round(answer.confidence, 3),
                      "cited": [f"{c.article_id}:{c.paragraph}" for c in answer.citations]})
        if args.verbose:
            print(f"{verdict:<11} {row['id']} {row['question'][:70]}")

    def share(subset, good):
        return (sum(1 for i in subset if i["verdict"] in good) / len(subset)) if subset else 0.0

    answerable = [i for r, i in zip(rows, items) if r["answerable"]]
    unanswerable = [i for r, i in zip(rows, items) if not r["answerable"]]
    follow = [i for i in answerable if i["followup"]]
    figures = {
        "questions": len(rows), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "followups": sum(1 for i in items if i["followup"]),
        "first_citation_correct": share(answerable, {"correct"}),
        "unanswerable_refused": share(unanswerable, {"refused-ok"}),
        "answerable_refused": sum(1 for i in answerable if i["verdict"] == "refused"),
        "followup_first_citation_correct": share(follow, {"correct"}),
    }
    print(f"\nseed set: {len(rows)} questions ({len(answerable)} answerable, {len(unanswerable)} unanswerable, "
          f"{figures['followups']} follow-ups)")
    print(f"  first citation holds the answer (answerable): {figures['first_citation_correct']:.3f}   goal >= 0.90")
    print(f"  unanswerable refused:                         {figures['unanswerable_refused']:.3f}   goal >= 0.90")
    print(f"  answerable refused:                           {figures['answerable_refused']}       goal 0")
    print(f"  follow-ups, first citation correct:           {figures['followup_first_citation_correct']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"figures": figures, "items": items}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
