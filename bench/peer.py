"""The LlamaIndex starter pipeline beside ours at archive scale, the same archive, model and questions:
a VectorStoreIndex over Chroma on its own `chroma run` server, built with `from_documents` (the default
transformations: SentenceSplitter, 1,024 tokens with 200 of overlap), queried through `as_retriever()`
(its defaults: dense only, top 2) and `as_query_engine()` with the no-LLM synthesizer of
qa/evaluation/baseline.py; recall@5 with `as_retriever(similarity_top_k=5)`.

    python bench/peer.py [--paragraphs 100000] [--sample 300] [--workdir .qa-peer] [--ours .qa-scale]

Figures: the starter's ingest time and rate over the whole archive; in one run, ours and the starter
ingesting the same slice (SQuAD dev's 48 articles, 2,067 paragraphs) into fresh embedded Chroma stores, so the
ratio of the two means something on a shared machine; query p50/p95; SQuAD recall@1/@2/@5 over the
`--sample` questions bench/scale.py asks (same seed). A starter chunk counts as finding a question when
it comes from the gold article, overlaps the gold paragraph and holds one of the answer strings (so a
chunk of several paragraphs gets the credit its text earns). With `--ours WORKDIR` (bench/scale.py's
workdir, that script not running) our pipeline over that store is timed and scored on the same questions
in the same process: the whole answer, and retrieval alone.

Resumable: a starter collection already holding the whole archive is not rebuilt (its ingest figures
are kept from the JSON). Prints a table and writes bench/results/peer.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import DEFAULT_DATA, archive, prefix  # noqa: E402
from scale_steps import ask_timed, holds_answer, percentile, serve_chroma  # noqa: E402
from served import free_port  # noqa: E402

from qa.config import get_settings  # noqa: E402
from qa.models import Article  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "peer.json"
SLICE_PARAGRAPHS = 2067  # SQuAD dev's own articles: the first 48 of the archive


def documents(articles: list[Article]) -> tuple[list, dict[str, list[tuple[int, int]]]]:
    """Return one LlamaIndex Document per article (title, then its paragraphs, a blank line between),
    and each article's paragraph ranges in that text."""
    from llama_index.core import Document

    docs, ranges = [], {}
    for article in articles:
        text, spans = article.title, []
        for paragraph in article.paragraphs:
            text += "\n\n"
            spans.append((len(text), len(text) + len(paragraph)))
            text += paragraph
        docs.append(Document(text=text, id_=article.id, metadata={"title": article.title}))
        ranges[article.id] = spans
    return docs, ranges


def finds(node, question: dict, ranges: dict[str, list[tuple[int, int]]]) -> bool:
    """Return True when a retrieved chunk holds the question's gold paragraph's answer."""
    if node.ref_doc_id != question["article_id"]:
        return False
    start, end = ranges[question["article_id"]][question["paragraph"] - 1]
    if node.start_char_idx is not None and node.end_char_idx is not None:
        if node.end_char_idx <= start or node.start_char_idx >= end:
            return False
    text = node.get_content()
    return any(answer in text for answer in question["answers"])


def build_starter(docs: list, *, url: str, embedder, workdir: Path) -> tuple[object, dict]:
    """Return the starter's index over the server at `url` (built unless complete) and its ingest figures."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from qa.store import open_client

    client = open_client(get_settings(chroma_url=url, store_timeout=600.0))
    collection = client.get_or_create_collection("starter", metadata={"hnsw:space": "cosine"},
                                                 embedding_function=None)
    store = ChromaVectorStore(chroma_collection=collection)
    marker = workdir / "starter-built.json"
    expected = len(docs)
    if marker.exists() and json.loads(marker.read_text()).get("documents") == expected and collection.count():
        figures = json.loads(marker.read_text())
        print(f"starter: kept ({collection.count()} chunks)", file=sys.stderr)
        return VectorStoreIndex.from_vector_store(store, embed_model=embedder), figures
    if collection.count():
        client.delete_collection("starter")  # a partial build of this benchmark's own collection
        collection = client.get_or_create_collection("starter", metadata={"hnsw:space": "cosine"},
                                                     embedding_function=None)
        store = ChromaVectorStore(chroma_collection=collection)
    started = time.perf_counter()
    index = VectorStoreIndex.from_documents(docs, storage_context=StorageContext.from_defaults(vector_store=store),
                                            embed_model=embedder, show_progress=True)
    seconds = time.perf_counter() - started
    paragraphs = sum(len(d.text.split("\n\n")) - 1 for d in docs)
    figures = {"documents": expected, "paragraphs": paragraphs, "chunks": collection.count(),
               "ingest_s": round(seconds, 1), "ingest_paragraphs_per_s": round(paragraphs / seconds, 2)}
    marker.write_text(json.dumps(figures))
    return index, figures


def slice_ingest(articles: list[Article], *, embedder, language) -> dict:
    """Return ours and the starter's ingest time of the same articles into fresh embedded stores, one
    after the other in this process (the same model object, loaded already)."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from qa.ingest import ingest_articles
    from qa.store import open_client, open_store

    folder = Path(tempfile.mkdtemp(prefix="qa-peer-slice-"))
    try:
        started = time.perf_counter()
        store = open_store(get_settings(data_dir=folder / "ours"))
        ingest_articles(articles, store=store, embedder=embedder, language=language)
        ours = time.perf_counter() - started
        docs, _ = documents(articles)
        started = time.perf_counter()
        collection = open_client(get_settings(data_dir=folder / "starter")).get_or_create_collection(
            "starter", metadata={"hnsw:space": "cosine"}, embedding_function=None)
        context = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
        VectorStoreIndex.from_documents(docs, storage_context=context, embed_model=embedder)
        starter = time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    paragraphs = sum(len(a.paragraphs) for a in articles)
    return {"slice_paragraphs": paragraphs, "ours_slice_s": round(ours, 1), "starter_slice_s": round(starter, 1),
            "slice_ratio": round(ours / starter, 2)}


def time_starter(index, questions: list[dict], ranges: dict) -> dict:
    """Return the starter's query p50/p95 (defaults, top 2; retrieval and the query engine) and recall."""
    from qa.evaluation.baseline import RetrievedText
    from qa.llm import no_llm

    default = index.as_retriever()
    five = index.as_retriever(similarity_top_k=5)
    engine = index.as_query_engine(llm=no_llm(), response_synthesizer=RetrievedText(llm=no_llm()))
    for q in questions[:3]:
        engine.query(q["question"])
    retrieve_ms, query_ms, ranks, held = [], [], [], 0
    for q in questions:
        started = time.perf_counter()
        default.retrieve(q["question"])
        retrieve_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        engine.query(q["question"])
        query_ms.append(1000 * (time.perf_counter() - started))
        found = five.retrieve(q["question"])
        hits = [finds(n.node, q, ranges) for n in found]
        ranks.append(hits.index(True) if True in hits else None)
        held += bool(found) and holds_answer(found[0].node.get_content(), q["answers"])
    return {"retrieve_p50_ms": round(percentile(retrieve_ms, 0.5), 1),
            "query_p50_ms": round(percentile(query_ms, 0.5), 1),
            "query_p95_ms": round(percentile(query_ms, 0.95), 1),
            "first_holds_answer": round(held / len(questions), 4)} | recall(ranks)


def recall(ranks: list[int | None]) -> dict:
    """Return recall@1/@2/@5 of the gold's rank in each question's results."""
    return {f"recall@{k}": round(sum(1 for r in ranks if r is not None and r < k) / len(ranks), 4) for k in (1, 2, 5)}


def time_ours(workdir: Path, questions: list[dict], *, embedder, language) -> dict:
    """Return our pipeline's whole-answer and retrieval p50/p95 and recall over bench/scale.py's store."""
    from qa.answer import answer_question, retrieve_paragraphs
    from qa.api.runtime import build_components

    with serve_chroma(workdir, port=free_port()) as url:
        settings = get_settings(chroma_url=url, data_dir=workdir / "client", collection="scale", store_timeout=120.0)
        parts = build_components(settings, embedder=embedder, language=language)
        for q in questions[:3]:
            answer_question(q["question"], pipeline=parts.pipeline)
        answer_ms, retrieve_ms, ranks, held = [], [], [], 0
        for q in questions:
            started = time.perf_counter()
            retrieve_paragraphs(q["question"], pipeline=parts.pipeline)
            retrieve_ms.append(1000 * (time.perf_counter() - started))
            ms, rank, holds = ask_timed(parts.pipeline, q)
            answer_ms.append(ms)
            ranks.append(rank)
            held += holds
        paragraphs = parts.pipeline.retriever.store.counts()
    return {"retrieve_p50_ms": round(percentile(retrieve_ms, 0.5), 1),
            "query_p50_ms": round(percentile(answer_ms, 0.5), 1),
            "query_p95_ms": round(percentile(answer_ms, 0.95), 1), "store_counts": paragraphs,
            "first_holds_answer": round(held / len(questions), 4)} | recall(ranks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path(".qa-peer"), help="the starter's server data")
    parser.add_argument("--ours", type=Path, help="bench/scale.py's workdir grown to the same size (not running)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slice", type=int, default=SLICE_PARAGRAPHS, help="paragraphs both pipelines ingest in this run")
    parser.add_argument("--skip-slice", action="store_true", help="do not ingest the slice twice")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    from qa.embedding import build_embedder
    from qa.nlp import Language

    articles, questions = archive(args.paragraphs, data=args.data, seed=args.seed)
    asked = random.Random(args.seed).sample(questions, min(args.sample, len(questions)))
    settings = get_settings()
    embedder = build_embedder(settings)
    language = Language(settings.nlp_model, processes=settings.nlp_processes)
    docs, ranges = documents(articles)
    result = {"paragraphs": sum(len(a.paragraphs) for a in articles), "articles": len(articles),
              "questions": len(asked), "seed": args.seed, "model": settings.embed_model}
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not args.skip_slice:
        result["slice"] = slice_ingest(prefix(articles, args.slice), embedder=embedder, language=language)
        print(f"slice: {json.dumps(result['slice'])}", file=sys.stderr)
    with serve_chroma(args.workdir, port=free_port()) as url:
        index, result["starter_ingest"] = build_starter(docs, url=url, embedder=embedder, workdir=args.workdir)
        print(f"starter ingest: {json.dumps(result['starter_ingest'])}", file=sys.stderr)
        result["starter"] = time_starter(index, asked, ranges)
        print(f"starter: {json.dumps(result['starter'])}", file=sys.stderr)
    if args.ours:
        result["ours"] = time_ours(args.ours, asked, embedder=embedder, language=language)
        print(f"ours: {json.dumps(result['ours'])}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result | {"written": time.time()}, indent=2) + "\n", encoding="utf-8")
    print_table(result)
    return 0


def print_table(result: dict) -> None:
    """Print ours and the starter side by side."""
    ours, starter = result.get("ours", {}), result["starter"]
    rows = [("query p50 ms (whole answer / query engine)", ours.get("query_p50_ms"), starter["query_p50_ms"]),
            ("query p95 ms", ours.get("query_p95_ms"), starter["query_p95_ms"]),
            ("retrieval p50 ms", ours.get("retrieve_p50_ms"), starter["retrieve_p50_ms"]),
            ("recall@1", ours.get("recall@1"), starter["recall@1"]),
            ("recall@2", ours.get("recall@2"), starter["recall@2"]),
            ("recall@5", ours.get("recall@5"), starter["recall@5"]),
            ("answer string in the first quote / first chunk", ours.get("first_holds_answer"),
             starter["first_holds_answer"])]
    if "slice" in result:
        s = result["slice"]
        rows.append((f"ingest s, {s['slice_paragraphs']:,} paragraphs, same run", s["ours_slice_s"], s["starter_slice_s"]))
    ingest = result["starter_ingest"]
    rows.append((f"ingest s, whole archive ({ingest['chunks']:,} starter chunks)", None, ingest["ingest_s"]))
    print(f"\n{result['paragraphs']:,} paragraphs, {result['questions']} SQuAD questions\n")
    print(f"{'figure':<48}{'ours':>12}{'starter':>12}")
    for name, a, b in rows:
        print(f"{name:<48}{'-' if a is None else a:>12}{'-' if b is None else b:>12}")


if __name__ == "__main__":
    sys.exit(main())
