"""Ingest against its embedding floor: SQuAD v1.1 dev's 2,067 paragraphs, in one run.

    python bench/embed_floor.py [--data ../shared/data/squad-dev-v1.1.json] [--articles N] [--skip-torch-ingest]

Floors: each paragraph embedded once, alone, by sentence-transformers on torch (the torch floor) and
by the ONNX model. Beside them, today's ingest into a fresh embedded store, which embeds every chunk,
every title and every sentence separately (on ONNX, and on torch as before), and the one-pass ingest:
each chunk embedded once with `embed_with_spans`, its sentences' vectors pooled from that pass, then the
same ingest with those vectors looked up (store writes and bookkeeping included). Prints a table and
writes bench/results/embed_floor.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from llama_index.core.schema import MetadataMode

from qa.chunking import budget_for_window, chunk_article
from qa.config import BUNDLED_MODEL, get_settings
from qa.embedding import LocalEmbedding, OnnxEmbedding, build_embedder
from qa.evaluation.squad import load_squad
from qa.ingest import ingest_articles
from qa.models import Article
from qa.sentences import paragraph_key, split_sentences
from qa.store import chunk_node, open_store

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"

Pooled = dict[str, tuple[list[tuple[int, int]], list[list[float]]]]  # paragraph key -> (spans, vectors)


class LookupEmbedder:
    """Hands ingest the vectors computed beforehand, by text; counts what it was asked for."""

    def __init__(self, vectors: dict[str, list[float]], *, window: int) -> None:
        self.vectors, self.window, self.texts = vectors, window, 0

    def get_text_embedding_batch(self, texts: list[str], **kwargs) -> list[list[float]]:
        self.texts += len(texts)
        return [self.vectors[t] for t in texts]


def chunk_passes(articles: list[Article], *, window: int) -> tuple[list[str], list[list[tuple[int, int]]], list[list]]:
    """Return the texts of one pass each (every chunk as ingest embeds it, header first, and every title),
    the character spans of the sentences each holds whole, and each span's (paragraph key, sentence index)."""
    texts, spans, owners = [], [], []
    for article in articles:
        for chunk in chunk_article(article, max_tokens=budget_for_window(window)):
            paragraph = article.paragraph(chunk.paragraph)
            content = chunk_node(article, chunk).get_content(metadata_mode=MetadataMode.EMBED)
            base = len(content) - len(chunk.text)  # the header comes first, the chunk's text last
            inside = [(j, s, e) for j, (s, e) in enumerate(split_sentences(paragraph))
                      if chunk.start <= s and e <= chunk.end]
            texts.append(content)
            spans.append([(base + s - chunk.start, base + e - chunk.start) for _, s, e in inside])
            owners.append([(paragraph_key(paragraph), j) for j, _, _ in inside])
        texts.append(article.title)
        spans.append([])
        owners.append([])
    return texts, spans, owners


def one_pass(articles: list[Article], model: OnnxEmbedding) -> tuple[dict[str, list[float]], Pooled, dict]:
    """Return the vectors of every text today's ingest embeds (chunk texts, titles, sentences) from one
    pass per chunk and per title, the pooled sentence vectors by paragraph key, and counts. A sentence
    held whole by several sentence windows is pooled from the first; one held by none is embedded alone."""
    texts, spans, owners = chunk_passes(articles, window=model.window)
    text_vectors, span_vectors = model.embed_with_spans(texts, spans)
    found: dict[tuple[str, int], list[float]] = {}
    for row, vecs in zip(owners, span_vectors):
        for owner, vector in zip(row, vecs):
            found.setdefault(owner, vector)
    paragraphs = {paragraph_key(p): p for a in articles for p in a.paragraphs}
    sentences = {key: split_sentences(p) for key, p in paragraphs.items()}
    alone = [paragraphs[k][s:e] for k, spans_ in sentences.items()
             for j, (s, e) in enumerate(spans_) if (k, j) not in found]
    extra = dict(zip(alone, model.get_text_embedding_batch(alone))) if alone else {}
    pooled: Pooled = {}
    vectors = dict(zip(texts, text_vectors))
    for key, spans_ in sentences.items():
        vecs = [found.get((key, j)) or extra[paragraphs[key][s:e]] for j, (s, e) in enumerate(spans_)]
        pooled[key] = (spans_, vecs)
        vectors.update({paragraphs[key][s:e]: v for (s, e), v in zip(spans_, vecs)})
    counts = {"passes": len(texts), "spans": sum(map(len, spans)), "sentences_embedded_alone": len(alone)}
    return vectors, pooled, counts


def timed(function, *args, **kwargs) -> tuple[object, float]:
    """Return what `function` returned and the seconds it took."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def ingest_seconds(articles: list[Article], embedder, folder: Path) -> tuple[float, str]:
    """Return the seconds of one ingest of `articles` into a fresh embedded store, and its summary."""
    store = open_store(get_settings(data_dir=folder, collection="floor"))
    report, seconds = timed(ingest_articles, articles, store=store, embedder=embedder)
    return seconds, report.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--articles", type=int, default=0, help="keep only the first N articles")
    parser.add_argument("--skip-torch-ingest", action="store_true", help="do not time today's ingest on torch")
    args = parser.parse_args()
    articles, _ = load_squad(args.data)
    articles = articles[:args.articles] if args.articles else articles
    paragraphs = [p for a in articles for p in a.paragraphs]
    torch_model = LocalEmbedding(BUNDLED_MODEL)
    onnx_model = build_embedder(get_settings())
    for model in (torch_model, onnx_model):
        model.get_text_embedding_batch(["warm-up"] * 8)
    rows: dict[str, dict] = {}
    rows["torch floor: each paragraph once"] = {"seconds": timed(torch_model.get_text_embedding_batch, paragraphs)[1]}
    rows["ONNX floor: each paragraph once"] = {"seconds": timed(onnx_model.get_text_embedding_batch, paragraphs)[1]}
    with tempfile.TemporaryDirectory() as tmp:
        seconds, summary = ingest_seconds(articles, onnx_model, Path(tmp) / "onnx")
        rows["ingest today, ONNX (chunks, titles, sentences apart)"] = {"seconds": seconds, "summary": summary}
        if not args.skip_torch_ingest:
            seconds, summary = ingest_seconds(articles, torch_model, Path(tmp) / "torch")
            rows["ingest today, torch"] = {"seconds": seconds, "summary": summary}
        (vectors, _, counts), embed_seconds = timed(one_pass, articles, onnx_model)
        lookup = LookupEmbedder(vectors, window=onnx_model.window)
        rest, summary = ingest_seconds(articles, lookup, Path(tmp) / "one-pass")
        rows["ingest one pass per chunk, ONNX (sentences pooled)"] = {
            "seconds": embed_seconds + rest, "embedding_seconds": embed_seconds, "store_and_rest_seconds": rest,
            "summary": summary, **counts}
    floor = rows["torch floor: each paragraph once"]["seconds"]
    print(f"\nSQuAD v1.1 dev: {len(articles)} articles, {len(paragraphs)} paragraphs\n")
    print(f"{'what':<54} {'seconds':>8} {'/ torch floor':>14}")
    for name, row in rows.items():
        row["over_torch_floor"] = row["seconds"] / floor
        print(f"{name:<54} {row['seconds']:>8.1f} {row['over_torch_floor']:>14.2f}")
    out = ROOT / "bench" / "results" / "embed_floor.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"articles": len(articles), "paragraphs": len(paragraphs), "rows": rows}, indent=2) + "\n",
                   encoding="utf-8")


if __name__ == "__main__":
    main()
