"""`qa eval ...`: run a question set, score other systems' answers, compare runs, validate the
verifier against human labels, convert SQuAD. Thin: parse, call qa.evaluation, print.

`ctx.obj` is the CLI's lazily-built App (settings, store, embedder, language, pipeline)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

DEFAULT_FAITHFULNESS = Path("../shared/data/faithfulness")
DEFAULT_SQUAD = Path("../shared/data/squad-dev-v1.1.json")
_METRIC_ROWS = ("faithfulness", "citation_recall", "citation_precision", "retrieval_recall_at_k",
                "answer_accuracy", "refusal_accuracy", "first_citation_accuracy")


@click.group(name="eval", help="Evaluate answers: faithfulness, citations, retrieval, refusals.")
def eval_group() -> None:
    pass


_judge_option = click.option("--judge", type=click.Choice(["offline", "llm"]), default="offline", show_default=True,
                             help="Who decides support: the offline verifier, or the LLM at QA_LLM_BASE_URL.")


@eval_group.command(help="Answer every question of a JSONL set and score the answers; writes report.json/.md/.html.")
@click.option("--dataset", required=True, type=click.Path(path_type=Path), help="Question set (JSONL).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for the reports.")
@click.option("--api", default="", help="Ask a running server's /v1/chat at this URL instead of this process.")
@click.option("--api-key", envvar="QA_EVAL_API_KEY", default="", help="Bearer key of that server.")
@click.option("--engine", default="", metavar="MODULE:FACTORY",
              help="Ask the LlamaIndex query engine FACTORY() returns (e.g. qa.evaluation.baseline:starter_engine).")
@click.option("--k", type=click.IntRange(1, 50), help="Paragraphs to consider (QA_TOP_K).")
@click.option("--limit", type=click.IntRange(1), help="Only the first N questions.")
@_judge_option
@click.pass_obj
def run(app, dataset: Path, out: Path, api: str, api_key: str, engine: str, k: int | None, limit: int | None,
        judge: str) -> None:
    from tqdm import tqdm

    from qa.errors import BadRequest
    from qa.evaluation.dataset import load_dataset
    from qa.evaluation.runner import build_report, run_questions

    if api and engine:
        raise BadRequest("give --api or --engine, not both")
    questions = load_dataset(dataset)[:limit]
    k = k or app.settings.top_k
    chosen = _judge(app, judge)
    client = asker = None
    if engine:
        from qa.evaluation.askers import EngineAsker, load_engine, store_paragraphs

        asker = EngineAsker(load_engine(engine), fallback=lambda: store_paragraphs(app.store))
        ask, paragraph_text = asker.ask, asker.paragraph_text
    elif api:
        from qa.evaluation.askers import APIClient

        client = APIClient(api, api_key=api_key, k=k)
        client.check_ready()
        ask, paragraph_text = client.ask, client.paragraphs()
    else:
        from qa.evaluation.askers import pipeline_asker, store_paragraphs

        ask = pipeline_asker(pipeline=app.pipeline, k=k)
        paragraph_text = store_paragraphs(app.store)
    try:
        with tqdm(total=len(questions), desc="eval", unit="question", file=sys.stderr, leave=False) as bar:
            items = run_questions(questions, ask=ask, judge=chosen, k=k, paragraph_text=paragraph_text,
                                  progress=bar.update)
    finally:
        if client is not None:
            client.close()
    system = _engine_system(asker, spec=engine, k=k) if asker else _system(app, api=api, k=k)
    _finish(build_report("run", items, dataset=str(dataset), system=system, judge=chosen, k=k), out)
    if asker and asker.unreplayed:
        click.secho(f"{asker.unreplayed} follow-up question(s) asked without their earlier turns: {system['history']}",
                    fg="yellow", err=True)


@eval_group.command(help="Score answers any system produced (JSONL: id, question, answer, contexts).")
@click.option("--answers", required=True, type=click.Path(path_type=Path), help="Answers file (JSONL).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for the reports.")
@click.option("--k", type=click.IntRange(1, 50), default=5, show_default=True,
              help="Contexts counted for retrieval recall.")
@_judge_option
@click.pass_obj
def score(app, answers: Path, out: Path, k: int, judge: str) -> None:
    from tqdm import tqdm

    from qa.evaluation.dataset import load_answers
    from qa.evaluation.runner import build_report, score_supplied

    supplied = load_answers(answers)
    chosen = _judge(app, judge)
    with tqdm(total=len(supplied), desc="score", unit="answer", file=sys.stderr, leave=False) as bar:
        items = score_supplied(supplied, judge=chosen, k=k, progress=bar.update)
    _finish(build_report("score", items, dataset=str(answers), system={"answers": str(answers)}, judge=chosen, k=k),
            out)


@eval_group.command(help="Compare two runs: metric deltas and the questions whose verdict changed.")
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def diff(run_a: Path, run_b: Path, as_json: bool) -> None:
    from qa.evaluation.report import diff_reports, load_report, render_diff

    compared = diff_reports(load_report(run_a), load_report(run_b))
    if as_json:
        click.echo(json.dumps(compared, ensure_ascii=False, indent=2))
    else:
        click.echo(render_diff(compared, name_a=str(run_a), name_b=str(run_b)))


@eval_group.command(help="Score the offline verifier on human-labeled claims (test splits) against two baselines.")
@click.option("--data", type=click.Path(path_type=Path), default=DEFAULT_FAITHFULNESS, show_default=True,
              help="Folder with expertqa_claims.jsonl and frank_summaries.jsonl.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Folder for validation.json and validation.md (default: QA_DATA_DIR/validation).")
@click.pass_obj
def validate(app, data: Path, out: Path | None) -> None:
    from qa.evaluation.validation import render_validation
    from qa.evaluation.validation import validate as validate_verifier
    from qa.evaluation.verifier import load_weights, verifier_embedder

    weights = load_weights()
    embedder = verifier_embedder(weights, settings=app.settings, embedder=lambda: app.embedder)
    from qa.contradiction import ClaimChecker

    report = validate_verifier(data, embedder=embedder, checker=ClaimChecker(app.language), weights=weights)
    text = render_validation(report)
    click.echo(text)
    out = out or app.settings.data_dir / "validation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "validation.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "validation.md").write_text(text + "\n", encoding="utf-8")
    click.echo(f"wrote {out / 'validation.json'} and {out / 'validation.md'}")


@eval_group.command(help="Convert SQuAD v1.1 into a corpus folder and a question set.")
@click.option("--data", type=click.Path(path_type=Path), default=DEFAULT_SQUAD, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Writes OUT/corpus/ and OUT/dataset.jsonl.")
@click.option("--sample", type=click.IntRange(1), default=500, show_default=True, help="Questions to sample.")
@click.option("--seed", type=int, default=0, show_default=True)
def squad(data: Path, out: Path, sample: int, seed: int) -> None:
    from qa.evaluation.squad import convert_squad

    articles, questions = convert_squad(data, out, sample=sample, seed=seed)
    click.echo(f"wrote {articles} articles to {out / 'corpus'} and {questions} questions to {out / 'dataset.jsonl'}")
    data = out / "data"
    click.echo(f"next: QA_DATA_DIR={data} qa ingest {out / 'corpus'} && "
               f"QA_DATA_DIR={data} qa eval run --dataset {out / 'dataset.jsonl'} --out {out / 'run'}")


def _judge(app, name: str):
    from qa.evaluation.judges import build_judge

    return build_judge(name, settings=app.settings, embedder=lambda: app.embedder, language=app.language)


def _system(app, *, api: str, k: int) -> dict:
    settings = app.settings
    answerer = "llm" if settings.llm_base_url else "extractive"
    return {"answerer": "server" if api else answerer, "api": api or None, "k": k,
            "embed_model": settings.embed_model, "collection": settings.collection,
            "min_confidence": settings.min_confidence, "llm_model": settings.llm_model or None}


def _engine_system(asker, *, spec: str, k: int) -> dict:
    kind = type(asker.engine)
    if asker.chats:
        history = "earlier questions passed to its as_chat_engine() as the chat history"
    else:
        history = f"{kind.__name__} has no as_chat_engine(), so follow-ups were asked alone"
    return {"answerer": "engine", "engine": spec, "engine_type": f"{kind.__module__}.{kind.__qualname__}", "k": k,
            "history": history}


def _finish(report: dict, out: Path) -> None:
    from qa.evaluation.report import write_reports

    paths = write_reports(report, out)
    errors = sum(1 for item in report["items"] if item.get("error"))
    click.echo(f"{'metric':<26} {'value':>6}  {'95% interval':<15} {'n':>5}")
    for name in _METRIC_ROWS:
        m = report["metrics"].get(name)
        if m is None:
            continue
        value = "-" if m["value"] is None else f"{m['value']:.3f}"
        ci = "-" if not m["ci95"] else f"[{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]"
        label = f"{name} (k={m['k']})" if "k" in m else name
        click.echo(f"{label:<26} {value:>6}  {ci:<15} {m['n']:>5}")
    if errors:
        click.secho(f"{errors} question(s) could not be answered; see the report", fg="yellow", err=True)
    click.echo(f"wrote {', '.join(str(p) for p in paths)}")
