"""Paragraph retrieval on SQuAD v1.1 dev: our hybrid retrieval with its sentence re-rank (qa.evidence)
against the same without the re-rank, BM25 alone, dense alone and the LlamaIndex starter setup, all in
one run, plus how often the extractive answer's first quote holds a gold answer span.

    python bench/squad.py [--data ../shared/data/squad-dev-v1.1.json] [--sample 2000] [--seed 0] [--store DIR]

Prints a table and writes bench/results/squad.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from qa.answer import answer_question, build_pipeline, read
from qa.config import get_settings
from qa.embedding import build_embedder
from qa.evaluation.squad import load_squad
from qa.ingest import ingest_articles
from qa.models import Article
from qa.nlp import Language
from qa.retrieve import Retriever
from qa.store import open_store

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"
KS = (1, 2, 5)


def recall(ranks: list[int | None], k: int) -> float:
    """Return the share of questions whose gold paragraph ranks within the top k."""
    return sum(1 for r in ranks if r is not None and r < k) / max(1, len(ranks))


def first_articles(articles: list[Article], questions: list[dict], count: int) -> tuple[list[Article], list[dict]]:
    """Return the first `count` articles (all of them when 0) and the questions about them."""
    if not count:
        return articles, questions
    kept = articles[:count]
    ids = {a.id for a in kept}
    return kept, [q for q in questions if q["article_id"] in ids]


def rank_of(keys: list[str], gold: str) -> int | None:
    return keys.index(gold) if gold in keys else None


def starter_ranks(articles: list[Article], questions: list[dict], embedder) -> list[int | None]:
    """Return gold ranks under LlamaIndex's starter setup: SentenceSplitter defaults over whole
    articles, in-memory vector index; a chunk counts as the gold paragraph when it overlaps it."""
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    documents, spans = [], {}
    for article in articles:
        text, offsets = "", []
        for paragraph in article.paragraphs:
            offsets.append((len(text), len(text) + len(paragraph)))
            text += paragraph + "\n\n"
        documents.append(Document(text=text, id_=article.id))
        spans[article.id] = offsets
    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    index = VectorStoreIndex(nodes, embed_model=embedder, show_progress=False)
    retriever = index.as_retriever(similarity_top_k=max(KS))
    ranks = []
    for q in questions:
        start, end = spans[q["article_id"]][q["paragraph"] - 1]
        found = None
        for i, result in enumerate(retriever.retrieve(q["question"])):
            node = result.node
            if node.ref_doc_id == q["article_id"] and node.start_char_idx < end and node.end_char_idx > start:
                found = i
                break
        ranks.append(found)
    return ranks, len(nodes)


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=2000, help="questions to sample (0 = all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "squad.json")
    parser.add_argument("--skip-starter", action="store_true")
    parser.add_argument("--store", type=Path, help="keep the embedded store here and reuse it (ingest is incremental)")
    args = parser.parse_args()

    articles, questions = load_squad(args.data)
    if args.sample:
        questions = random.Random(args.seed).sample(questions, min(args.sample, len(questions)))
    workdir = args.store or Path(tempfile.mkdtemp(prefix="qa-squad-"))
    settings = get_settings(data_dir=workdir, collection="squad")
    embedder = build_embedder(settings)
    store = open_store(settings)
    language = Language(settings.nlp_model)
    report = ingest_articles(articles, store=store, embedder=embedder, language=language)
    print(f"ingest: {report.summary()}", file=sys.stderr)

    systems = {
        "hybrid (ours)": {"dense_weight": settings.dense_weight, "rerank": True},
        "hybrid, no rerank": {"dense_weight": settings.dense_weight, "rerank": False},
        "bm25 alone": {"dense_weight": 0.0, "rerank": False},
        "dense alone": {"dense_weight": 1.0, "rerank": False},
    }
    results: dict[str, dict] = {}
    pipeline = None
    for name, system in systems.items():
        retriever = Retriever(store, embedder, candidates=settings.candidates, rerank_depth=settings.rerank_depth,
                              dense_weight=system["dense_weight"])
        staged = build_pipeline(settings, retriever=retriever, language=language)
        started = time.perf_counter()
        ranks = []
        for q in questions:
            if system["rerank"]:
                frame = read(staged, q["question"])
                keys = [e.hit.key for e in staged.evidence.rank(frame, q["question"],
                                                                retriever.retrieve_hits(q["question"]), k=max(KS))]
            else:
                keys = [h.key for h in retriever.retrieve_hits(q["question"], k=max(KS))]
            ranks.append(rank_of(keys, f"{q['article_id']}:{q['paragraph']}"))
        if name == "hybrid (ours)":
            pipeline = staged  # its sentence cache is warm from the re-rank
        elapsed = time.perf_counter() - started
        print(f"{name}: {len(questions)} questions in {elapsed:.0f}s", file=sys.stderr)
        results[name] = {f"recall@{k}": recall(ranks, k) for k in KS} | {"ms_per_query": 1000 * elapsed / len(questions)}
    if not args.skip_starter:
        started = time.perf_counter()
        ranks, n_nodes = starter_ranks(articles, questions, embedder)
        results["llamaindex starter"] = {f"recall@{k}": recall(ranks, k) for k in KS} | {
            "ms_per_query": 1000 * (time.perf_counter() - started) / len(questions), "chunks": n_nodes,
        }

    quoted = answered = 0
    for q in questions:
        answer = answer_question(q["question"], pipeline=pipeline)
        if answer.answerable and answer.citations:
            answered += 1
            quote = normalize(answer.citations[0].quote)
            quoted += any(normalize(a) in quote for a in q["answers"])
    results["hybrid (ours)"]["first_quote_has_answer"] = quoted / len(questions)
    results["hybrid (ours)"]["answered"] = answered / len(questions)

    print(f"\nSQuAD v1.1 dev: {len(articles)} articles, {sum(len(a.paragraphs) for a in articles)} paragraphs, "
          f"{len(questions)} questions (seed {args.seed})\n")
    print(f"{'system':<22}" + "".join(f"{'R@' + str(k):>8}" for k in KS) + f"{'ms/q':>8}")
    for name, row in results.items():
        print(f"{name:<22}" + "".join(f"{row[f'recall@{k}']:>8.3f}" for k in KS) + f"{row['ms_per_query']:>8.1f}")
    print(f"\nfirst quoted sentence holds a gold answer span: {quoted / len(questions):.3f} "
          f"(answered {answered / len(questions):.3f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"questions": len(questions), "seed": args.seed, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
