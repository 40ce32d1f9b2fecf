"""Query time at two archive sizes measured side by side: two stores grown by bench/scale.py (say its
2,067-paragraph store and its 100,000-paragraph one), each on its own `chroma run`, both pipelines
open in this process, the same SQuAD questions asked of each in turn (the order flipped every
question), so the machine's load weighs on both alike and the ratio of the two p50s means something.

    python bench/scale_ratio.py SMALL_WORKDIR LARGE_WORKDIR [--sample 300] [--seed 0]

Prints each store's size, whole-answer p50/p95, retrieval p50 and recall@1, and the ratio of the
p50s; writes bench/results/scale_ratio.json. Neither workdir may be in use by bench/scale.py.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import DEFAULT_DATA  # noqa: E402
from scale_steps import ask_timed, percentile, serve_chroma  # noqa: E402
from served import free_port  # noqa: E402

from qa.config import get_settings  # noqa: E402
from qa.evaluation.squad import load_squad  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "scale_ratio.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("small", type=Path)
    parser.add_argument("large", type=Path)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    from qa.answer import answer_question, retrieve_paragraphs
    from qa.api.runtime import build_components
    from qa.embedding import build_embedder
    from qa.nlp import Language

    _, questions = load_squad(args.data)
    asked = random.Random(args.seed).sample(questions, min(args.sample, len(questions)))
    settings = get_settings()
    embedder = build_embedder(settings)
    language = Language(settings.nlp_model)
    with ExitStack() as stack:
        stores = {}
        for name, workdir in (("small", args.small), ("large", args.large)):
            url = stack.enter_context(serve_chroma(workdir, port=free_port()))
            here = get_settings(chroma_url=url, data_dir=workdir / "client", collection="scale", store_timeout=120.0)
            parts = build_components(here, embedder=embedder, language=language)
            stores[name] = {"pipeline": parts.pipeline, "paragraphs": parts.pipeline.retriever.store.counts()["paragraphs"],
                            "answer": [], "retrieve": [], "ranks": [], "quoted": 0}
            for q in asked[:3]:
                answer_question(q["question"], pipeline=parts.pipeline)
        for number, q in enumerate(asked):
            for name in (("small", "large") if number % 2 else ("large", "small")):
                row = stores[name]
                started = time.perf_counter()
                retrieve_paragraphs(q["question"], pipeline=row["pipeline"])
                row["retrieve"].append(1000 * (time.perf_counter() - started))
                ms, rank, holds = ask_timed(row["pipeline"], q)
                row["answer"].append(ms)
                row["ranks"].append(rank)
                row["quoted"] += holds
    result = {"questions": len(asked), "seed": args.seed}
    for name, row in stores.items():
        ranks = row["ranks"]
        result[name] = {"workdir": str(getattr(args, name)), "paragraphs": row["paragraphs"],
                        "query_p50_ms": round(percentile(row["answer"], 0.5), 1),
                        "query_p95_ms": round(percentile(row["answer"], 0.95), 1),
                        "retrieve_p50_ms": round(percentile(row["retrieve"], 0.5), 1),
                        "recall@1": round(sum(r == 0 for r in ranks) / len(ranks), 4),
                        "recall@5": round(sum(r is not None and r < 5 for r in ranks) / len(ranks), 4),
                        "first_quote_holds_answer": round(row["quoted"] / len(ranks), 4)}
    result["p50_ratio"] = round(result["large"]["query_p50_ms"] / result["small"]["query_p50_ms"], 2)
    result["retrieve_p50_ratio"] = round(result["large"]["retrieve_p50_ms"] / result["small"]["retrieve_p50_ms"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result | {"written": time.time()}, indent=2) + "\n", encoding="utf-8")
    print(f"\n{'figure':<28}{'small':>12}{'large':>12}")
    for figure in ("paragraphs", "query_p50_ms", "query_p95_ms", "retrieve_p50_ms", "recall@1", "recall@5",
                   "first_quote_holds_answer"):
        print(f"{figure:<28}{result['small'][figure]:>12}{result['large'][figure]:>12}")
    print(f"{'p50 ratio large/small':<28}{result['p50_ratio']:>24}")
    print(f"{'retrieval p50 ratio':<28}{result['retrieve_p50_ratio']:>24}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
