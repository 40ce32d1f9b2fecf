"""Evaluation reports rendered from hand-built report dicts: Markdown, the self-contained HTML page and
its SVG charts, the files of a run, loading them back, and run-to-run diffs. One test opens a written
report.html in Debian's headless chromium; a missing browser fails it, never skips it."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from headless import launch_chromium

from qa.errors import BadRequest
from qa.evaluation.report import (
    diff_reports,
    load_report,
    render_diff,
    render_html,
    render_markdown,
    write_reports,
)

from playwright.sync_api import Browser

NASTY_QUESTION = "Was <script>alert('x')</script> | the answer\nreally?"


def metric(value: float | None, n: int, ci: list[float] | None = None, **extra: Any) -> dict[str, Any]:
    """Return one metric entry as the harness writes it."""
    return {"value": value, "n": n, "ci95": ci, **extra}


def item(id_: str, **fields: Any) -> dict[str, Any]:
    """Return one report item: an answered, fully supported question unless `fields` say otherwise."""
    base: dict[str, Any] = {
        "id": id_, "question": f"Question {id_}?", "history": [], "answer": f"Answer to {id_} [1].",
        "answerable": True, "expected_answerable": True, "citations": [], "claims": [],
        "faithfulness": 1.0, "citation_recall": 1.0, "citation_precision": 1.0,
        "retrieval_hit": True, "answer_correct": True, "refusal_correct": True, "error": None,
    }
    return base | fields


def claim(text: str, support: float, *, supported: bool, markers: list[int]) -> dict[str, Any]:
    """Return one verified claim citing `markers`."""
    checks = [{"marker": m, "support": support, "supports": supported, "needed": True} for m in markers]
    return {"text": text, "markers": markers, "support": support, "supported": supported, "citations": checks}


def report_of(items: list[dict[str, Any]], **metrics: dict[str, Any]) -> dict[str, Any]:
    """Return a whole report over `items`, with every metric present."""
    names = ("faithfulness", "citation_recall", "citation_precision", "answer_accuracy", "refusal_accuracy")
    values = {name: metric(None, 0) for name in names} | {"retrieval_recall_at_k": metric(None, 0, k=5)}
    return {
        "kind": "run", "created": "2026-11-21T10:00:00Z", "dataset": "eval/datasets/seed.jsonl",
        "system": {"answerer": "extractive", "api": None, "k": 5},
        "verifier": {"name": "offline", "threshold": 0.5},
        "metrics": values | metrics, "items": items,
    }


@pytest.fixture
def report() -> dict[str, Any]:
    """Return a report with a half-supported answer, a refusal, an error and text that needs escaping."""
    citation = {"marker": 1, "article_id": "us-angry-with-macron", "paragraph": 2, "title": "US angry with Macron",
                "quote": "Bloomberg reported it", "text": "Bloomberg reported it on Monday."}
    mixed = item("seed-001", question="Who reported it?", history=["Tell me about Macron."],
                 answer="Bloomberg reported it [1]. Reuters confirmed it [1].", citations=[citation],
                 claims=[claim("Bloomberg reported it.", 0.91, supported=True, markers=[1]),
                         claim("Reuters confirmed it.", 0.12, supported=False, markers=[1])],
                 faithfulness=0.5, citation_precision=0.5)
    refused = item("seed-002", answer="Not in the archive.", answerable=False, expected_answerable=False,
                   faithfulness=None, citation_recall=None, citation_precision=None, retrieval_hit=None,
                   answer_correct=None)
    failed = item("seed-003", answer="", answerable=False, faithfulness=None, citation_recall=None,
                  citation_precision=None, retrieval_hit=None, answer_correct=None, refusal_correct=None,
                  error="LLM endpoint returned 502")
    nasty = item("seed-004", question=NASTY_QUESTION, answer="a | b <b>bold</b>",
                 claims=[claim("x < y & <i>z</i>", 0.8, supported=True, markers=[2])])
    return report_of(
        [mixed, refused, failed, nasty],
        faithfulness=metric(0.75, 2, [0.5, 1.0]), refusal_accuracy=metric(1.0, 1, [1.0, 1.0]),
        retrieval_recall_at_k=metric(0.5, 2, [0.0, 1.0], k=5),
    )


def test_markdown_has_run_facts_and_a_metrics_table_with_intervals_and_n(report: dict[str, Any]) -> None:
    text = render_markdown(report)
    assert text.startswith("# Evaluation report\n")
    assert "| Dataset | eval/datasets/seed.jsonl |" in text
    assert "| Verifier | offline (threshold=0.5) |" in text
    assert "| Metric | Value | 95% interval | n |" in text
    assert "| Faithfulness | 0.750 | 0.500–1.000 | 2 |" in text
    assert "| Retrieval recall@5 | 0.500 | 0.000–1.000 | 2 |" in text
    assert "| Answer accuracy | — | — | 0 |" in text


def test_markdown_has_a_row_per_question_with_verdicts(report: dict[str, Any]) -> None:
    rows = [line for line in render_markdown(report).splitlines() if line.startswith("| seed-")]
    assert len(rows) == 4
    assert "| Who reported it? (after 1 earlier turn) |" in rows[0]
    assert "| 1/2 claims supported | 0.50 | ✓ | ✓ | ✓ |" in rows[0]
    assert "| refused | — | ✓ | – | – |" in rows[1]
    assert "| error: LLM endpoint returned 502 |" in rows[2]


def test_markdown_escapes_pipes_newlines_and_markup_in_cells(report: dict[str, Any]) -> None:
    row = next(line for line in render_markdown(report).splitlines() if line.startswith("| seed-004"))
    assert r"Was \<script\>alert('x')\</script\> \| the answer<br>really?" in row
    assert r"a \| b \<b\>bold\</b\>" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 9  # eight columns, however many pipes the text had


def test_markdown_lists_unsupported_claims_with_their_support(report: dict[str, Any]) -> None:
    text = render_markdown(report)
    section = text.split("## Unsupported claims\n\n", 1)[1]
    assert section == "- **seed-001** Who reported it?\n  - `0.12` Reuters confirmed it. \\[1\\]\n"


def test_reports_note_the_numbers_and_names_a_claims_citations_do_not_bear_out(report: dict[str, Any]) -> None:
    mixed = report["items"][0]
    mixed["claims"][0]["not_in_source"] = ["Tuesday", "2031"]
    mixed["claims"][0]["swapped"] = [["Tuesday", "Monday"]]
    mixed["claims"][0]["negation_flipped"] = True
    mixed["claims"][1]["not_in_source"] = ["Reuters"]
    text = render_markdown(report)
    unsupported = text.split("## Unsupported claims\n\n", 1)[1].split("\n\n## ", 1)[0]
    assert unsupported == ("- **seed-001** Who reported it?\n"
                           "  - `0.12` Reuters confirmed it. \\[1\\] — not in what it cites: Reuters")
    lacking = text.split("## Supported claims to check (a number, name or negation their citations do not bear out)"
                         "\n\n", 1)[1]
    assert lacking == ("- **seed-001** Who reported it?\n"
                       "  - `0.91` Bloomberg reported it. \\[1\\] — not in what it cites: Tuesday, 2031"
                       " — the closest cited sentence has Monday where the claim has Tuesday"
                       " — the closest cited sentence disagrees with the claim on negation\n")
    page = render_html(report)
    assert ('<br><span class="lacking">not in what it cites: Tuesday, 2031</span><br><span class="lacking">the '
            'closest cited sentence has Monday where the claim has Tuesday</span><br><span class="lacking">the '
            'closest cited sentence disagrees with the claim on negation</span></li>') in page
    assert "## Supported claims with" not in render_markdown(report_of([item("q", claims=[
        claim("Bloomberg reported it.", 0.9, supported=True, markers=[1])])]))


def test_reports_show_an_answerable_refusal_with_its_closest_passages(report: dict[str, Any]) -> None:
    near = {"article_id": "macron-troops-remark-irks-us", "paragraph": 8, "title": "Macron's remark",
            "quote": "we work | productively with him", "text": "He added that we work | productively with him."}
    missed = item("seed-005", answer="Not in the archive.", answerable=False, faithfulness=None,
                  citation_recall=None, citation_precision=None, answer_correct=False, refusal_correct=False,
                  nearest=[near | {"holds_answer": True}, near | {"paragraph": 3, "holds_answer": False}])
    bare = item("seed-033", answer="Not in the archive.", answerable=False, refusal_correct=False, nearest=[])
    report["items"] += [missed, bare]

    text = render_markdown(report)
    section = text.split("## Answerable questions refused, with their closest passages (✓ holds the answer)\n\n")[1]
    assert section == ("- **seed-005** Question seed-005?\n"
                       "  - `macron-troops-remark-irks-us:8` ✓ we work \\| productively with him\n"
                       "  - `macron-troops-remark-irks-us:3` ✗ we work \\| productively with him\n"
                       "- **seed-033** Question seed-033? (no passage shares a word with it)\n")
    page = render_html(report)
    assert ('<div class="nearest">Closest passages:<ol class="citations"><li><strong>Macron&#x27;s remark</strong> '
            '<code>macron-troops-remark-irks-us</code> ¶8 <span class="badge ok">holds the answer</span><br>'
            '<q>we work | productively with him</q>') in page
    assert '¶3 <span class="badge none">not the answer</span>' in page
    assert "Answerable questions refused" not in render_markdown(report_of([item("q")]))


def test_markdown_truncates_long_answers_on_a_word() -> None:
    long_answer = "word " * 100
    text = render_markdown(report_of([item("long", answer=long_answer)]))
    row = next(line for line in text.splitlines() if line.startswith("| long"))
    answer = row.split(" | ")[2]
    assert answer.endswith("word…") and len(answer) <= 161


def test_markdown_of_an_empty_report_says_there_are_no_questions() -> None:
    text = render_markdown(report_of([]))
    assert "_No questions in this report._" in text
    assert "| Faithfulness | — | — | 0 |" in text
    assert "Unsupported claims" not in text


def charts(page: str) -> list[str]:
    """Return the opening tags of the page's SVG charts."""
    return re.findall(r"<svg [^>]*>", page)


def test_html_has_three_accessible_svg_charts(report: dict[str, Any]) -> None:
    tags = charts(render_html(report))
    assert len(tags) == 3
    for tag in tags:
        assert 'class="chart"' in tag and 'role="img"' in tag and 'aria-label="' in tag
    assert "interval" in tags[0] and "faithfulness" in tags[1] and "support scores" in tags[2]


def test_html_metric_chart_has_a_bar_and_whisker_per_metric(report: dict[str, Any]) -> None:
    chart = render_html(report).split("<svg ", 2)[1]
    for label in ("Faithfulness", "Citation recall", "Retrieval recall@5", "Refusal accuracy"):
        assert f">{label}</text>" in chart
    assert chart.count("<rect ") == 3  # faithfulness, retrieval, refusal have values; the rest say no data
    assert chart.count("no data") == 3
    assert "Faithfulness: 0.750 (95% interval 0.500–1.000, n=2)" in chart


def test_html_support_histogram_splits_supported_from_unsupported_at_the_threshold(report: dict[str, Any]) -> None:
    chart = render_html(report).split("<svg ", 3)[3]
    assert "supported (2)" in chart and "unsupported (1)" in chart
    assert "threshold 0.50" in chart and 'stroke-dasharray="5 3"' in chart
    assert "0.10–0.15: 1 unsupported" in chart and "0.90–0.95: 1 supported" in chart


def test_html_escapes_all_text(report: dict[str, Any]) -> None:
    page = render_html(report)
    assert "<script" not in page and "<b>bold" not in page and "<i>z" not in page
    assert "Was &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; | the answer\nreally?" in page
    assert "x &lt; y &amp; &lt;i&gt;z&lt;/i&gt;" in page


def test_html_shows_each_claim_verdict_with_score_and_markers(report: dict[str, Any]) -> None:
    page = render_html(report)
    assert '<span class="badge ok">supported 0.91</span> Bloomberg reported it.' in page
    assert '<li class="claim unsupported"><span class="badge bad">unsupported 0.12</span> Reuters confirmed it.' in page
    assert '<span class="badge ok">supported 0.80</span> x &lt; y' in page
    assert 'title="source 1: support 0.12, does not support the claim, needed">[1]</span>' in page


def test_html_shows_history_citations_refusals_and_errors(report: dict[str, Any]) -> None:
    page = render_html(report)
    assert "Earlier turns:<ol><li>Tell me about Macron.</li></ol>" in page
    assert ('<li value="1"><strong>US angry with Macron</strong> <code>us-angry-with-macron</code> ¶2'
            "<br><q>Bloomberg reported it</q>") in page
    assert '<span class="badge bad">refused</span><p>Not in the archive.</p>' in page
    assert '<tr class="error">' in page and "LLM endpoint returned 502" in page


def test_html_is_self_contained(report: dict[str, Any]) -> None:
    page = render_html(report)
    for outside in ("<script", "<link", "src=", "@import", "url(", "@font-face"):
        assert outside not in page


def test_html_of_an_empty_report_still_draws_its_charts() -> None:
    page = render_html(report_of([]))
    assert len(charts(page)) == 3
    assert page.count(">no scores</text>") == 2
    assert "No questions in this report." in page


def test_html_of_thousands_of_items_draws_no_chart_per_item() -> None:
    items = [item(f"q{i}", claims=[claim(f"claim {i}", (i % 100) / 100, supported=i % 100 >= 50, markers=[1])])
             for i in range(3000)]
    page = render_html(report_of(items))
    assert len(charts(page)) == 3
    assert page.count("<tr class=\"item\">") == 3000
    assert "supported (1500)" in page and "unsupported (1500)" in page


def test_write_reports_writes_json_markdown_and_html(report: dict[str, Any], tmp_path: Path) -> None:
    report["items"][0]["question"] = "Qui a dit « non » ?"
    out = tmp_path / "runs" / "2026-11-21"
    paths = write_reports(report, out)
    assert paths == [out / "report.json", out / "report.md", out / "report.html"]
    raw = paths[0].read_text(encoding="utf-8")
    assert "« non »" in raw and raw.startswith('{\n  "kind": "run",')
    assert json.loads(raw) == report
    assert paths[1].read_text(encoding="utf-8") == render_markdown(report)
    assert paths[2].read_text(encoding="utf-8") == render_html(report)


def test_load_report_reads_a_run_directory_or_its_report_file(report: dict[str, Any], tmp_path: Path) -> None:
    write_reports(report, tmp_path)
    assert load_report(tmp_path) == report
    assert load_report(tmp_path / "report.json") == report


def test_load_report_of_a_missing_path_names_it(tmp_path: Path) -> None:
    with pytest.raises(BadRequest) as caught:
        load_report(tmp_path / "nowhere")
    assert str(caught.value) == f"{tmp_path / 'nowhere'}: no such report or run directory"
    with pytest.raises(BadRequest) as caught:
        load_report(tmp_path)
    assert str(caught.value) == f"{tmp_path}: no report.json in this run directory"


def test_load_report_of_bad_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text('{"metrics": {', encoding="utf-8")
    with pytest.raises(BadRequest, match=re.escape(f"{path}: not a report (invalid JSON at line 1")):
        load_report(tmp_path)


@pytest.mark.parametrize("content", ['{"items": []}', '[1, 2]', '{"metrics": [], "items": []}'])
def test_load_report_of_json_that_is_not_a_report_names_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "other.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BadRequest) as caught:
        load_report(path)
    assert str(caught.value) == f'{path}: not a report (expected a JSON object with "metrics" and "items")'


def test_diff_reports_gives_metric_deltas_and_nulls(report: dict[str, Any]) -> None:
    later = copy.deepcopy(report)
    later["metrics"]["faithfulness"] = metric(0.9, 2, [0.8, 1.0])
    later["metrics"]["answer_accuracy"] = metric(0.5, 2, [0.0, 1.0])
    metrics = diff_reports(report, later)["metrics"]
    assert list(metrics)[:3] == ["faithfulness", "citation_recall", "citation_precision"]
    assert metrics["faithfulness"]["a"] == 0.75 and metrics["faithfulness"]["b"] == 0.9
    assert metrics["faithfulness"]["delta"] == pytest.approx(0.15)
    assert metrics["answer_accuracy"] == {"a": None, "b": 0.5, "delta": None}
    assert metrics["refusal_accuracy"] == {"a": 1.0, "b": 1.0, "delta": 0.0}


def test_diff_reports_finds_changed_questions_and_unmatched_ids(report: dict[str, Any]) -> None:
    later = copy.deepcopy(report)
    first, refused, failed, _ = later["items"]
    first.update(claims=[claim("Bloomberg reported it.", 0.9, supported=True, markers=[1])], faithfulness=1.0,
                 retrieval_hit=False)
    refused.update(answer="Bloomberg.", answerable=True, refusal_correct=False, faithfulness=1.0)
    later["items"] = [first, refused, failed, item("seed-005")]
    diff = diff_reports(report, later)
    assert diff["only_in_a"] == ["seed-004"] and diff["only_in_b"] == ["seed-005"]
    assert diff["changed"] == [
        {"id": "seed-001", "question": "Who reported it?", "a": "answered, 1 unsupported claim; retrieval hit",
         "b": "answered, faithful; retrieval miss", "faithfulness_a": 0.5, "faithfulness_b": 1.0},
        {"id": "seed-002", "question": "Question seed-002?", "a": "refused; refusal correct",
         "b": "answered, no claims checked; refusal wrong", "faithfulness_a": None, "faithfulness_b": 1.0},
    ]


def test_diff_reports_ignores_faithfulness_changes_within_tolerance(report: dict[str, Any]) -> None:
    later = copy.deepcopy(report)
    later["items"][0]["faithfulness"] = 0.5 + 1e-12
    assert diff_reports(report, later)["changed"] == []
    later["items"][0]["faithfulness"] = 0.6
    assert [c["id"] for c in diff_reports(report, later)["changed"]] == ["seed-001"]


def test_diff_reports_says_which_error_a_question_failed_with() -> None:
    before = report_of([item("q1")])
    after = report_of([item("q1", answerable=False, faithfulness=None, error="timed out after 30 s")])
    (change,) = diff_reports(before, after)["changed"]
    assert (change["a"], change["b"]) == ("answered, no claims checked", "error: timed out after 30 s")


def test_render_diff_prints_signed_deltas_and_changed_questions(report: dict[str, Any]) -> None:
    later = copy.deepcopy(report)
    later["metrics"]["faithfulness"] = metric(0.7, 2, [0.5, 0.9])
    later["metrics"]["refusal_accuracy"] = metric(1.0, 1, [1.0, 1.0])
    later["items"][0].update(retrieval_hit=False)
    later["items"].append(item("seed-005"))
    text = render_diff(diff_reports(report, later), name_a="base", name_b="candidate")
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "base", "candidate", "delta"]
    assert lines[1].split() == ["faithfulness", "0.750", "0.700", "-0.050"]
    assert "refusal_accuracy 1.000 1.000 +0.000" in [" ".join(line.split()) for line in lines]
    assert "answer_accuracy n/a n/a n/a" in [" ".join(line.split()) for line in lines]
    assert "1 question changed:" in lines
    assert "  seed-001  Who reported it?" in lines
    assert "    base       answered, 1 unsupported claim; retrieval hit  (faithfulness 0.500)" in lines
    assert "    candidate  answered, 1 unsupported claim; retrieval miss  (faithfulness 0.500)" in lines
    assert lines[-1] == "Only in candidate (1): seed-005"


def test_render_diff_of_identical_reports_says_nothing_changed(report: dict[str, Any]) -> None:
    text = render_diff(diff_reports(report, report), name_a="a", name_b="b")
    assert "0 questions changed." in text.splitlines()
    assert "Only in" not in text


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Yield headless system chromium."""
    yield from launch_chromium()


def test_report_page_shows_its_charts_in_a_real_browser_without_fetching_anything(
        chromium: Browser, report: dict[str, Any], tmp_path: Path) -> None:
    html_path = write_reports(report, tmp_path)[2]
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(html_path.as_uri())
        svgs = page.locator("svg.chart")
        assert svgs.count() == 3
        for index in range(3):
            svg = svgs.nth(index)
            svg.scroll_into_view_if_needed()
            box = svg.bounding_box()
            assert svg.is_visible() and box is not None and box["width"] > 300 and box["height"] > 100
        bar = svgs.nth(0).locator("rect").first.bounding_box()
        assert bar is not None and bar["width"] > 50 and bar["height"] > 5
        assert page.get_by_role("img", name="Histogram of per-answer faithfulness").is_visible()
        assert page.locator("table.questions tbody tr").count() == 4
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    finally:
        page.close()
    assert requests == [html_path.as_uri()]
    assert errors == []
