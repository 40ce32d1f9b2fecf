"""`qa` command line: parse, call the library, print. Collaborators are built once, lazily, here."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from qa.assembly import Assembly
from qa.config import get_settings
from qa.errors import BadRequest, QAError
from qa.evaluation.commands import eval_group

EXAMPLE = "Who is the State Department spokesman who responded to Bloomberg's report?"
# loggers whose lines tell the user that a model is loading or being exported (a language pipeline's too)
MODEL_LOGGERS = ("qa.embedding", "qa.nlp")


class App(Assembly):
    """The store, the models and the answering pipeline, built on first use (qa.assembly), and asking."""

    def ask(self, question: str, *, history: list[str] = (), k: int | None = None, filters=None):
        """Return the answer to a question after the earlier questions in `history` (the last
        MAX_REPLAYED_TURNS of them, as the API replays)."""
        from qa.chat import MAX_REPLAYED_TURNS, answer_conversation
        from qa.retrieve import Filters

        replayed = list(history)[-MAX_REPLAYED_TURNS:] if MAX_REPLAYED_TURNS else []
        return answer_conversation(question, replayed, pipeline=self.pipeline, k=k or self.settings.top_k,
                                   filters=filters or Filters())


class QAGroup(click.Group):
    """Turns library errors into one red line and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except QAError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(1)


class StderrLines(logging.Handler):
    """Prints each log line on stderr as it comes (looked up per line: the test runner swaps stderr)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(record.getMessage(), err=True)


def show_model_lines() -> None:
    """Make the MODEL_LOGGERS print their lines on stderr ("loading the embedding model…")."""
    for name in MODEL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, StderrLines) for h in logger.handlers):
            logger.addHandler(StderrLines())
        logger.setLevel(logging.INFO)
        logger.propagate = False


@click.group(cls=QAGroup, help="Ask questions of a news archive; every answer cites article and paragraph.")
@click.pass_context
def cli(ctx: click.Context) -> None:
    if ctx.invoked_subcommand != "serve":  # the server logs them through uvicorn's handlers
        show_model_lines()
    ctx.obj = App(get_settings())


@cli.command(help="Ingest a corpus folder or file (default: QA_CORPUS_DIR, ./corpus). Articles stored from "
                  "other folders stay; an article goes only when its file is gone from its folder, or with --prune.")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--prune", is_flag=True, help="Also remove every stored article that PATH does not hold.")
@click.option("--shard", default="", metavar="I/N",
              help="Take only shard I of N (1-based) of the files: N processes, on one machine or many, "
                   "each with its own I, share one folder's ingest into one Chroma server.")
@click.option("--keep-others", is_flag=True, hidden=True)  # what ingest now always does
@click.pass_obj
def ingest(app: App, path: Path | None, prune: bool, shard: str, keep_others: bool) -> None:
    from tqdm import tqdm

    root = path or app.settings.corpus_dir
    def skipped(problem) -> None:
        click.secho(f"skipped {problem}", fg="yellow", err=True)

    with tqdm(desc="ingest", unit="article", file=sys.stderr, leave=False, delay=0.5,
              disable=not sys.stderr.isatty()) as bar:
        report = app.ingest(root, prune=prune and not keep_others, progress=bar.update, skipped=skipped,
                            shard=shard)
    click.echo(report.summary())


@cli.command(help="Remove articles from the store by id (see `qa status` or `qa show`).")
@click.argument("article_ids", nargs=-1, required=True)
@click.pass_obj
def remove(app: App, article_ids: tuple[str, ...]) -> None:
    from qa.ingest import remove_articles

    removed = remove_articles(list(article_ids), store=app.store)
    click.echo(f"{len(removed)} removed: {', '.join(removed)}")


@cli.command(help="Answer a question (or --batch FILE: one question or JSON object per line).")
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per question.")
@click.option("--k", type=click.IntRange(1, 50), help="Paragraphs to consider (QA_TOP_K).")
@click.option("--batch", type=click.File("r", encoding="utf-8"), help="Questions file; - for stdin.")
@click.option("--article", "articles", multiple=True, help="Only this article id (repeatable).")
@click.option("--outlet", default="", help="Only articles from this outlet.")
@click.option("--since", default="", help="Only articles dated on or after YYYY-MM-DD.")
@click.option("--until", default="", help="Only articles dated on or before YYYY-MM-DD.")
@click.pass_obj
def ask(app: App, question: str | None, as_json: bool, k: int | None, batch, articles, outlet, since, until) -> None:
    from qa.retrieve import Filters

    filters = Filters(articles=tuple(articles), outlet=outlet, date_from=_date(since), date_to=_date(until))
    if batch is None and question is None:
        raise BadRequest('give a question, e.g. qa ask "Who said what?", or --batch FILE')
    items = _batch_items(batch) if batch else [(question, [])]
    for number, (text, history) in enumerate(items, start=1):
        try:
            answer = app.ask(text, history=history, k=k, filters=filters)
        except BadRequest as exc:
            if not batch:
                raise
            answer_error = {"error": str(exc), "line": number}
            click.echo(json.dumps(answer_error) if as_json else f"line {number}: {exc}")
            continue
        if as_json:
            click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        else:
            click.echo(f"Q: {text}\n{render_answer(answer)}\n" if batch else render_answer(answer))


@cli.command(help="Chat: ask follow-up questions that lean on the earlier ones. Empty line or Ctrl-D ends.")
@click.pass_obj
def chat(app: App) -> None:
    app.pipeline.language.load()  # the models and the index load before the first prompt, not after it
    history: list[str] = []
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            break
        if not question or question in ("exit", "quit"):
            break
        try:
            answer = app.ask(question, history=history)
        except BadRequest as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            continue
        click.echo(render_answer(answer) + "\n")
        history.append(question)


@cli.command(help="Print an article with numbered paragraphs, or one paragraph: ARTICLE_ID[:N].")
@click.argument("address")
@click.pass_obj
def show(app: App, address: str) -> None:
    article_id, _, number = address.partition(":")
    article = app.store.get_article(article_id)
    if number:
        if not number.isdigit() or not 1 <= int(number) <= len(article.paragraphs):
            raise BadRequest(f"{article_id} has paragraphs 1-{len(article.paragraphs)}; got {number!r}")
        click.echo(f"{article.title} [{article_id}:{number}]\n\n{article.paragraph(int(number))}")
        return
    click.secho(article.title, bold=True)
    meta = " · ".join(x for x in (article.outlet, article.date, article.url, article.source) if x)
    click.echo(f"{article.id}{' · ' + meta if meta else ''}\n")
    section = ""
    for n, (text, heading) in enumerate(zip(article.paragraphs, article.sections or [""] * len(article.paragraphs)), 1):
        if heading and heading != section:
            click.secho(f"## {heading}\n", bold=True)
            section = heading
        click.echo(f"[{n}] {text}\n")


@cli.command(help="Show what the store holds.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(app: App, as_json: bool) -> None:
    s = app.settings
    info = app.store.counts() | {
        "collection": s.collection,
        "store": (f"{s.chroma_url} ({s.chroma_tenant}/{s.chroma_database})" if s.names_server_database
                  else s.chroma_url) or str(s.data_dir.resolve()),
        "embed_model": s.embed_model, "answerer": "llm" if s.llm_base_url else "extractive",
    }
    if as_json:
        click.echo(json.dumps(info))
    else:
        click.echo("\n".join(f"{key}: {value}" for key, value in info.items()))


@cli.command(help="Serve the HTTP API (and the chat page at /) with uvicorn; models load in the background.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes; each loads the model and answers on its own (one per core).")
@click.pass_obj
def serve(app: App, host: str, port: int, workers: int) -> None:
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from qa.api import create_app
    from qa.config import check_api_key

    check_api_key(app.settings.api_key)  # before any worker starts: one red line, not a traceback per worker
    # uvicorn's handlers also print the app's own lines ("ready: N chunks indexed", "not ready: ...")
    loggers = {**LOGGING_CONFIG["loggers"], "qa": {"handlers": ["default"], "level": "INFO"}}
    log_config = {**LOGGING_CONFIG, "loggers": loggers}
    if workers == 1:
        uvicorn.run(create_app(app.settings), host=host, port=port, log_config=log_config)
    else:  # each worker process builds the app from the same QA_* environment
        uvicorn.run("qa.api.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                    log_config=log_config)


def render_answer(answer) -> str:
    """Return the human form of an answer: the text, then its numbered sources."""
    lines = [f"Answer: {answer.short_answer.text}", ""] if answer.short_answer else []
    lines.append(answer.answer)
    if answer.citations:
        lines.append("\nSources:")
        for c in answer.citations:
            lines.append(f"  [{c.marker}] {c.title} ({c.article_id}, paragraph {c.paragraph})")
            lines.append(f"      “{c.quote}”")
    for flag in answer.flags:
        lines.append(f"  ! dropped [{flag.marker}]: {flag.reason}: {flag.sentence}")
    if answer.nearest:
        lines.append("\nClosest passages (none clearly answers the question):")
        for p in answer.nearest:
            lines.append(f"  - {p.title} ({p.article_id}, paragraph {p.paragraph})")
            lines.append(f"      “{p.quote}”")
    return "\n".join(lines)


def _batch_items(handle) -> list[tuple[str, list[str]]]:
    items = []
    for number, line in enumerate(handle, start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadRequest(f"batch line {number}: invalid JSON ({exc.msg})") from None
            if not isinstance(row.get("question"), str) or not isinstance(row.get("history", []), list):
                raise BadRequest(f'batch line {number}: expected {{"question": str, "history": [str, ...]}}')
            items.append((row["question"], [str(h) for h in row.get("history", [])]))
        else:
            items.append((line, []))
    return items


def _date(value: str) -> str:
    from qa.corpus import parse_date

    if not value:
        return ""
    parsed = parse_date(value)
    if not parsed:
        raise BadRequest(f"{value!r} is not a date (use YYYY-MM-DD)")
    return parsed


cli.add_command(eval_group)


def main() -> None:
    """Entry point of the `qa` console script."""
    cli()
