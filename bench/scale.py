"""Archive scale: one store on a `chroma run` server grown step by step (SQuAD dev's 2,067 paragraphs,
then 10k, 30k, 100k with the distractors of bench/archive.py), measured at each step.

    python bench/scale.py [--steps 2067,10000,30000,100000] [--workdir .qa-scale] [--sample 500]

At each step: the ingest rate of what the step added; query p50/p95 in process (the whole answer) and
over HTTP (`qa serve` in a second process, /v1/ask); cold start (`qa ask` as a new process, and `qa
serve` until /readyz) against the floor `python -c "import chromadb, llama_index.core"` of the same
run; the API process's RSS; the store's size on disk (Chroma's folder and the lexical index); SQuAD dev
recall@1/@5 among all the step's paragraphs (the answer's own ranking); and how long a running server
takes to answer from one article ingested by another process, and to stop citing it once removed. Then the fitted growth of each figure (the exponent of a power
law through the steps). Resumable: a step already measured is kept from the JSON unless --again;
ingest is incremental, so an interrupted step picks up where it stopped.
Prints a table and writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import DEFAULT_DATA, archive, prefix  # noqa: E402
from scale_steps import StepContext, measure_step, serve_chroma  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "scale.json"
FIGURES = ("ingest_paragraphs_per_s", "query_p50_ms", "query_p95_ms", "http_p50_ms", "http_p95_ms",
           "ask_wall_s", "serve_ready_s", "open_s", "api_rss_mb", "api_peak_rss_mb", "store_mb", "lexical_mb",
           "recall@1", "recall@5", "first_quote_holds_answer", "fresh_s", "removed_s")


def fitted_growth(steps: list[dict], figure: str) -> float | None:
    """Return the exponent e of figure ~ paragraphs**e, least squares in log-log over the steps."""
    points = [(math.log(s["paragraphs"]), math.log(s[figure])) for s in steps
              if isinstance(s.get(figure), (int, float)) and s[figure] > 0]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return round(sum((x - mx) * (y - my) for x, y in points) / sxx, 3) if sxx else None


def print_table(steps: list[dict], growth: dict[str, float | None]) -> None:
    """Print one row per figure, one column per step, and the fitted exponent."""
    heads = [f"{s['paragraphs']:,}" for s in steps]
    print(f"\n{'figure':<26}" + "".join(f"{h:>12}" for h in heads) + f"{'growth':>9}")
    for figure in FIGURES:
        cells = [s.get(figure) for s in steps]
        text = "".join(f"{c:>12.3f}" if isinstance(c, float) else f"{str(c if c is not None else '-'):>12}"
                       for c in cells)
        g = growth.get(figure)
        print(f"{figure:<26}{text}{(f'{g:+.2f}' if g is not None else '-'):>9}")
    floors = [s.get("floor_wall_s") for s in steps]
    print(f"{'floor (import) wall s':<26}" + "".join(f"{f:>12.3f}" if f else f"{'-':>12}" for f in floors))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="2067,10000,30000,100000")
    parser.add_argument("--workdir", type=Path, default=Path(".qa-scale"), help="server data, lexical index, logs")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=500, help="SQuAD questions timed and scored per step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--again", action="store_true", help="measure steps already in the JSON again")
    parser.add_argument("--ingest-only", action="store_true", help="grow the store through the steps, measure nothing")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    steps = [int(s) for s in args.steps.split(",")]
    done = json.loads(args.out.read_text())["steps"] if args.out.exists() else []
    by_size = {s["paragraphs"]: s for s in done}
    articles, questions = archive(max(steps), data=args.data, seed=args.seed)
    args.workdir.mkdir(parents=True, exist_ok=True)
    with serve_chroma(args.workdir) as url:
        context = StepContext(url=url, workdir=args.workdir, questions=questions, sample=args.sample, seed=args.seed)
        for size in steps:
            if size in by_size and not args.again and "recall@1" in by_size[size]:
                continue
            ingest = context.ingest(prefix(articles, size))
            before = by_size.get(size, {})
            if ingest["ingest_paragraphs"] < before.get("ingest_paragraphs", 0):
                ingest = {}  # grown by an earlier run: keep that run's ingest figures
            row = before | {"paragraphs": size} | ingest
            if not args.ingest_only:
                row |= measure_step(context, size=size)
            by_size[size] = row
            write(args.out, by_size)
    rows = [by_size[s] for s in sorted(by_size)]
    growth = {f: fitted_growth(rows, f) for f in FIGURES}
    write(args.out, by_size, growth=growth)
    print_table(rows, growth)
    return 0


def write(out: Path, by_size: dict[int, dict], *, growth: dict | None = None) -> None:
    """Write the steps measured so far (and the fitted growth, at the end)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    body = {"steps": [by_size[s] for s in sorted(by_size)], "growth": growth or {}, "written": time.time()}
    out.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
