"""The seed question set (eval/datasets/seed.jsonl) over the bundled corpus: how often the first
citation's paragraph holds the answer, how often unanswerable questions are refused, how many
answerable ones are refused, and of those how many list the answer's paragraph among the refusal's
closest passages.

    python bench/seed.py [--dataset eval/datasets/seed.jsonl] [--corpus corpus] [-v]
    python bench/seed.py --api http://127.0.0.1:8000 [--followups-only]   # through POST /v1/chat

Prints a table and writes bench/results/seed.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from qa.answer import build_pipeline
from qa.chat import answer_conversation
from qa.config import get_settings
from qa.embedding import build_embedder
from qa.ingest import ingest_corpus
from qa.nlp import Language
from qa.retrieve import build_retriever
from qa.store import open_store

ROOT = Path(__file__).resolve().parent.parent


def grade(row: dict, answer: dict) -> str:
    """Return 'correct', 'wrong', 'refused' (answerable row) or 'refused-ok', 'answered' (unanswerable)."""
    if not row["answerable"]:
        return "refused-ok" if not answer["answerable"] else "answered"
    if not answer["answerable"]:
        return "refused"
    first = answer["citations"][0]
    return "correct" if f"{first['article_id']}:{first['paragraph']}" in row["expected_paragraphs"] else "wrong"


def in_process_answerer(corpus: Path):
    """Return ask(question, history) -> answer dict over a fresh embedded store of `corpus`."""
    settings = get_settings(data_dir=Path(tempfile.mkdtemp(prefix="qa-seed-")))
    embedder = build_embedder(settings)
    language = Language(settings.nlp_model)
    store = open_store(settings)
    ingest_corpus(corpus, store=store, embedder=embedder, language=language)
    retriever = build_retriever(settings, store=store, embedder=embedder)
    pipeline = build_pipeline(settings, retriever=retriever, language=language)
    return lambda question, history: answer_conversation(question, history, pipeline=pipeline).to_dict()


def api_answerer(url: str):
    """Return ask(question, history) -> answer dict through a running server's POST /v1/chat."""
    import httpx

    client = httpx.Client(base_url=url, timeout=60.0)

    def ask(question: str, history: list[str]) -> dict:
        messages = [{"role": "user", "content": q} for q in [*history, question]]
        response = client.post("/v1/chat", json={"messages": messages})
        response.raise_for_status()
        return response.json()

    return ask


def speaker_named(row: dict, answer: dict) -> bool | None:
    """Return whether the answer names the expected speaker (its short answer, else its text), or None
    when the row expects none."""
    if not row.get("expected_speaker"):
        return None
    short = (answer.get("short_answer") or {}).get("text", "")
    said = short or answer["answer"]
    return answer["answerable"] and any(name.lower() in said.lower() for name in row["expected_speaker"])


def figures_of(rows: list[dict], items: list[dict]) -> dict:
    """Return the acceptance figures of graded items."""
    def share(subset: list[dict], good: set[str]) -> float:
        return (sum(1 for i in subset if i["verdict"] in good) / len(subset)) if subset else 0.0

    answerable = [i for r, i in zip(rows, items) if r["answerable"]]
    unanswerable = [i for r, i in zip(rows, items) if not r["answerable"]]
    return {
        "questions": len(rows), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "followups": sum(1 for i in items if i["followup"]),
        "first_citation_correct": share(answerable, {"correct"}),
        "unanswerable_refused": share(unanswerable, {"refused-ok"}),
        "answerable_refused": sum(1 for i in answerable if i["verdict"] == "refused"),
        "answerable_refused_nearest_holds_answer": sum(
            1 for r, i in zip(rows, items)
            if i["verdict"] == "refused" and set(i["nearest"]) & set(r["expected_paragraphs"])),
        "followup_first_citation_correct": share([i for i in answerable if i["followup"]], {"correct"}),
        **_speaker_figures(items),
    }


def _speaker_figures(items: list[dict]) -> dict:
    """Return how often the expected speaker is named, over the items that expect one."""
    graded = [i["speaker"] for i in items if i.get("speaker") is not None]
    if not graded:
        return {}
    return {"speaker_questions": len(graded), "speaker_correct": sum(graded) / len(graded)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "datasets" / "seed.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "seed.json")
    parser.add_argument("--api", help="ask a running server (e.g. http://127.0.0.1:8000) instead of in-process")
    parser.add_argument("--followups-only", action="store_true", help="only the questions that have a history")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every question's grade")
    args = parser.parse_args()

    ask = api_answerer(args.api) if args.api else in_process_answerer(args.corpus)
    rows = [json.loads(line) for line in args.dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.followups_only:
        rows = [row for row in rows if row.get("history")]
    items = []
    for row in rows:
        answer = ask(row["question"], row.get("history", []))
        verdict = grade(row, answer)
        items.append({"id": row["id"], "followup": bool(row.get("history")), "verdict": verdict,
                      "speaker": speaker_named(row, answer),
                      "short_answer": (answer.get("short_answer") or {}).get("text"),
                      "answer": answer["answer"], "confidence": round(answer["confidence"], 3),
                      "cited": [f"{c['article_id']}:{c['paragraph']}" for c in answer["citations"]],
                      "nearest": [f"{p['article_id']}:{p['paragraph']}" for p in answer.get("nearest", [])]})
        if args.verbose:
            speaker = {True: "speaker ok", False: "SPEAKER?", None: ""}[items[-1]["speaker"]]
            print(f"{verdict:<11} {speaker:<10} {row['id']} {row['question'][:70]}")

    figures = figures_of(rows, items)
    via = f" via {args.api}/v1/chat" if args.api else ""
    print(f"\n{args.dataset.stem} set{via}: {len(rows)} questions ({figures['answerable']} answerable, "
          f"{figures['unanswerable']} unanswerable, {figures['followups']} follow-ups)")
    print(f"  first citation holds the answer (answerable): {figures['first_citation_correct']:.3f}   goal >= 0.90")
    print(f"  unanswerable refused:                         {figures['unanswerable_refused']:.3f}   goal >= 0.90")
    print(f"  answerable refused:                           {figures['answerable_refused']}       goal 0")
    print(f"    of which the closest passages hold the answer: {figures['answerable_refused_nearest_holds_answer']}")
    print(f"  follow-ups, first citation correct:           {figures['followup_first_citation_correct']:.3f}")
    if "speaker_correct" in figures:
        print(f"  speaker named ({figures['speaker_questions']} questions):              "
              f"{figures['speaker_correct']:.3f}   goal >= 0.90")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"figures": figures, "items": items}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
