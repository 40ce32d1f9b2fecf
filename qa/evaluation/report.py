"""Evaluation reports: Markdown and HTML renderings, the files of a run, and run-to-run diffs.

Everything here is pure except write_reports and load_report, the two edges that touch files. The
HTML page and its SVG charts live in qa.evaluation.charts; render_html is re-exported so callers take
every rendering from this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from qa.errors import BadRequest
from qa.evaluation.charts import (
    claim_notes,
    claim_tally,
    format_interval,
    format_score,
    metric_rows,
    number,
    render_html,
    run_facts,
    summarize_item,
)

__all__ = ["diff_reports", "load_report", "render_diff", "render_html", "render_markdown", "write_reports"]

ANSWER_CHARS = 160
ERROR_CHARS = 60
FAITHFULNESS_TOLERANCE = 1e-9
DIFF_FIELDS = ("answerable", "faithfulness", "answer_correct", "refusal_correct", "retrieval_hit", "error")
# an outcome flag that flipped between runs is spelled out in both verdicts: (true, false, null)
FLAGS = {
    "answer_correct": ("answer correct", "answer wrong", "answer not judged"),
    "refusal_correct": ("refusal correct", "refusal wrong", "refusal not judged"),
    "retrieval_hit": ("retrieval hit", "retrieval miss", "retrieval not judged"),
}
REPORT_FILE = "report.json"
_MD_SPECIAL = re.compile(r"([\\`*|<>])")
_NEWLINE = re.compile(r"\r\n|\r|\n")


def render_markdown(report: Mapping[str, Any]) -> str:
    """Return the report as Markdown: what was run, a metrics table, a per-question table, unsupported
    claims, supported claims with a number, name or negation their citations do not bear out, and
    answerable questions that were refused, with the closest passages the refusal pointed at."""
    items = report.get("items") or []
    facts = "\n".join(f"| {label} | {_cell(text)} |" for label, text in run_facts(report))
    sections = [
        "# Evaluation report",
        "| | |\n|---|---|\n" + facts,
        "## Metrics\n\n" + _markdown_metrics(report.get("metrics") or {}),
        "## Questions\n\n" + _markdown_items(items),
    ]
    unsupported = _markdown_claims(items, lambda c: c.get("supported") is False)
    if unsupported:
        sections.append("## Unsupported claims\n\n" + unsupported)
    lacking = _markdown_claims(items, lambda c: c.get("supported") is True and bool(claim_notes(c)))
    if lacking:
        sections.append("## Supported claims to check (a number, name or negation their citations do not bear out)\n\n"
                        + lacking)
    refused = _markdown_refused(items)
    if refused:
        sections.append("## Answerable questions refused, with their closest passages (✓ holds the answer)\n\n"
                        + refused)
    return "\n\n".join(sections) + "\n"


def _cell(text: Any) -> str:
    """Escape text for a Markdown table cell: pipes and markup characters, newlines as <br>."""
    return _NEWLINE.sub("<br>", _MD_SPECIAL.sub(r"\\\1", str(text)))


def _inline(text: Any) -> str:
    """Escape text for one Markdown line (a list item): markup characters, whitespace collapsed."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _truncate(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.6:  # end on a word unless that throws away too much
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _mark(value: Any) -> str:
    return "–" if value is None else "✓" if value else "✗"


def _markdown_metrics(metrics: Mapping[str, Any]) -> str:
    rows = [f"| {_cell(label)} | {format_score(m.get('value'))} | {format_interval(m.get('ci95'))} | {m.get('n', 0)} |"
            for _, label, m in metric_rows(metrics)]
    return "\n".join(["| Metric | Value | 95% interval | n |", "|---|---:|:---:|---:|", *rows])


def _markdown_items(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return "_No questions in this report._"
    lines = ["| id | Question | Answer | Verdict | Faithfulness | Refusal | Answer correct | Retrieval |",
             "|---|---|---|---|---:|:---:|:---:|:---:|"]
    for item in items:
        question = str(item.get("question") or "")
        turns = len(item.get("history") or [])
        if turns:
            question += f" (after {turns} earlier turn{'s' if turns > 1 else ''})"
        answer = "" if item.get("error") else _truncate(str(item.get("answer") or ""), ANSWER_CHARS)
        cells = [item.get("id"), question, answer, summarize_item(item)]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + f" | {format_score(item.get('faithfulness'), 2)} | "
                     f"{_mark(item.get('refusal_correct'))} | {_mark(item.get('answer_correct'))} | "
                     f"{_mark(item.get('retrieval_hit'))} |")
    return "\n".join(lines)


def _markdown_refused(items: Sequence[Mapping[str, Any]]) -> str:
    """Return the questions expected to be answerable that were refused, each with its closest passages."""
    blocks = []
    for item in items:
        if item.get("error") or item.get("answerable") or item.get("expected_answerable") is False:
            continue
        lines = [f"- **{_inline(item.get('id'))}** {_inline(item.get('question') or '')}"]
        for passage in item.get("nearest") or []:
            address = f"{passage.get('article_id')}:{passage.get('paragraph')}"
            lines.append(f"  - `{_inline(address)}` {_mark(passage.get('holds_answer'))} "
                         f"{_inline(_truncate(str(passage.get('quote') or ''), ANSWER_CHARS))}")
        if len(lines) == 1:
            lines[0] += " (no passage shares a word with it)"
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _markdown_claims(items: Sequence[Mapping[str, Any]], chosen: Callable[[Mapping[str, Any]], bool]) -> str:
    """Return the `chosen` claims under their questions, each with its support and any note."""
    blocks = []
    for item in items:
        claims = [c for c in item.get("claims") or [] if chosen(c)]
        if not claims:
            continue
        lines = [f"- **{_inline(item.get('id'))}** {_inline(item.get('question') or '')}"]
        for claim in claims:
            markers = "".join(f"\\[{_inline(m)}\\]" for m in claim.get("markers") or [])
            note = "".join(f" — {_inline(n)}" for n in claim_notes(claim))
            lines.append(f"  - `{format_score(claim.get('support'), 2)}` {_inline(claim.get('text') or '')} {markers}"
                         .rstrip() + note)
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def write_reports(report: Mapping[str, Any], out: Path) -> list[Path]:
    """Write report.json, report.md and report.html into `out` (created with its parents); return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    contents = [
        (out / REPORT_FILE, json.dumps(report, indent=2, ensure_ascii=False) + "\n"),
        (out / "report.md", render_markdown(report)),
        (out / "report.html", render_html(report)),
    ]
    for path, text in contents:
        path.write_text(text, encoding="utf-8")
    return [path for path, _ in contents]


def load_report(path: Path) -> dict[str, Any]:
    """Return the report in a run directory or a report.json; raise BadRequest naming the path if there is none."""
    file = path / REPORT_FILE if path.is_dir() else path
    if not file.is_file():
        raise BadRequest(f"{path}: no {REPORT_FILE} in this run directory" if path.is_dir()
                         else f"{path}: no such report or run directory")
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadRequest(f"{file}: cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{file}: not a report (not UTF-8 text)") from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(f"{file}: not a report (invalid JSON at line {exc.lineno}: {exc.msg})") from exc
    if not (isinstance(report, dict) and isinstance(report.get("metrics"), dict)
            and isinstance(report.get("items"), list)):
        raise BadRequest(f'{file}: not a report (expected a JSON object with "metrics" and "items")')
    return report


def diff_reports(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Return metric deltas from `a` to `b`, the questions whose outcome changed, and ids only one report has."""
    items_a = {item.get("id"): item for item in a.get("items") or []}
    items_b = {item.get("id"): item for item in b.get("items") or []}
    changed = []
    for key, item_a in items_a.items():
        fields = _changed_fields(item_a, items_b[key]) if key in items_b else []
        if fields:
            changed.append(_change(item_a, items_b[key], fields))
    return {
        "metrics": _metric_deltas(a.get("metrics") or {}, b.get("metrics") or {}),
        "changed": changed,
        "only_in_a": [key for key in items_a if key not in items_b],
        "only_in_b": [key for key in items_b if key not in items_a],
    }


def _metric_deltas(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, dict[str, float | None]]:
    names = [name for name, _, _ in metric_rows({**a, **b})]
    deltas = {}
    for name in names:
        x, y = number((a.get(name) or {}).get("value")), number((b.get(name) or {}).get("value"))
        deltas[name] = {"a": x, "b": y, "delta": None if x is None or y is None else y - x}
    return deltas


def _changed_fields(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    def differs(field: str) -> bool:
        x, y = a.get(field), b.get(field)
        if field == "faithfulness" and number(x) is not None and number(y) is not None:
            return abs(x - y) > FAITHFULNESS_TOLERANCE
        return x != y

    return [field for field in DIFF_FIELDS if differs(field)]


def _change(a: Mapping[str, Any], b: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
    flipped = [field for field in fields if field in FLAGS]
    return {
        "id": a.get("id"), "question": b.get("question") or a.get("question"),
        "a": _verdict(a, flipped), "b": _verdict(b, flipped),
        "faithfulness_a": a.get("faithfulness"), "faithfulness_b": b.get("faithfulness"),
    }


def _verdict(item: Mapping[str, Any], flipped: list[str]) -> str:
    if item.get("error"):
        base = f"error: {_truncate(str(item['error']), ERROR_CHARS)}"
    elif not item.get("answerable"):
        base = "refused"
    else:
        supported, total = claim_tally(item)
        unsupported = sum(1 for c in item.get("claims") or [] if c.get("supported") is False)
        if unsupported:
            base = f"answered, {unsupported} unsupported claim{'s' if unsupported > 1 else ''}"
        else:
            base = "answered, faithful" if total and supported == total else "answered, no claims checked"
    flags = [FLAGS[field][0 if item.get(field) else 2 if item.get(field) is None else 1] for field in flipped]
    return "; ".join([base, *flags])


def render_diff(diff: Mapping[str, Any], *, name_a: str, name_b: str) -> str:
    """Return a diff as terminal text: metrics with signed deltas, then the changed questions and unmatched ids."""
    lines = _diff_metrics(diff.get("metrics") or {}, name_a=name_a, name_b=name_b)
    changed = diff.get("changed") or []
    lines += ["", f"{len(changed)} question{'' if len(changed) == 1 else 's'} changed" + (":" if changed else ".")]
    width = max([len(name_a), len(name_b)])
    for change in changed:
        lines.append(f"  {change.get('id')}  {_truncate(str(change.get('question') or ''), 90)}")
        for side, name in (("a", name_a), ("b", name_b)):
            faithfulness = _plain(change.get(f"faithfulness_{side}"))
            lines.append(f"    {name:<{width}}  {change.get(side)}  (faithfulness {faithfulness})")
    for key, name in (("only_in_a", name_a), ("only_in_b", name_b)):
        ids = diff.get(key) or []
        if ids:
            lines.append(f"Only in {name} ({len(ids)}): " + ", ".join(str(i) for i in ids))
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> str:
    score = number(value)
    return "n/a" if score is None else f"{score:.3f}"


def _diff_metrics(metrics: Mapping[str, Any], *, name_a: str, name_b: str) -> list[str]:
    label = max([len("metric"), *(len(name) for name in metrics)])
    a_width, b_width = max(len(name_a), 6), max(len(name_b), 6)
    lines = [f"{'metric':<{label}}  {name_a:>{a_width}}  {name_b:>{b_width}}  {'delta':>7}"]
    for name, row in metrics.items():
        delta = number(row.get("delta"))
        shown = "n/a" if delta is None else f"{delta:+.3f}"
        lines.append(f"{name:<{label}}  {_plain(row.get('a')):>{a_width}}  {_plain(row.get('b')):>{b_width}}  "
                     f"{shown:>7}")
    return lines
