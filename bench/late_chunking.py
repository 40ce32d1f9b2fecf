"""Sentence vectors pooled from their chunk's own pass ("late chunking") against sentences embedded
alone, on SQuAD v1.1 dev, in one run.

    python bench/late_chunking.py [--data ../shared/data/squad-dev-v1.1.json] [--sample 2000] [--seed 0] [--store DIR] [--articles N]

Two measures: (1) for every question, the sentence of its gold paragraph closest to the question by
cosine: how often it holds an answer string, with either kind of sentence vector (beside the share of
questions with an answer inside one sentence at all, the ceiling); (2) paragraph recall@1/@5 of our
hybrid retrieval with the sentence rerank reading either kind (the same questions as bench/squad.py).
The separate vectors are those ingest stores today; the pooled ones come from bench/embed_floor.py's
one pass per chunk. Prints a table and writes bench/results/late_chunking.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
from embed_floor import one_pass
from squad import first_articles, normalize, rank_of, recall

from qa.config import get_settings
from qa.embedding import build_embedder
from qa.evaluation.squad import load_squad
from qa.evidence import EvidenceScorer
from qa.ingest import ingest_articles
from qa.models import Article
from qa.retrieve import build_retriever
from qa.sentences import paragraph_key
from qa.store import Store, open_store

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"
KS = (1, 5)


def stored_sentences(store: Store, keys: list[str]) -> dict:
    """Return the sentence spans and vectors ingest stored for `keys`, read in pages."""
    found = {}
    for first in range(0, len(keys), 200):
        found.update(store.get_sentences(keys[first:first + 200]))
    return found


def top_sentence_hits(questions: list[dict], articles: dict[str, Article], vectors: dict, model) -> dict[str, float]:
    """Return how often the gold paragraph's sentence closest to the question holds an answer, for each
    kind of sentence vector in `vectors` (name -> {paragraph key: (spans, vectors)}), and the ceiling."""
    asked = model.get_text_embedding_batch([q["question"] for q in questions])
    hits = {name: 0 for name in vectors} | {"ceiling: some sentence holds it": 0}
    for q, query in zip(questions, np.asarray(asked)):
        paragraph = articles[q["article_id"]].paragraph(q["paragraph"])
        answers = [normalize(a) for a in q["answers"]]
        holds = lambda span: any(a in normalize(paragraph[span[0]:span[1]]) for a in answers)  # noqa: E731
        for name, table in vectors.items():
            spans, vecs = table[paragraph_key(paragraph)]
            hits[name] += holds(spans[int(np.argmax(np.asarray(vecs) @ query))])
        spans = vectors[next(iter(vectors))][paragraph_key(paragraph)][0]
        hits["ceiling: some sentence holds it"] += any(holds(span) for span in spans)
    return {name: count / len(questions) for name, count in hits.items()}


def rerank_recall(questions: list[dict], retriever) -> dict[str, float]:
    """Return recall@k of the retriever over `questions`."""
    ranks = [rank_of([h.key for h in retriever.retrieve_hits(q["question"], k=max(KS))],
                     f"{q['article_id']}:{q['paragraph']}") for q in questions]
    return {f"recall@{k}": recall(ranks, k) for k in KS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=2000, help="questions for the recall measure (0 = all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", type=Path, help="keep the embedded store here and reuse it")
    parser.add_argument("--articles", type=int, default=0, help="keep only the first N articles (a quick run)")
    args = parser.parse_args()
    articles, questions = first_articles(*load_squad(args.data), args.articles)
    by_id = {a.id: a for a in articles}
    settings = get_settings(data_dir=args.store or Path(tempfile.mkdtemp(prefix="qa-late-")), collection="squad")
    model = build_embedder(settings)
    store = open_store(settings)
    print(f"ingest: {ingest_articles(articles, store=store, embedder=model).summary()}", file=sys.stderr)
    _, pooled, counts = one_pass(articles, model)
    separate = stored_sentences(store, list(pooled))
    kinds = {"sentences embedded alone (today)": separate, "pooled from the chunk's pass": pooled}
    top = top_sentence_hits(questions, by_id, kinds, model)
    sample = random.Random(args.seed).sample(questions, min(args.sample, len(questions))) if args.sample else questions
    retriever = build_retriever(settings, store=store, embedder=model)
    reranked = {"sentences embedded alone (today)": rerank_recall(sample, retriever)}
    retriever.evidence = EvidenceScorer(model, retriever.idf, stored=lambda keys: {k: pooled[k] for k in keys if k in pooled})
    reranked["pooled from the chunk's pass"] = rerank_recall(sample, retriever)
    print(f"\nSQuAD v1.1 dev: {len(questions)} questions for the top sentence, {len(sample)} (seed {args.seed}) "
          f"for recall; {counts['sentences_embedded_alone']} of {sum(len(s) for s, _ in pooled.values())} "
          "sentences were held whole by no chunk and embedded alone\n")
    print(f"{'sentence vectors':<36} {'top sentence holds answer':>26} {'R@1':>7} {'R@5':>7}")
    for name in kinds:
        r = reranked[name]
        print(f"{name:<36} {top[name]:>26.3f} {r['recall@1']:>7.3f} {r['recall@5']:>7.3f}")
    print(f"{'ceiling: some sentence holds it':<36} {top['ceiling: some sentence holds it']:>26.3f}")
    out = ROOT / "bench" / "results" / "late_chunking.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"questions": len(questions), "sample": len(sample), "seed": args.seed, "top_sentence": top,
                               "rerank": reranked, "counts": counts}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
