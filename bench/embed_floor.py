"""Ingest against its floors: SQuAD v1.1 dev's 2,067 paragraphs, in one run.

    python bench/embed_floor.py [--data ../shared/data/squad-dev-v1.1.json] [--articles N] [--processes 1]

Floors: each paragraph embedded once, alone, by sentence-transformers on torch (the torch floor: what
ingest would cost if it did nothing but embed), by the ONNX model ingest uses, and each paragraph
parsed once by the spaCy pipeline (the language floor). Beside them the whole ingest into a fresh
embedded store: chunks embedded once each with their sentences' vectors pooled from that pass, every
paragraph parsed and annotated, everything written. Prints a table (seconds and ratio to the torch
floor) and writes bench/results/embed_floor.json. The machine is shared: only the ratios of one run
mean anything.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from qa.config import BUNDLED_MODEL, get_settings
from qa.embedding import LocalEmbedding, build_embedder
from qa.evaluation.squad import load_squad
from qa.ingest import ingest_articles
from qa.nlp import Language
from qa.store import open_store

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"


def timed(function, *args, **kwargs) -> tuple[object, float]:
    """Return what `function` returned and the seconds it took."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--articles", type=int, default=0, help="keep only the first N articles")
    parser.add_argument("--processes", type=int, default=1, help="spaCy processes for ingest (QA_NLP_PROCESSES)")
    args = parser.parse_args()
    articles, _ = load_squad(args.data)
    articles = articles[:args.articles] if args.articles else articles
    paragraphs = [p for a in articles for p in a.paragraphs]
    settings = get_settings()
    torch_model = LocalEmbedding(BUNDLED_MODEL)
    onnx_model = build_embedder(settings)
    language = Language(settings.nlp_model)
    for model in (torch_model, onnx_model):
        model.get_text_embedding_batch(["warm-up"] * 8)
    language.parse_many(["Warm-up sentence."])
    rows: dict[str, dict] = {}
    rows["torch floor: each paragraph embedded once"] = {
        "seconds": timed(torch_model.get_text_embedding_batch, paragraphs)[1]}
    rows["ONNX floor: each paragraph embedded once"] = {
        "seconds": timed(onnx_model.get_text_embedding_batch, paragraphs)[1]}
    rows["language floor: each paragraph parsed once"] = {"seconds": timed(language.parse_many, paragraphs)[1]}
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(get_settings(data_dir=Path(tmp), collection="floor"))
        ingest = Language(settings.nlp_model, processes=args.processes)
        report, seconds = timed(ingest_articles, articles, store=store, embedder=onnx_model, language=ingest)
        rows["ingest: ONNX, sentence vectors pooled, annotations, store writes"] = {
            "seconds": seconds, "summary": report.summary()}
    floor = rows["torch floor: each paragraph embedded once"]["seconds"]
    print(f"\nSQuAD v1.1 dev: {len(articles)} articles, {len(paragraphs)} paragraphs\n")
    print(f"{'what':<66} {'seconds':>8} {'/ torch floor':>14}")
    for name, row in rows.items():
        row["over_torch_floor"] = row["seconds"] / floor
        print(f"{name:<66} {row['seconds']:>8.1f} {row['over_torch_floor']:>14.2f}")
    out = ROOT / "bench" / "results" / "embed_floor.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"articles": len(articles), "paragraphs": len(paragraphs), "rows": rows}, indent=2) + "\n",
                   encoding="utf-8")


if __name__ == "__main__":
    main()
