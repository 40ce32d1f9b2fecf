"""Ingest at archive scale: the same SQuAD v1.1 dev paragraphs as a few long articles and as thousands
of one-paragraph articles, each into a fresh embedded store, in one run.

    python bench/ingest.py [--data ../shared/data/squad-dev-v1.1.json] [--articles N]

"long": SQuAD's 48 articles (2,067 paragraphs); "short": every paragraph its own article (2,067
articles). Both embed the same paragraphs and sentences, so the difference between their times is
the cost of having more articles (store writes, titles, bookkeeping). Each is followed by a second
ingest of the unchanged corpus, which must embed nothing. --articles keeps only the first N long
articles (and their paragraphs) for a quicker run. Prints a table and writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from qa.config import get_settings
from qa.embedding import build_embedder
from qa.evaluation.squad import load_squad
from qa.ingest import ingest_articles
from qa.models import Article
from qa.store import open_store

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"


class CountingEmbedder:
    """The real model, counting the texts it embeds."""

    def __init__(self, model) -> None:
        self.model, self.texts = model, 0
        self.window = model.window

    def get_text_embedding_batch(self, texts: list[str], **kwargs) -> list[list[float]]:
        self.texts += len(texts)
        return self.model.get_text_embedding_batch(texts, **kwargs)


def one_per_paragraph(articles: list[Article]) -> list[Article]:
    """Return every paragraph as an article of its own, titled after its article and number."""
    return [Article(id=f"{a.id}-{n}", title=f"{a.title} ({n})", paragraphs=(text,))
            for a in articles for n, text in enumerate(a.paragraphs, start=1)]


def measure(articles: list[Article], *, model, folder: Path) -> dict:
    """Return the first and the repeated ingest of `articles` into a fresh store under `folder`."""
    store = open_store(get_settings(data_dir=folder, collection="bench"))
    figures = {"articles": len(articles), "paragraphs": sum(len(a.paragraphs) for a in articles)}
    for run in ("first", "again"):
        counting = CountingEmbedder(model)
        started = time.perf_counter()
        report = ingest_articles(articles, store=store, embedder=counting)
        figures[run] = {"seconds": round(time.perf_counter() - started, 2), "texts_embedded": counting.texts,
                        "summary": report.summary()}
    figures["counts"] = store.counts()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--articles", type=int, default=0, help="keep only the first N long articles")
    args = parser.parse_args()
    articles, _ = load_squad(args.data)
    if args.articles:
        articles = articles[:args.articles]
    model = build_embedder(get_settings())
    model.get_text_embedding_batch(["warm-up"])
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, corpus in (("long", articles), ("short", one_per_paragraph(articles))):
            results[name] = measure(corpus, model=model, folder=Path(tmp) / name)
    long, short = results["long"], results["short"]
    extra = short["first"]["seconds"] - long["first"]["seconds"]
    results["extra_seconds_per_article"] = round(extra / (short["articles"] - long["articles"]), 4)
    results["short_over_long"] = round(short["first"]["seconds"] / long["first"]["seconds"], 3)
    print(f"{'corpus':<8} {'articles':>8} {'paragraphs':>10} {'texts':>7} {'first s':>8} {'again s':>8} {'again texts':>11}")
    for name in ("long", "short"):
        r = results[name]
        print(f"{name:<8} {r['articles']:>8} {r['paragraphs']:>10} {r['first']['texts_embedded']:>7} "
              f"{r['first']['seconds']:>8.1f} {r['again']['seconds']:>8.1f} {r['again']['texts_embedded']:>11}")
    print(f"short / long time {results['short_over_long']:.2f}; "
          f"{results['extra_seconds_per_article'] * 1000:.1f} ms more per extra article")
    out = ROOT / "bench" / "results" / "ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
