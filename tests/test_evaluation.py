"""The evaluation harness: datasets, claim verdicts (ALCE recall and precision), metrics, and `qa eval`
run in-process and against a real server, score, diff and the SQuAD converter."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from html import escape
from pathlib import Path

import pytest
from cli_runner import env_for, reuse_model, run
from fake_llm import FAKE_MODEL, running_fake_llm
from live_server import serving

from qa.contradiction import UNDECIDED, Verdict
from qa.errors import BadRequest
from qa.evaluation.dataset import load_answers, load_dataset
from qa.evaluation.metrics import bootstrap_interval, contains_any, summarize
from qa.evaluation.scoring import is_refusal, score_answer
from qa.evaluation.squad import convert_squad

ROOT = Path(__file__).resolve().parent.parent
SEED_SET = ROOT / "eval" / "datasets" / "seed.jsonl"
TROOPS = "macron-troops-remark-irks-us"


@pytest.fixture(scope="module", autouse=True)
def _one_model_load(embedder) -> Iterator[None]:
    yield from reuse_model(embedder)


class WordJudge:
    """A deterministic judge for the verdict logic: a claim is supported when every one of its
    words longer than three letters occurs in the passages."""

    name = "words"
    threshold = 0.5

    def claims(self, sentence: str) -> list[str]:
        return [sentence]

    def support_many(self, pairs: Sequence[tuple[str, Sequence[str]]]) -> list[float]:
        out = []
        for claim, passages in pairs:
            words = {w.strip(".,").lower() for w in claim.split() if len(w.strip(".,")) > 3}
            text = " ".join(passages).lower()
            out.append(float(bool(words) and all(w in text for w in words)))
        return out

    def assess_many(self, pairs: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[float, Verdict]]:
        return [(score, Verdict(UNDECIDED)) for score in self.support_many(pairs)]


def write_lines(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


# datasets --------------------------------------------------------------------------------------------

def test_the_shipped_seed_set_loads_with_answerable_unanswerable_and_follow_ups() -> None:
    questions = load_dataset(SEED_SET)
    assert len(questions) >= 40
    assert sum(q.answerable is False for q in questions) >= 8
    assert sum(bool(q.history) for q in questions) >= 6


@pytest.mark.parametrize(("line", "reason"), [
    ("{not json", "invalid JSON"),
    ('["a list"]', "expected a JSON object"),
    ('{"question": "Who?", "answerable": true}', "'id' must be a non-empty string"),
    ('{"id": "q1", "question": "Who?", "answerable": "yes"}', "'answerable' must be true or false"),
    ('{"id": "q1", "question": "Who?", "history": "earlier"}', "'history' must be a list of strings"),
])
def test_a_malformed_dataset_line_is_named_with_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = write_lines(tmp_path / "set.jsonl", [{"id": "q0", "question": "What?", "answerable": True}, "", line])
    with pytest.raises(BadRequest, match=rf"set.jsonl:3: {reason}"):
        load_dataset(path)


def test_a_repeated_id_and_an_empty_file_are_refused(tmp_path: Path) -> None:
    twice = write_lines(tmp_path / "twice.jsonl", [{"id": "q", "question": "A?"}, {"id": "q", "question": "B?"}])
    with pytest.raises(BadRequest, match="id 'q' appears twice"):
        load_dataset(twice)
    with pytest.raises(BadRequest, match="no lines to evaluate"):
        load_dataset(write_lines(tmp_path / "empty.jsonl", []))
    with pytest.raises(BadRequest, match="no such file"):
        load_dataset(tmp_path / "missing.jsonl")


def test_answers_need_a_string_answer_and_string_contexts(tmp_path: Path) -> None:
    bad = write_lines(tmp_path / "a.jsonl", [{"id": "a", "question": "Q?", "answer": "x", "contexts": [1]}])
    with pytest.raises(BadRequest, match="a.jsonl:1: 'contexts' must be a list of strings"):
        load_answers(bad)


# verdicts --------------------------------------------------------------------------------------------

PASSAGES = {1: "Matthew Miller is the State Department spokesman.", 2: "Bloomberg reported the story on Monday.",
            3: "The weather in Paris was mild."}


def test_each_claim_lists_the_numbers_and_names_its_citations_never_mention() -> None:
    score = score_answer("Bloomberg reported the story on Friday, 12 May [2]. Matthew Miller is the spokesman [1].",
                         PASSAGES, judge=WordJudge())
    assert [c.not_in_source for c in score.claims] == [["Friday", "12", "May"], []]
    assert [c.swapped for c in score.claims] == [[], []]  # "on Monday" holds no name: nothing swapped
    assert score_answer("Matthew Miller said it [3].", PASSAGES, judge=WordJudge()).claims[0].not_in_source == ["Matthew", "Miller"]


def test_a_claim_copying_a_cited_sentence_with_one_figure_or_name_changed_says_which() -> None:
    passages = {1: "Matthew Miller, the State Department spokesman, spoke on March 5. Antony Blinken spoke on March 12."}
    score = score_answer("Matthew Miller, the State Department spokesman, spoke on March 12 [1]. "
                         "Antony Blinken, the State Department spokesman, spoke on March 5 [1].", passages, judge=WordJudge())
    assert [c.not_in_source for c in score.claims] == [[], []]  # every figure and name is somewhere in the source
    assert [c.swapped for c in score.claims] == [[("12", "5")], [("Antony Blinken", "Matthew Miller")]]
    assert [c.negation_flipped for c in score.claims] == [False, False]


def test_a_claim_turning_a_cited_sentence_around_is_noted() -> None:
    passages = {1: "Matthew Miller said the United States is not going to send any troops to Ukraine."}
    score = score_answer("Matthew Miller said the United States is going to send troops to Ukraine [1]. "
                         "Matthew Miller said the United States is not going to send troops to Ukraine [1].",
                         passages, judge=WordJudge())
    assert [c.negation_flipped for c in score.claims] == [True, False]


def test_a_claim_its_citation_supports_is_faithful_recalled_and_precise() -> None:
    score = score_answer("Matthew Miller is the spokesman [1].", PASSAGES, judge=WordJudge())
    assert (score.faithfulness, score.citation_recall, score.citation_precision) == (1.0, 1.0, 1.0)
    assert score.claims[0].markers == [1]


def test_an_irrelevant_extra_citation_costs_precision_not_recall() -> None:
    score = score_answer("Bloomberg reported the story [2][3].", PASSAGES, judge=WordJudge())
    assert score.citation_recall == 1.0
    assert score.citation_precision == 0.5
    verdicts = {c.marker: (c.supports, c.needed) for c in score.claims[0].citations}
    assert verdicts == {2: (True, True), 3: (False, False)}


def test_two_citations_needed_together_are_both_precise() -> None:
    score = score_answer("Matthew Miller and Bloomberg reported [1][2].", PASSAGES, judge=WordJudge())
    assert score.citation_recall == 1.0
    assert score.citation_precision == 1.0
    assert [c.needed for c in score.claims[0].citations] == [True, True]


def test_an_unsupported_claim_has_no_recall_and_no_precise_citation() -> None:
    score = score_answer("Matthew Miller resigned on Friday [1]. Bloomberg reported the story [2].", PASSAGES,
                         judge=WordJudge())
    assert score.faithfulness == 0.5
    assert score.citation_recall == 0.5
    assert score.citation_precision == 0.5
    assert [c.supported for c in score.claims] == [False, True]


def test_an_uncited_claim_is_checked_against_every_passage_but_has_no_recall() -> None:
    score = score_answer("Bloomberg reported the story.", PASSAGES, judge=WordJudge())
    assert score.faithfulness == 1.0
    assert score.citation_recall == 0.0
    assert score.citation_precision is None


def test_a_marker_pointing_at_no_passage_supports_nothing() -> None:
    score = score_answer("Bloomberg reported the story [7].", PASSAGES, judge=WordJudge())
    assert (score.faithfulness, score.citation_recall, score.citation_precision) == (0.0, 0.0, 0.0)


def test_refusals_are_recognised_and_have_no_claims() -> None:
    assert is_refusal("The corpus does not contain an answer to this question.")
    assert is_refusal("  ")
    assert not is_refusal("It was not mentioned until Monday [1].")
    assert score_answer("", PASSAGES, judge=WordJudge()).faithfulness is None


# metrics ---------------------------------------------------------------------------------------------

def test_metrics_leave_out_what_was_not_scored_and_carry_a_bootstrap_interval() -> None:
    items = [{"faithfulness": 1.0, "refusal_correct": True}, {"faithfulness": 0.5, "refusal_correct": False},
             {"faithfulness": None, "refusal_correct": True}]
    metrics = summarize(items, k=5)
    assert metrics["faithfulness"]["value"] == 0.75
    assert metrics["faithfulness"]["n"] == 2
    low, high = metrics["refusal_accuracy"]["ci95"]
    assert low <= 2 / 3 <= high
    assert metrics["answer_accuracy"] == {"value": None, "n": 0, "ci95": None}
    assert metrics["retrieval_recall_at_k"]["k"] == 5
    assert bootstrap_interval([1.0] * 10) == [1.0, 1.0]


def test_expected_answers_match_whole_words_regardless_of_case_and_punctuation() -> None:
    assert contains_any("It was reported by Bloomberg [1].", ["bloomberg"])
    assert contains_any("Miller said: “we work productively with him”", ["work productively with him"])
    assert not contains_any("Bloombergs reported", ["Bloomberg"])


# qa eval -----------------------------------------------------------------------------------------------

def test_eval_run_on_the_seed_set_writes_three_reports_with_every_metric(ingested, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run(["eval", "run", "--dataset", str(SEED_SET), "--out", str(out)], env_for(ingested.settings))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "report.md"]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    metrics = report["metrics"]
    assert report["kind"] == "run" and report["verifier"]["name"] == "offline"
    assert len(report["items"]) == len(load_dataset(SEED_SET))
    assert metrics["refusal_accuracy"]["value"] >= 0.9
    assert metrics["retrieval_recall_at_k"]["value"] >= 0.9
    assert metrics["faithfulness"]["value"] >= 0.9  # extractive answers quote what they cite
    assert all(m["n"] > 0 and m["ci95"][0] <= m["value"] <= m["ci95"][1] for m in metrics.values())
    answered = next(i for i in report["items"] if i["answerable"])
    assert answered["claims"] and {"text", "support", "supported", "citations"} <= answered["claims"][0].keys()
    assert answered["nearest"] == []
    refused = [i for i in report["items"] if not i["answerable"]]
    assert any(i["nearest"] for i in refused)  # near misses point at where to look
    assert all(set(p) == {"article_id", "paragraph", "title", "quote", "text", "holds_answer"}
               for i in refused for p in i["nearest"])
    assert all(p["holds_answer"] is None for i in refused if i["expected_answerable"] is False for p in i["nearest"])
    assert "faithfulness" in result.output


def test_eval_run_against_a_real_server_matches_the_in_process_run(ingested, tmp_path: Path) -> None:
    dataset = write_lines(tmp_path / "few.jsonl", [json.loads(l) for l in SEED_SET.read_text().splitlines()[:6]]
                          + [{"id": "long", "question": "x" * 5000, "answerable": False}])
    env = env_for(ingested.settings)
    local = run(["eval", "run", "--dataset", str(dataset), "--out", str(tmp_path / "local")], env)
    assert local.exit_code == 0, local.output
    with serving(ingested) as url:
        remote = run(["eval", "run", "--dataset", str(dataset), "--out", str(tmp_path / "remote"), "--api", url], env)
    assert remote.exit_code == 0, remote.output
    a, b = (json.loads((tmp_path / name / "report.json").read_text()) for name in ("local", "remote"))
    assert [i["answer"] for i in a["items"]] == [i["answer"] for i in b["items"]]
    assert b["items"][-1]["error"].endswith("answered 422: messages[0].content: 5000 characters; the limit is 4000")
    assert "1 question(s) could not be answered" in remote.output
    assert b["system"]["api"] == url


def test_eval_run_against_an_unreachable_server_says_so_in_one_line(tmp_path: Path) -> None:
    result = run(["eval", "run", "--dataset", str(SEED_SET), "--out", str(tmp_path), "--api", "http://127.0.0.1:9"], {})
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot reach http://127.0.0.1:9: ConnectError")


def test_eval_score_and_diff_compare_another_systems_answers(tmp_path: Path, ingested) -> None:
    contexts = ["Matthew Miller, the State Department spokesman, said he did not have any reaction.",
                "Bloomberg reported that U.S. officials were angry with Macron."]
    good = {"id": "q1", "question": "Who responded?", "contexts": contexts, "expected_answer": ["Matthew Miller"],
            "expected_answerable": True, "answer": "Matthew Miller, the State Department spokesman, responded [1]."}
    bad = {**good, "answer": "Antony Blinken, the Secretary of State, responded [1]."}
    refused = {"id": "q2", "question": "Who won?", "contexts": contexts, "expected_answerable": False,
               "answer": "I don't know."}
    env = env_for(ingested.settings)
    for name, rows in (("good", [good, refused]), ("bad", [bad, refused])):
        result = run(["eval", "score", "--answers", str(write_lines(tmp_path / f"{name}.jsonl", rows)),
                      "--out", str(tmp_path / name)], env)
        assert result.exit_code == 0, result.output
    good_report = json.loads((tmp_path / "good" / "report.json").read_text())
    bad_report = json.loads((tmp_path / "bad" / "report.json").read_text())
    assert good_report["items"][0]["faithfulness"] > bad_report["items"][0]["faithfulness"]
    assert good_report["metrics"]["refusal_accuracy"]["value"] == 1.0
    assert bad_report["metrics"]["answer_accuracy"]["value"] == 0.0
    compared = run(["eval", "diff", str(tmp_path / "good"), str(tmp_path / "bad"), "--json"], env)
    changed = json.loads(compared.output)["changed"]
    assert [c["id"] for c in changed] == ["q1"]


def test_eval_score_judges_with_the_verifiers_own_model_when_answers_embed_elsewhere(tmp_path: Path) -> None:
    answer = {"id": "q1", "question": "Who responded?", "answer": "Matthew Miller responded [1].",
              "contexts": ["Matthew Miller, the State Department spokesman, said he did not have any reaction."]}
    answers = write_lines(tmp_path / "answers.jsonl", [answer])
    scores = []
    for env in ({}, {"QA_EMBED_MODEL": "text-embedding-3-small", "QA_EMBED_BASE_URL": "http://127.0.0.1:9/v1"}):
        out = tmp_path / str(len(scores))
        result = run(["eval", "score", "--answers", str(answers), "--out", str(out)], env)
        assert result.exit_code == 0, result.output  # the unreachable endpoint is never asked
        scores.append(json.loads((out / "report.json").read_text())["items"][0]["claims"][0]["support"])
    assert scores[0] == pytest.approx(scores[1], abs=1e-6)


def test_eval_diff_of_a_folder_without_a_report_names_it(tmp_path: Path) -> None:
    result = run(["eval", "diff", str(tmp_path), str(tmp_path)], {})
    assert result.exit_code == 1
    assert str(tmp_path) in result.output


# the LLM judge ------------------------------------------------------------------------------------------

def judge_script(messages: list[dict]) -> str:
    """Split "A and B." into two claims; call a claim supported when its passages hold its last word."""
    prompt = messages[-1]["content"]
    if prompt.startswith("Split the sentence"):
        sentence = prompt.rsplit("Sentence: ", 1)[1].strip().rstrip(".")
        return "\n".join(f"- {part.strip()}." for part in sentence.split(" and "))
    claim = prompt.split("Claim: ", 1)[1].split("\n", 1)[0].strip().rstrip(".")
    passages = prompt.split("Passages:", 1)[1].split("Claim: ", 1)[0]
    return "SUPPORTED" if claim.split()[-1] in passages else "NOT_SUPPORTED"


def test_the_llm_judge_splits_claims_and_verifies_each_through_the_endpoint(tmp_path: Path) -> None:
    answers = write_lines(tmp_path / "answers.jsonl", [{
        "id": "q1", "question": "What happened?", "contexts": ["Miller spoke in Washington."],
        "answer": "Miller spoke in Washington and Macron visited Berlin [1]."}])
    with running_fake_llm(judge_script) as llm:
        env = {"QA_JUDGE_BASE_URL": llm.base_url, "QA_JUDGE_MODEL": FAKE_MODEL}
        result = run(["eval", "score", "--answers", str(answers), "--out", str(tmp_path / "out"), "--judge", "llm"], env)
    assert result.exit_code == 0, result.output
    item = json.loads((tmp_path / "out" / "report.json").read_text())["items"][0]
    assert [(c["text"], c["supported"]) for c in item["claims"]] == [
        ("Miller spoke in Washington.", True), ("Macron visited Berlin.", False)]
    assert item["faithfulness"] == 0.5
    assert any("[1] Miller spoke in Washington." in r["messages"][-1]["content"] for r in llm.requests)
    assert all(r["model"] == FAKE_MODEL for r in llm.requests)


def test_the_llm_judge_without_an_endpoint_says_which_setting_is_missing(tmp_path: Path) -> None:
    answers = write_lines(tmp_path / "answers.jsonl", [{"id": "q1", "question": "Q?", "answer": "A [1].",
                                                        "contexts": ["A."]}])
    result = run(["eval", "score", "--answers", str(answers), "--out", str(tmp_path), "--judge", "llm"], {})
    assert result.exit_code == 1
    assert result.output == "error: QA_JUDGE_BASE_URL (or QA_LLM_BASE_URL): required by the LLM judge\n"


# SQuAD ---------------------------------------------------------------------------------------------------

def test_squad_conversion_gives_the_addresses_the_corpus_loader_gives(tmp_path: Path) -> None:
    data = {"data": [{"title": "Super_Bowl_50", "paragraphs": [
        {"context": "Super Bowl 50 was an American football game. The Denver Broncos won it.",
         "qas": [{"id": "a1", "question": "Who won Super Bowl 50?",
                  "answers": [{"text": "Denver Broncos", "answer_start": 49}]}]},
        {"context": "The game was played on February 7, 2016, at Levi's Stadium.",
         "qas": [{"id": "a2", "question": "Where was it played?",
                  "answers": [{"text": "Levi's Stadium", "answer_start": 44}]}]}]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert convert_squad(path, tmp_path / "out", sample=None) == (1, 2)
    rows = {q.id: q for q in load_dataset(tmp_path / "out" / "dataset.jsonl")}
    assert rows["a1"].expected_paragraphs == ["super-bowl-50:1"]
    assert rows["a1"].expected_quotes == ["The Denver Broncos won it."]
    assert rows["a2"].expected_paragraphs == ["super-bowl-50:2"]
    assert rows["a2"].expected_answer == ["Levi's Stadium"]
    assert (tmp_path / "out" / "corpus" / "super-bowl-50.txt").read_text().startswith("Super Bowl 50\n\n")


def test_squad_conversion_of_a_file_that_is_not_squad_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"version": 2}', encoding="utf-8")
    with pytest.raises(BadRequest, match="other.json: not a SQuAD v1.1 file"):
        convert_squad(path, tmp_path / "out")


# structural verdicts through `qa eval score` ------------------------------------------------------------

ALTERED_ANSWERS = ROOT / "eval" / "datasets" / "altered_answers.jsonl"


def test_eval_score_marks_each_hand_altered_answer_unsupported_with_its_reason(tmp_path: Path) -> None:
    result = run(["eval", "score", "--answers", str(ALTERED_ANSWERS), "--out", str(tmp_path)], {})
    assert result.exit_code == 0, result.output
    items = {item["id"]: item for item in json.loads((tmp_path / "report.json").read_text())["items"]}
    markdown = (tmp_path / "report.md").read_text()
    html = (tmp_path / "report.html").read_text()
    unsupported = markdown.split("## Unsupported claims", 1)[1]
    altered = [key for key in items if "-altered-" in key]
    assert len(altered) == 10 and len(items) == 20
    for key in altered:
        (claim,) = items[key]["claims"]
        kind = key.rsplit("-", 1)[1]
        assert (claim["supported"], claim["contradiction"]) == (False, kind), key
        assert claim["reason"].startswith(("the cited sentence", "the claim adds"))
        assert f"contradicted ({kind}): {claim['reason']}" in unsupported.replace("\\", "")
        assert escape(claim["reason"]) in html
    for key in items.keys() - set(altered):
        assert items[key]["faithfulness"] == 1.0 and items[key]["claims"][0]["reason"] == "", key
