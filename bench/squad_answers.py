"""Answers on SQuAD v1.1 dev, this version beside an earlier one in the same run: the first citation
is the gold paragraph, short-answer exact match and token F1 (SQuAD's official normalisation),
refusals of answerable questions, and refusals of hard negatives: questions whose gold paragraph is
removed from the store while the rest of its article stays (only questions whose answer string no
other paragraph holds). Also the cost of each: ingest time and query p50 in the same run.

    python bench/squad_answers.py [--sample 2000] [--negatives 300] [--baseline c3be402] [--skip-baseline]
                                  [--work DIR] [--versions ours,baseline]

The earlier version runs from a temporary git worktree of --baseline in a subprocess (its own code,
this environment's packages); it has no short answer, so its first quoted sentence stands in for
one. Prints a table and writes bench/results/squad_answers.json.

The stores and each version's results are kept in --work (a new temporary folder by default), so
the two versions can run as two processes at once (`--versions ours` and `--versions baseline` with
one --work) and an interrupted run resumes: ingest is incremental, and the seconds of a store's first
complete ingest are kept beside it (`ingest-*.json`). The table is made of every version's results in
--work.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qa.answer import answer_question, build_pipeline
from qa.config import get_settings
from qa.embedding import build_embedder
from qa.evaluation.squad import exact_match, load_squad, normalize_answer, token_f1
from qa.ingest import ingest_articles
from qa.models import Article
from qa.nlp import Language
from qa.retrieve import build_retriever
from qa.store import open_store

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"

# The earlier version's own API (before the language layer): ingest, then answer each question.
BASELINE_RUNNER = r'''
import json, sys, time
from pathlib import Path
from qa.answer import answer_question, build_answerer
from qa.config import get_settings
from qa.embedding import build_embedder
from qa.ingest import ingest_articles
from qa.models import Article
from qa.retrieve import build_retriever
from qa.store import open_store

job = json.loads(Path(sys.argv[1]).read_text())
out = {}
for name, store_job in job["stores"].items():
    settings = get_settings(data_dir=Path(store_job["dir"]), collection="squad")
    embedder = build_embedder(settings)
    store = open_store(settings)
    articles = [Article(id=a["id"], title=a["title"], paragraphs=tuple(a["paragraphs"])) for a in store_job["articles"]]
    started = time.perf_counter()
    ingest_articles(articles, store=store, embedder=embedder)
    ingest = time.perf_counter() - started
    retriever = build_retriever(settings, store=store, embedder=embedder)
    answerer = build_answerer(settings, retriever=retriever)
    rows = []
    for q in store_job["questions"]:
        started = time.perf_counter()
        a = answer_question(q["question"], retriever=retriever, answerer=answerer)
        rows.append({"id": q["id"], "seconds": time.perf_counter() - started, "answerable": a.answerable,
                     "first": f"{a.citations[0].article_id}:{a.citations[0].paragraph}" if a.citations else None,
                     "quote": a.citations[0].quote if a.citations else "", "short": None})
    out[name] = {"ingest_seconds": ingest, "rows": rows}
Path(sys.argv[2]).write_text(json.dumps(out))
'''


def hard_negatives(articles: list[Article], questions: list[dict], count: int, seed: int) -> list[dict]:
    """Return up to `count` questions, one per gold paragraph, whose answer strings appear in no other
    paragraph of the corpus."""
    texts = [(f"{a.id}:{n}", normalize_answer(p)) for a in articles for n, p in enumerate(a.paragraphs, 1)]
    chosen, used = [], set()
    for q in random.Random(seed).sample(questions, len(questions)):
        gold = f"{q['article_id']}:{q['paragraph']}"
        answers = [normalize_answer(a) for a in q["answers"] if normalize_answer(a)]
        if gold in used or not answers:
            continue
        if any(key != gold and any(f" {a} " in f" {text} " for a in answers) for key, text in texts):
            continue
        chosen.append(q)
        used.add(gold)
        if len(chosen) == count:
            break
    return chosen


def without(articles: list[Article], removed: set[str]) -> list[Article]:
    """Return the articles with the paragraphs at `removed` ("article_id:n") taken out."""
    out = []
    for a in articles:
        kept = tuple(p for n, p in enumerate(a.paragraphs, 1) if f"{a.id}:{n}" not in removed)
        if kept:
            out.append(Article(id=a.id, title=a.title, paragraphs=kept))
    return out


def run_ours(stores: dict[str, tuple[Path, list[Article], list[dict]]]) -> dict:
    """Return, per store, this version's ingest time and answers."""
    out = {}
    language = Language(get_settings().nlp_model)
    for name, (folder, articles, questions) in stores.items():
        settings = get_settings(data_dir=folder, collection="squad")
        embedder = build_embedder(settings)
        store = open_store(settings)
        started = time.perf_counter()
        ingest_articles(articles, store=store, embedder=embedder, language=language)
        ingest = first_ingest(folder, time.perf_counter() - started)
        pipeline = build_pipeline(settings, retriever=build_retriever(settings, store=store, embedder=embedder),
                                  language=language)
        rows = []
        for q in questions:
            started = time.perf_counter()
            a = answer_question(q["question"], pipeline=pipeline)
            rows.append({"id": q["id"], "seconds": time.perf_counter() - started, "answerable": a.answerable,
                         "first": f"{a.citations[0].article_id}:{a.citations[0].paragraph}" if a.citations else None,
                         "quote": a.citations[0].quote if a.citations else "",
                         "short": a.short_answer.text if a.short_answer else None})
        out[name] = {"ingest_seconds": ingest, "rows": rows}
        print(f"ours, {name}: ingest {ingest:.0f}s, {len(rows)} questions", file=sys.stderr)
    return out


def first_ingest(folder: Path, seconds: float) -> float:
    """Return the seconds the store in `folder` took to ingest when it was first complete: `seconds`
    the first time, what was recorded then on a resumed run."""
    record = folder.with_name(f"ingest-{folder.name}.json")
    if record.exists():
        return json.loads(record.read_text())["seconds"]
    record.write_text(json.dumps({"seconds": seconds}))
    return seconds


def run_baseline(rev: str, stores: dict[str, tuple[Path, list[Article], list[dict]]]) -> dict:
    """Return the same for the version at `rev`, run from a temporary worktree in a subprocess."""
    work = Path(tempfile.mkdtemp(prefix="qa-baseline-"))
    tree = work / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True,
                   capture_output=True)
    try:
        job = {"stores": {name: {"dir": str(folder), "questions": questions,
                                 "articles": [{"id": a.id, "title": a.title, "paragraphs": list(a.paragraphs)}
                                              for a in articles]}
                          for name, (folder, articles, questions) in stores.items()}}
        (work / "job.json").write_text(json.dumps(job))
        (work / "runner.py").write_text(BASELINE_RUNNER)
        env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
        subprocess.run([sys.executable, str(work / "runner.py"), str(work / "job.json"), str(work / "out.json")],
                       cwd=tree, env=env, check=True)
        result = json.loads((work / "out.json").read_text())
        for name, (folder, _, _) in stores.items():
            result[name]["ingest_seconds"] = first_ingest(folder, result[name]["ingest_seconds"])
        return result
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)


def grade(result: dict, questions: list[dict], negatives: list[dict]) -> dict:
    """Return the figures of one version's answers."""
    gold = {q["id"]: q for q in questions}
    full = result["full"]["rows"]
    first = sum(1 for r in full if r["first"] == f"{gold[r['id']]['article_id']}:{gold[r['id']]['paragraph']}")
    short = [r["short"] if r["short"] is not None else r["quote"] for r in full]
    em = [exact_match(s, gold[r["id"]]["answers"]) if r["answerable"] else 0.0 for s, r in zip(short, full)]
    f1 = [token_f1(s, gold[r["id"]]["answers"]) if r["answerable"] else 0.0 for s, r in zip(short, full)]
    ids = {q["id"] for q in negatives}
    figures = {
        "questions": len(full),
        "first_citation_gold": first / len(full),
        "exact_match": sum(em) / len(full), "token_f1": sum(f1) / len(full),
        "answered": sum(r["answerable"] for r in full) / len(full),
        "short_answers": sum(r["short"] is not None for r in full) / len(full),
        "query_p50_ms": 1000 * statistics.median(r["seconds"] for r in full),
        "ingest_seconds": result["full"]["ingest_seconds"],
    }
    if negatives:
        holes = result["holes"]["rows"]
        figures["hard_negatives"] = len(holes)
        figures["hard_negatives_refused"] = sum(not r["answerable"] for r in holes) / len(holes)
        figures["same_questions_refused_on_full_store"] = sum(
            not r["answerable"] for r in full if r["id"] in ids) / len(ids)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=2000, help="questions (bench/squad.py's sample: seed 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--negatives", type=int, default=300, help="hard negatives (0 = none)")
    parser.add_argument("--baseline", default="c3be402", help="the earlier version to run beside this one")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--work", type=Path, help="folder for the stores and results (kept; reused when resumed)")
    parser.add_argument("--versions", default="ours,baseline", help="which to run now: ours, baseline or both")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "squad_answers.json")
    args = parser.parse_args()

    articles, questions = load_squad(args.data)
    sample = random.Random(args.seed).sample(questions, min(args.sample, len(questions)))
    negatives = hard_negatives(articles, sample, args.negatives, args.seed) if args.negatives else []
    removed = {f"{q['article_id']}:{q['paragraph']}" for q in negatives}
    work = args.work or Path(tempfile.mkdtemp(prefix="qa-squad-answers-"))
    work.mkdir(parents=True, exist_ok=True)
    run = set(args.versions.split(",")) - ({"baseline"} if args.skip_baseline else set())

    def stores(prefix: str) -> dict:
        out = {"full": (work / f"{prefix}-full", articles, sample)}
        if negatives:
            out["holes"] = (work / f"{prefix}-holes", without(articles, removed), negatives)
        return out

    saved = {"this version": work / "result-ours.json", f"earlier ({args.baseline})": work / "result-baseline.json"}
    if "ours" in run:
        saved["this version"].write_text(json.dumps(run_ours(stores("ours"))))
    if "baseline" in run:
        saved[f"earlier ({args.baseline})"].write_text(json.dumps(run_baseline(args.baseline, stores("baseline"))))
    results = {name: json.loads(path.read_text()) for name, path in saved.items() if path.exists()}
    table = {name: grade(result, sample, negatives) for name, result in results.items()}

    print(f"\nSQuAD v1.1 dev: {len(sample)} questions (seed {args.seed}), {len(negatives)} hard negatives\n")
    rows = [("first citation = gold paragraph", "first_citation_gold", ">= 0.88"),
            ("short answer exact match", "exact_match", ">= 0.40"), ("short answer token F1", "token_f1", ">= 0.50"),
            ("answered", "answered", ""), ("hard negatives refused", "hard_negatives_refused", ">= 0.60"),
            ("  the same questions refused, full store", "same_questions_refused_on_full_store", "<= 0.05"),
            ("ingest, seconds", "ingest_seconds", "<= 1.3x earlier"), ("query p50, ms", "query_p50_ms", "not higher")]
    names = list(table)
    print(f"{'figure':<42}" + "".join(f"{n:>22}" for n in names) + f"{'goal':>18}")
    for label, key, goal in rows:
        cells = "".join(f"{table[n].get(key, float('nan')):>22.3f}" for n in names)
        print(f"{label:<42}{cells}{goal:>18}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"sample": len(sample), "seed": args.seed, "figures": table}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
