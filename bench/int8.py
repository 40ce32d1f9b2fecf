"""int8 dynamic quantization of the ONNX model against the float one, on SQuAD v1.1 dev, in one run.

    python bench/int8.py [--data ../shared/data/squad-dev-v1.1.json] [--sample 2000] [--seed 0] [--articles N]

The bundled model is quantized as QA_EMBED_MODEL=all-MiniLM-L6-v2-int8 has it done
(qa.onnx_export.quantize_onnx: exported without graph optimizations, pre-processed, int8 weights by
ONNX Runtime's quantize_dynamic, activations quantized at run time, then optimized), in a temporary folder. For each model: the floor (each paragraph embedded
once), the cosine of its paragraph vectors to the float model's, and paragraph recall@1/@5 of our
hybrid retrieval with the sentence rerank (the questions of bench/squad.py), each after its own ingest.
int8 is worth adopting only if R@1 drops by at most 0.005. Prints a table and writes bench/results/int8.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from squad import first_articles, rank_of, recall

from qa.answer import answer_question, build_pipeline
from qa.config import BUNDLED_MODEL, get_settings
from qa.embedding import OnnxEmbedding, build_embedder, resolve_model_path
from qa.evaluation.squad import load_squad
from qa.ingest import ingest_articles
from qa.nlp import Language
from qa.onnx_export import quantize_onnx
from qa.retrieve import build_retriever
from qa.store import open_store

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"
KS = (1, 5)


def measure(model, *, articles, paragraphs, questions, folder: Path, language) -> dict:
    """Return the floor, the paragraph vectors, ingest seconds and recall of one model (the answer's
    own ranking: hybrid retrieval, then the sentence rerank)."""
    model.get_text_embedding_batch(["warm-up"] * 8)
    started = time.perf_counter()
    vectors = np.asarray(model.get_text_embedding_batch(paragraphs))
    floor = time.perf_counter() - started
    settings = get_settings(data_dir=folder, collection="int8")
    store = open_store(settings)
    started = time.perf_counter()
    ingest_articles(articles, store=store, embedder=model, language=language)
    ingest = time.perf_counter() - started
    pipeline = build_pipeline(settings, retriever=build_retriever(settings, store=store, embedder=model),
                              language=language)
    ranks = [rank_of(answer_question(q["question"], pipeline=pipeline).retrieved,
                     f"{q['article_id']}:{q['paragraph']}") for q in questions]
    return {"floor_seconds": floor, "ingest_seconds": ingest, "vectors": vectors,
            **{f"recall@{k}": recall(ranks, k) for k in KS}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--articles", type=int, default=0, help="keep only the first N articles (a quicker run)")
    args = parser.parse_args()
    articles, questions = first_articles(*load_squad(args.data), args.articles)
    questions = random.Random(args.seed).sample(questions, min(args.sample, len(questions)))
    paragraphs = [p for a in articles for p in a.paragraphs]
    settings = get_settings()
    fp32 = build_embedder(settings)
    language = Language(settings.nlp_model, processes=settings.nlp_processes)
    source = Path(resolve_model_path(BUNDLED_MODEL))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.int8.onnx"
        quantize_onnx(source, path)  # what QA_EMBED_MODEL=all-MiniLM-L6-v2-int8 exports into the cache
        int8 = OnnxEmbedding(BUNDLED_MODEL, model_path=path, source=source, batch_size=settings.embed_batch_size)
        for name, model in (("float32", fp32), ("int8 dynamic", int8)):
            results[name] = measure(model, articles=articles, paragraphs=paragraphs, questions=questions,
                                    folder=Path(tmp) / name.split()[0], language=language)
        results["int8 dynamic"]["file_mib"] = path.stat().st_size / 2**20
    results["float32"]["file_mib"] = (settings.model_cache / f"{BUNDLED_MODEL}.onnx").stat().st_size / 2**20
    agreement = np.sum(results["float32"]["vectors"] * results["int8 dynamic"]["vectors"], axis=1)
    for row in results.values():
        del row["vectors"]
    summary = {"cosine_to_float32": {"min": float(agreement.min()), "mean": float(agreement.mean())},
               "r1_drop": results["float32"]["recall@1"] - results["int8 dynamic"]["recall@1"]}
    print(f"\nSQuAD v1.1 dev: {len(articles)} articles, {len(paragraphs)} paragraphs, {len(questions)} questions (seed {args.seed})\n")
    print(f"{'model':<14} {'floor s':>8} {'ingest s':>9} {'R@1':>7} {'R@5':>7} {'MiB':>6}")
    for name, row in results.items():
        print(f"{name:<14} {row['floor_seconds']:>8.1f} {row['ingest_seconds']:>9.1f} {row['recall@1']:>7.3f} "
              f"{row['recall@5']:>7.3f} {row['file_mib']:>6.0f}")
    print(f"\nint8 paragraph vectors against float32: cosine min {agreement.min():.4f}, mean {agreement.mean():.4f}; "
          f"R@1 drop {summary['r1_drop']:+.3f} (adopt only if <= 0.005)")
    out = ROOT / "bench" / "results" / "int8.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"articles": len(articles), "questions": len(questions), "seed": args.seed, "results": results, **summary},
                              indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
