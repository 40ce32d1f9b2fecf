"""Our engine beside the LlamaIndex starter pipeline, both through `qa eval run --engine`'s path (each
question through engine.query, the response's source nodes as what its [n] markers refer to, the
offline judge), on the seed set and on a SQuAD v1.1 sample: faithfulness, citation precision and
recall, answer accuracy, refusal accuracy (and retrieval recall, time per question).

    python bench/engines.py [--squad ../shared/data/squad-dev-v1.1.json] [--sample 500] [--seed 0]
                            [--work DIR] [--skip-squad]

The same as, per set and engine (after `qa eval squad --out DIR` and `qa ingest` into its store):
    qa eval run --engine qa.engine:open_engine --dataset SET --out OUT
    qa eval run --engine qa.evaluation.baseline:starter_engine --dataset SET --out OUT

Both engines read the same store (the starter: a VectorStoreIndex over its chunks collection, top 2,
no LLM: the retrieved text is its answer; see qa/evaluation/baseline.py). Prints a table, writes each
run's report under WORK and bench/results/engines.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from qa.assembly import Assembly
from qa.config import get_settings
from qa.engine import CitedQueryEngine
from qa.evaluation.askers import EngineAsker, store_paragraphs
from qa.evaluation.baseline import starter_over
from qa.evaluation.dataset import load_dataset
from qa.evaluation.judges import build_judge
from qa.evaluation.report import write_reports
from qa.evaluation.runner import build_report, run_questions
from qa.evaluation.squad import convert_squad

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"
ENGINES = {"ours": "qa.engine:open_engine", "llamaindex starter": "qa.evaluation.baseline:starter_engine"}
COLUMNS = ("faithfulness", "citation_precision", "citation_recall", "answer_accuracy", "refusal_accuracy",
           "retrieval_recall_at_k")
HEADS = ("faithful", "cit.prec", "cit.rec", "answer", "refusal", "R@k")


def build_engine(name: str, assembly: Assembly):
    """Return the engine `name` over the assembly's store (the same objects the factories build)."""
    if name == "ours":
        return CitedQueryEngine(assembly.pipeline, k=assembly.settings.top_k)
    return starter_over(assembly)


def run_set(label: str, dataset: Path, corpus: Path, data: Path, *, embedder, out: Path) -> dict:
    """Return each engine's metrics on one question set, its corpus ingested into `data` first."""
    assembly = Assembly(get_settings(data_dir=data), embedder=embedder)
    started = time.perf_counter()
    print(f"{label}: {assembly.ingest(corpus).summary()}", file=sys.stderr)
    print(f"{label}: ingest took {time.perf_counter() - started:.0f}s", file=sys.stderr)
    questions = load_dataset(dataset)
    k = assembly.settings.top_k
    judge = build_judge("offline", settings=assembly.settings, embedder=lambda: embedder)
    results = {}
    for name, spec in ENGINES.items():
        asker = EngineAsker(build_engine(name, assembly), fallback=lambda: store_paragraphs(assembly.store))
        started = time.perf_counter()
        items = run_questions(questions, ask=asker.ask, judge=judge, k=k, paragraph_text=asker.paragraph_text)
        seconds = time.perf_counter() - started
        system = {"answerer": "engine", "engine": spec, "k": k, "unreplayed_follow_ups": asker.unreplayed}
        report = build_report("run", items, dataset=str(dataset), system=system, judge=judge, k=k)
        write_reports(report, out / label / name.replace(" ", "-"))
        results[name] = {"metrics": report["metrics"], "seconds": seconds, "questions": len(questions),
                         "unreplayed_follow_ups": asker.unreplayed}
        print(f"{label} / {name}: {len(questions)} questions in {seconds:.0f}s (answers and verdicts)", file=sys.stderr)
    return results


def render(results: dict) -> str:
    """Return the side-by-side table (value, and n where it differs from the set's size)."""
    lines = [f"{'set':<8} {'engine':<20}" + "".join(f"{h:>10}" for h in HEADS) + f"{'s/q':>7}"]
    for label, engines in results.items():
        for name, row in engines.items():
            cells = []
            for column in COLUMNS:
                metric = row["metrics"].get(column, {})
                value = metric.get("value")
                cells.append(f"{'-' if value is None else f'{value:.3f}':>10}")
            lines.append(f"{label:<8} {name:<20}" + "".join(cells) + f"{row['seconds'] / row['questions']:>7.2f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="folder for the stores and reports (kept; ingest is incremental)")
    parser.add_argument("--skip-squad", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "engines.json")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="qa-engines-"))
    settings = get_settings(data_dir=work / "unused")
    embedder = Assembly(settings).embedder  # one model load for every store, engine and judge
    results = {"seed": run_set("seed", ROOT / "eval" / "datasets" / "seed.jsonl", ROOT / "corpus",
                               work / "seed" / "data", embedder=embedder, out=work / "runs")}
    if not args.skip_squad:
        articles, questions = convert_squad(args.squad, work / "squad", sample=args.sample, seed=args.seed)
        print(f"squad: {articles} articles, {questions} questions", file=sys.stderr)
        results["squad"] = run_set("squad", work / "squad" / "dataset.jsonl", work / "squad" / "corpus",
                                   work / "squad" / "data", embedder=embedder, out=work / "runs")
    table = render(results)
    print(f"\nengines through `qa eval run --engine` (offline judge; k={settings.top_k} for R@k; "
          f"SQuAD sample {args.sample}, seed {args.seed}):\n\n{table}\n\nreports under {work / 'runs'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"sample": args.sample, "seed": args.seed, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
