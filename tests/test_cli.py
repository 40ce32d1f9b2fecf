"""The `qa` command line through click's CliRunner, on an embedded store and on the Chroma server."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_runner import Env, env_for, reuse_model, run
from click.testing import Result

from qa.extractive import REFUSAL

QUESTION = "Who is the State Department spokesman who responded to Bloomberg's report?"
FOLLOW_UP = "What did he say next?"
OFF_TOPIC = "Which team won the 2024 Super Bowl?"
NEAR_MISS = "Which political party does Slovak Prime Minister Robert Fico lead?"  # Fico is named, his party not
TROOPS = "macron-troops-remark-irks-us"
ANGRY = "us-angry-with-macron"
ANSWER_KEYS = {"answer", "answerable", "citations"}
CITATION_KEYS = {"marker", "article_id", "title", "paragraph", "text", "quote"}
SUMMARY = r"{added} added, {updated} updated, {removed} removed, {unchanged} unchanged \({chunks} chunks embedded\) in \d+\.\ds"


@pytest.fixture(scope="module", autouse=True)
def _one_model_load(embedder) -> Iterator[None]:
    """Make every `qa` invocation reuse the session's real model instead of loading it again."""
    yield from reuse_model(embedder)


@pytest.fixture(params=["embedded", "server"])
def empty_env(request: pytest.FixtureRequest, settings_factory) -> Env:
    """Return the environment of an empty store of each kind."""
    return env_for(settings_factory(request.param))


@pytest.fixture
def embedded_env(settings_factory) -> Env:
    """Return the environment of an empty embedded store."""
    return env_for(settings_factory("embedded"))


@pytest.fixture(scope="module")
def _ingested_envs(tmp_path_factory: pytest.TempPathFactory, seed_corpus: Path) -> Callable[[str, str], Env]:
    """Return get(backend, url): the environment of a store that `qa ingest` filled once per module."""
    made: dict[str, Env] = {}

    def get(backend: str, url: str = "") -> Env:
        if backend not in made:
            env = {"QA_DATA_DIR": str(tmp_path_factory.mktemp(f"cli-{backend}") / "data"),
                   "QA_COLLECTION": f"cli{uuid.uuid4().hex[:12]}"}
            if backend == "server":
                env["QA_CHROMA_URL"] = url
            result = run(["ingest", str(seed_corpus)], env)
            assert result.exit_code == 0, result.output
            made[backend] = env
        return made[backend]

    return get


@pytest.fixture
def ingested_env(_ingested_envs) -> Env:
    """Return the environment of an embedded store holding the seed corpus (read-only)."""
    return _ingested_envs("embedded")


@pytest.fixture(params=["embedded", "server"])
def any_ingested_env(request: pytest.FixtureRequest, _ingested_envs) -> Env:
    """Return the environment of each kind of store holding the seed corpus (read-only)."""
    url = request.getfixturevalue("chroma_server") if request.param == "server" else ""
    return _ingested_envs(request.param, url)


def summary(**counts: int) -> re.Pattern:
    """Return the pattern of the `qa ingest` summary line with these counts."""
    return re.compile(SUMMARY.format(**counts))


def only_json(result: Result) -> dict:
    """Return the one JSON object `result` printed, asserting that it printed nothing else."""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def test_ask_before_ingest_exits_1_and_says_to_run_ingest(empty_env: Env) -> None:
    result = run(["ask", QUESTION], empty_env)

    assert result.exit_code == 1
    assert result.stderr == "error: the store is empty: run `qa ingest` first\n"
    assert result.stdout == ""


def test_ingest_prints_one_summary_line_and_a_second_run_finds_everything_unchanged(empty_env: Env,
                                                                                    seed_corpus: Path) -> None:
    first = run(["ingest", str(seed_corpus)], empty_env)
    second = run(["ingest", str(seed_corpus)], empty_env)

    assert first.exit_code == 0
    assert summary(added=2, updated=0, removed=0, unchanged=0, chunks=25).fullmatch(first.stdout.rstrip("\n"))
    assert second.exit_code == 0
    assert summary(added=0, updated=0, removed=0, unchanged=2, chunks=0).fullmatch(second.stdout.rstrip("\n"))


def test_ingest_skips_an_unreadable_file_with_one_line_and_ingests_the_rest(embedded_env: Env, seed_corpus: Path,
                                                                          tmp_path: Path) -> None:
    corpus = Path(shutil.copytree(seed_corpus, tmp_path / "corpus"))
    (corpus / "broken.txt").write_bytes(b"Broken\n\nCaf\xe9 au lait.\n")

    result = run(["ingest", str(corpus)], embedded_env)

    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == "skipped broken.txt: not UTF-8 text (byte 11)"
    assert summary(added=2, updated=0, removed=0, unchanged=0, chunks=25).fullmatch(
        result.stdout.rstrip("\n").removesuffix("; 1 file skipped")
    )
    assert result.stdout.rstrip("\n").endswith("; 1 file skipped")
    status = json.loads(run(["status", "--json"], embedded_env).stdout)
    assert (status["articles"], status["paragraphs"], status["chunks"]) == (2, 25, 25)


def test_ingesting_a_second_folder_keeps_the_first_and_only_prune_or_remove_delete(embedded_env: Env,
                                                                                 seed_corpus: Path,
                                                                                 tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "lisbon.txt").write_text("Leaders meet in Lisbon\n\nThe Lisbon summit ended with a deal on cod.\n",
                                      encoding="utf-8")
    (other / "blob.txt").write_bytes(b"\x00\x01")
    run(["ingest", str(seed_corpus)], embedded_env)

    added = run(["ingest", str(other)], embedded_env)
    pruned = run(["ingest", str(other), "--prune"], embedded_env)
    unknown = run(["remove", "lisbon", "nope"], embedded_env)
    removed = run(["remove", "lisbon"], embedded_env)

    assert added.exit_code == 0
    assert added.stderr.splitlines() == ["skipped blob.txt: binary file, not text"]
    assert summary(added=1, updated=0, removed=0, unchanged=0, chunks=1).fullmatch(
        added.stdout.rstrip("\n").removesuffix("; 1 file skipped"))
    assert pruned.exit_code == 0
    assert pruned.stdout.splitlines()[1:] == [f"removed {TROOPS}: not in {other.resolve()} (--prune)",
                                              f"removed {ANGRY}: not in {other.resolve()} (--prune)"]
    assert (unknown.exit_code, unknown.stderr) == (
        1, "error: no article 'nope' in the store (see `qa status`); nothing was removed\n")
    assert (removed.exit_code, removed.stdout) == (0, "1 removed: lisbon\n")
    assert json.loads(run(["status", "--json"], embedded_env).stdout)["articles"] == 0


def test_status_json_counts_articles_paragraphs_and_chunks(any_ingested_env: Env) -> None:
    result = run(["status", "--json"], any_ingested_env)

    assert result.exit_code == 0
    status = only_json(result)
    assert {k: status[k] for k in ("articles", "paragraphs", "chunks")} == {"articles": 2, "paragraphs": 25,
                                                                           "chunks": 25}
    assert status["collection"] == any_ingested_env["QA_COLLECTION"]
    assert status["embed_model"] == "all-MiniLM-L6-v2"
    assert status["answerer"] == "extractive"


def test_ask_json_prints_one_answer_citing_the_spokesman_paragraph(any_ingested_env: Env) -> None:
    result = run(["ask", "--json", QUESTION], any_ingested_env)

    assert result.exit_code == 0
    answer = only_json(result)
    assert ANSWER_KEYS <= answer.keys()
    assert isinstance(answer["answer"], str)
    assert answer["answerable"] is True
    assert "Matthew Miller" in answer["answer"]
    assert answer["citations"]
    for citation in answer["citations"]:
        assert CITATION_KEYS <= citation.keys()
        assert citation["quote"] in citation["text"]
    first = answer["citations"][0]
    assert (first["marker"], first["article_id"], first["paragraph"]) == (1, TROOPS, 6)
    assert first["title"].startswith("Macron's remark on deployment of foreign troops")
    assert first["text"].startswith("State Department spokesman Matthew Miller responded to Bloomberg's publication")
    assert "[1]" in answer["answer"]


def test_ask_prints_the_answer_then_its_sources_with_paragraph_numbers(ingested_env: Env) -> None:
    result = run(["ask", QUESTION], ingested_env)

    assert result.exit_code == 0
    answer, sources = result.stdout.split("\n\nSources:\n")
    assert "Matthew Miller" in answer
    assert sources.splitlines()[0] == (
        "  [1] Macron's remark on deployment of foreign troops in Ukraine irks U.S. officials, reports Bloomberg. "
        f"US State Department reacts ({TROOPS}, paragraph 6)"
    )


def test_ask_off_topic_question_is_not_answerable_and_cites_nothing(ingested_env: Env) -> None:
    result = run(["ask", "--json", OFF_TOPIC], ingested_env)

    assert result.exit_code == 0
    answer = only_json(result)
    assert answer["answerable"] is False
    assert answer["citations"] == []
    assert answer["answer"] == REFUSAL
    assert answer["nearest"] == []  # nothing in the corpus shares a word with it


def test_ask_refusal_points_at_the_closest_passages_without_citing_them(ingested_env: Env) -> None:
    answer = only_json(run(["ask", "--json", NEAR_MISS], ingested_env))
    human = run(["ask", NEAR_MISS], ingested_env).stdout

    assert (answer["answerable"], answer["citations"], answer["answer"]) == (False, [], REFUSAL)
    assert 1 <= len(answer["nearest"]) <= 3
    first = answer["nearest"][0]
    assert (first["article_id"], first["paragraph"]) == (TROOPS, 10)
    assert first["quote"].startswith("Slovak Prime Minister Robert Fico stated")
    assert first["quote"] in first["text"]
    assert human.startswith(f"{REFUSAL}\n\nClosest passages (none clearly answers the question):\n")
    assert f"({TROOPS}, paragraph 10)\n      “Slovak Prime Minister Robert Fico stated" in human
    assert "Sources:" not in human


def test_ask_batch_prints_one_json_answer_per_line_for_plain_and_jsonl_lines(ingested_env: Env,
                                                                             tmp_path: Path) -> None:
    batch = tmp_path / "questions.txt"
    batch.write_text(f"{QUESTION}\n\n" + json.dumps({"question": FOLLOW_UP, "history": [QUESTION]}) + "\n",
                     encoding="utf-8")

    result = run(["ask", "--batch", str(batch), "--json"], ingested_env)

    assert result.exit_code == 0
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["question"], first["answerable"]) == (QUESTION, True)
    assert (first["citations"][0]["article_id"], first["citations"][0]["paragraph"]) == (TROOPS, 6)
    assert second["question"] == FOLLOW_UP
    assert second["answerable"] is True
    assert second["query"] != FOLLOW_UP  # resolved against the history
    assert (second["citations"][0]["article_id"], second["citations"][0]["paragraph"]) == (TROOPS, 7)


def test_ask_batch_with_an_invalid_json_line_exits_1_with_one_line(ingested_env: Env, tmp_path: Path) -> None:
    batch = tmp_path / "questions.txt"
    batch.write_text(f"{QUESTION}\n{{not json\n", encoding="utf-8")

    result = run(["ask", "--batch", str(batch), "--json"], ingested_env)

    assert result.exit_code == 1
    assert result.stderr == "error: batch line 2: invalid JSON (Expecting property name enclosed in double quotes)\n"
    assert result.stdout == ""


def test_ask_without_question_or_batch_exits_1(ingested_env: Env) -> None:
    result = run(["ask"], ingested_env)

    assert result.exit_code == 1
    assert result.stderr == 'error: give a question, e.g. qa ask "Who said what?", or --batch FILE\n'


def test_show_prints_every_numbered_paragraph_under_its_section(ingested_env: Env) -> None:
    result = run(["show", TROOPS], ingested_env)

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Macron's remark on deployment of foreign troops")
    assert lines[1] == f"{TROOPS} · {TROOPS}.txt"  # id, then the source file (the article has no date)
    numbers = [int(m.group(1)) for m in re.finditer(r"^\[(\d+)\] ", result.stdout, re.M)]
    assert numbers == list(range(1, 19))
    assert "## State Department reaction" in lines
    assert "## Background" in lines
    assert lines.index("## Background") < lines.index(next(ln for ln in lines if ln.startswith("[9] ")))
    assert next(ln for ln in lines if ln.startswith("[6] ")).startswith("[6] State Department spokesman Matthew Miller")


def test_show_article_and_paragraph_prints_that_paragraph(ingested_env: Env) -> None:
    result = run(["show", f"{ANGRY}:3"], ingested_env)

    assert result.exit_code == 0
    assert result.stdout == (
        f"US angry with Macron – Bloomberg [{ANGRY}:3]\n\n"
        "A senior US official has told the outlet that some in Washington believe Macron might trigger a clash "
        "with Moscow. The French leader’s justification for his statement has been criticized by allies behind "
        "closed doors, according to a report on Wednesday.\n"
    )


def test_show_unknown_article_exits_1(ingested_env: Env) -> None:
    result = run(["show", "nope"], ingested_env)

    assert result.exit_code == 1
    assert result.stderr == "error: no article 'nope' in the store (see `qa status` or `qa show`)\n"
    assert result.stdout == ""


def test_show_paragraph_out_of_range_exits_1(ingested_env: Env) -> None:
    result = run(["show", f"{ANGRY}:99"], ingested_env)

    assert result.exit_code == 1
    assert result.stderr == f"error: {ANGRY} has paragraphs 1-7; got '99'\n"


def test_chat_answers_a_question_and_its_follow_up_from_the_next_paragraph(ingested_env: Env) -> None:
    result = run(["chat"], ingested_env, input=f"{QUESTION}\n{FOLLOW_UP}\n")

    assert result.exit_code == 0
    empty, first, second, last = result.stdout.split("you> ")
    assert (empty, last) == ("", "")
    assert "Matthew Miller" in first
    assert f"({TROOPS}, paragraph 6)" in first
    assert f"({TROOPS}, paragraph 7)" in second
    assert "not going to send any troops to Ukraine" in second
