"""The HTML evaluation report: one self-contained page with inline SVG charts; pure.

Nothing is fetched and nothing runs: the charts are SVG drawn here, so they show with JavaScript off.
Every chart summarises all items at once (one bar per metric, fixed bins), so the page grows linearly
with the number of questions. The readers of the report dict that the Markdown rendering shares
(metric order, run facts, claim tallies, number formats) live here too, so imports point one way:
report -> charts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

METRICS = (
    ("faithfulness", "Faithfulness"),
    ("citation_recall", "Citation recall"),
    ("citation_precision", "Citation precision"),
    ("retrieval_recall_at_k", "Retrieval recall@k"),
    ("answer_accuracy", "Answer accuracy"),
    ("refusal_accuracy", "Refusal accuracy"),
)
KINDS = {"run": "our pipeline answered the questions", "score": "answers supplied by another system, scored here"}
BAR, OK, BAD, INK, GRID, MUTED = "#4c78a8", "#2f9e6e", "#d1495b", "#1f2328", "#e1e4e8", "#656d76"

# interval chart geometry (SVG user units)
I_WIDTH, I_LEFT, I_RIGHT, I_TOP, I_ROW, I_BOTTOM = 720, 170, 130, 10, 30, 30
# histogram geometry
H_WIDTH, H_HEIGHT, H_LEFT, H_RIGHT, H_TOP, H_BOTTOM = 520, 260, 44, 16, 36, 44

STYLE = """
:root{color-scheme:light;--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--ok:#1a7f37;--bad:#cf222e;
--okbg:#dafbe1;--badbg:#ffebe9;--warnbg:#fff8c5;--warn:#7d4e00}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--fg);background:#fff}
main{max-width:1280px;margin:0 auto;padding:24px}
h1{font-size:1.6rem;margin:0 0 12px}
h2{font-size:1.2rem;margin:32px 0 12px;padding-bottom:4px;border-bottom:1px solid var(--line)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.charts{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
figure{margin:0;flex:1 1 420px;max-width:720px}
figcaption{font-weight:600;margin-bottom:6px}
svg.chart{display:block;width:100%;height:auto;font:12px system-ui,sans-serif}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} table.questions th{position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.metrics{max-width:720px;margin-top:16px}
td p{margin:0 0 6px;white-space:pre-wrap;overflow-wrap:anywhere}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.muted,.history{color:var(--muted);font-size:13px} ol,ul{margin:4px 0;padding-left:20px}
.citations li,.claims li{margin-bottom:6px;font-size:13px}
.nearest{color:var(--muted);font-size:13px} .nearest ol{list-style:disc}
.claims ul{list-style:none;padding:0} .claim{padding:2px 6px;border-left:3px solid var(--ok)}
.lacking{font-size:12px;color:var(--warn)}
.claim.unsupported{border-left-color:var(--bad);background:var(--badbg)}
.badge{display:inline-block;padding:0 7px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.ok{background:var(--okbg);color:var(--ok)} .bad{background:var(--badbg);color:var(--bad)}
.warn{background:var(--warnbg);color:var(--warn)} .none{color:var(--muted)}
.marker{font-weight:600;font-variant-numeric:tabular-nums} .marker.no{color:var(--bad)} q{font-style:italic}
details summary{cursor:pointer;color:var(--muted);font-size:12px}
tr.error td{background:#fffbf0}
dl.scores{display:grid;grid-template-columns:1fr auto;gap:0 10px;margin:0;font-size:13px}
dl.scores dt{color:var(--muted);white-space:nowrap} dl.scores dd{margin:0;text-align:right}
"""


def metric_rows(metrics: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """Return (name, label, metric) for every metric: the known ones in order, then any others."""
    labels = dict(METRICS)
    names = [name for name, _ in METRICS if name in metrics] + [n for n in metrics if n not in labels]
    rows = []
    for name in names:
        metric = metrics.get(name) or {}
        label = labels.get(name, name.replace("_", " ").capitalize())
        if name == "retrieval_recall_at_k" and metric.get("k") is not None:
            label = f"Retrieval recall@{metric['k']}"
        rows.append((name, label, metric))
    return rows


def number(value: Any) -> float | None:
    """Return `value` as a finite float, or None when it is missing, a bool or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def interval(ci: Any) -> tuple[float, float] | None:
    """Return a metric's 95% interval as (low, high), or None when it is missing or incomplete."""
    if not isinstance(ci, (list, tuple)) or len(ci) != 2:
        return None
    low, high = number(ci[0]), number(ci[1])
    return None if low is None or high is None else (low, high)


def format_score(value: Any, digits: int = 3) -> str:
    """Return a score with `digits` decimals, or an em dash when there is none."""
    score = number(value)
    return "—" if score is None else f"{score:.{digits}f}"


def format_interval(ci: Any) -> str:
    """Return a 95% interval as "low–high", or an em dash when there is none."""
    bounds = interval(ci)
    return "—" if bounds is None else f"{bounds[0]:.3f}–{bounds[1]:.3f}"


def describe_settings(settings: Mapping[str, Any]) -> str:
    """Return free-form settings as "key=value, ..." (JSON for nested values), or an em dash."""
    def show(value: Any) -> str:
        if value is None:
            return "none"
        return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)

    return ", ".join(f"{key}={show(value)}" for key, value in settings.items()) or "—"


def run_facts(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (label, text) pairs saying what was run: kind, dataset, system, verifier, created, questions."""
    items = report.get("items") or []
    errors = sum(1 for item in items if item.get("error"))
    kind = report.get("kind")
    verifier = dict(report.get("verifier") or {})
    name = verifier.pop("name", None) or "—"
    return [
        ("Kind", f"{kind} — {KINDS.get(kind, 'unknown kind')}"),
        ("Dataset", str(report.get("dataset") or "—")),
        ("System", describe_settings(report.get("system") or {})),
        ("Verifier", f"{name} ({describe_settings(verifier)})" if verifier else name),
        ("Created", str(report.get("created") or "—")),
        ("Questions", f"{len(items)}" + (f" ({errors} could not be answered)" if errors else "")),
    ]


def claim_tally(item: Mapping[str, Any]) -> tuple[int, int]:
    """Return (supported, total) claims of one item."""
    claims = item.get("claims") or []
    return sum(1 for claim in claims if claim.get("supported") is True), len(claims)


def summarize_item(item: Mapping[str, Any]) -> str:
    """Return a short verdict on one item: its error, "refused", or how many claims are supported."""
    if item.get("error"):
        return f"error: {item['error']}"
    if not item.get("answerable"):
        return "refused"
    supported, total = claim_tally(item)
    return f"{supported}/{total} claims supported" if total else "answered, no claims"


def interval_chart(metrics: Mapping[str, Any]) -> str:
    """Return an SVG chart with one horizontal bar per metric and its 95% interval as a whisker."""
    rows = metric_rows(metrics)
    height = I_TOP + max(len(rows), 1) * I_ROW + I_BOTTOM
    parts = [_svg_open(I_WIDTH, height, "Metric values with 95% bootstrap intervals, on a 0 to 1 scale")]
    plot_bottom = I_TOP + max(len(rows), 1) * I_ROW
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x = _ix(tick)
        parts.append(f'<line x1="{x}" y1="{I_TOP}" x2="{x}" y2="{plot_bottom}" stroke="{GRID}"/>'
                     f'<text x="{x}" y="{plot_bottom + 16}" text-anchor="middle" fill="{MUTED}">{tick:g}</text>')
    parts += [_interval_row(i, label, metric) for i, (_, label, metric) in enumerate(rows)]
    if not rows:
        parts.append(_centered(I_LEFT + (I_WIDTH - I_LEFT - I_RIGHT) / 2, I_TOP + I_ROW / 2, "no metrics"))
    return "".join(parts) + "</svg>"


def _ix(value: float) -> float:
    return round(I_LEFT + min(max(value, 0.0), 1.0) * (I_WIDTH - I_LEFT - I_RIGHT), 1)


def _interval_row(index: int, label: str, metric: Mapping[str, Any]) -> str:
    mid = I_TOP + index * I_ROW + I_ROW / 2
    value, bounds, n = number(metric.get("value")), interval(metric.get("ci95")), metric.get("n", 0)
    tip = f"{label}: {format_score(value)} (95% interval {format_interval(bounds)}, n={n})"
    parts = [f"<g><title>{escape(tip)}</title>",
             f'<text x="{I_LEFT - 8}" y="{mid}" text-anchor="end" dominant-baseline="middle">{escape(label)}</text>']
    if value is not None:
        parts.append(f'<rect x="{I_LEFT}" y="{mid - 8}" width="{_ix(value) - I_LEFT}" height="16" rx="2" '
                     f'fill="{BAR}" fill-opacity="0.85"/>')
    if bounds is not None:
        low, high = _ix(bounds[0]), _ix(bounds[1])
        parts.append(f'<path d="M{low} {mid}H{high}M{low} {mid - 6}V{mid + 6}M{high} {mid - 6}V{mid + 6}" '
                     f'stroke="{INK}" stroke-width="1.5" fill="none"/>')
    shown = f"{format_score(value)} · n={n}" if value is not None else f"no data · n={n}"
    parts.append(f'<text x="{I_WIDTH - I_RIGHT + 10}" y="{mid}" dominant-baseline="middle">{escape(shown)}</text></g>')
    return "".join(parts)


def histogram_chart(series: Sequence[tuple[str, Sequence[float], str]], *, label: str, x_label: str,
                    bins: int = 10, threshold: float | None = None) -> str:
    """Return an SVG histogram over [0, 1] of stacked series, each (name, values, colour)."""
    counts = [_bin_counts(values, bins) for _, values, _ in series]
    totals = [sum(column) for column in zip(*counts)] if counts else [0] * bins
    top = max(max(totals, default=0), 1)
    parts = [_svg_open(H_WIDTH, H_HEIGHT, label), *_histogram_axes(top, x_label)]
    for index, ((name, _, colour), column_counts) in enumerate(zip(series, counts)):
        below = [sum(c[b] for c in counts[:index]) for b in range(bins)]
        parts += _histogram_bars(name, colour, column_counts, below=below, top=top)
    if number(threshold) is not None:
        x = _hx(threshold)
        parts.append(f'<line x1="{x}" y1="{H_TOP - 4}" x2="{x}" y2="{H_HEIGHT - H_BOTTOM}" stroke="{INK}" '
                     f'stroke-width="1.5" stroke-dasharray="5 3"/><text x="{x + 4}" y="{H_TOP + 8}">'
                     f"threshold {threshold:.2f}</text>")
    parts += _legend(series, counts)
    if not any(totals):
        parts.append(_centered(H_LEFT + (H_WIDTH - H_LEFT - H_RIGHT) / 2, H_TOP + 70, "no scores"))
    return "".join(parts) + "</svg>"


def _bin_counts(values: Sequence[float], bins: int) -> list[int]:
    counts = [0] * bins
    for value in values:
        score = number(value)
        if score is not None:
            counts[min(max(int(score * bins), 0), bins - 1)] += 1
    return counts


def _hx(value: float) -> float:
    return round(H_LEFT + min(max(value, 0.0), 1.0) * (H_WIDTH - H_LEFT - H_RIGHT), 1)


def _hy(count: float, top: int) -> float:
    plot = H_HEIGHT - H_TOP - H_BOTTOM
    return round(H_HEIGHT - H_BOTTOM - count / top * plot, 1)


def _histogram_axes(top: int, x_label: str) -> list[str]:
    left, right, base = H_LEFT, H_WIDTH - H_RIGHT, H_HEIGHT - H_BOTTOM
    parts = []
    for count in sorted({0, (top + 1) // 2, top}):
        y = _hy(count, top)
        parts.append(f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="{GRID}"/>'
                     f'<text x="{left - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" '
                     f'fill="{MUTED}">{count}</text>')
    for tick in (0, 0.2, 0.4, 0.6, 0.8, 1):
        parts.append(f'<text x="{_hx(tick)}" y="{base + 16}" text-anchor="middle" fill="{MUTED}">{tick:g}</text>')
    parts.append(f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="{INK}"/>'
                 f'<text x="{(left + right) / 2}" y="{H_HEIGHT - 6}" text-anchor="middle">{escape(x_label)}</text>')
    return parts


def _histogram_bars(name: str, colour: str, counts: list[int], *, below: list[int], top: int) -> list[str]:
    bins, parts = len(counts), []
    width = (H_WIDTH - H_LEFT - H_RIGHT) / bins
    for index, count in enumerate(counts):
        if not count:
            continue
        y_top, y_bottom = _hy(below[index] + count, top), _hy(below[index], top)
        tip = f"{index / bins:.2f}–{(index + 1) / bins:.2f}: {count} {name}"
        parts.append(f'<rect x="{round(H_LEFT + index * width + 1, 1)}" y="{y_top}" width="{round(width - 2, 1)}" '
                     f'height="{round(y_bottom - y_top, 1)}" fill="{colour}"><title>{escape(tip)}</title></rect>')
    return parts


def _legend(series: Sequence[tuple[str, Sequence[float], str]], counts: list[list[int]]) -> list[str]:
    parts, x = [], H_LEFT
    for (name, _, colour), column_counts in zip(series, counts):
        text = f"{name} ({sum(column_counts)})"
        parts.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="13" dominant-baseline="middle">{escape(text)}</text>')
        x += 24 + 7 * len(text)
    return parts


def _svg_open(width: int, height: int, label: str) -> str:
    return (f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" fill="{INK}">'
            f"<title>{escape(label)}</title>")


def _centered(x: float, y: float, text: str) -> str:
    return f'<text x="{x}" y="{y}" text-anchor="middle" fill="{MUTED}">{escape(text)}</text>'


def render_html(report: Mapping[str, Any]) -> str:
    """Return the report as one self-contained HTML page: run facts, metric and score charts, every question."""
    items = report.get("items") or []
    metrics = report.get("metrics") or {}
    facts = "".join(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>" for label, text in run_facts(report))
    title = f"Evaluation report — {report.get('dataset') or 'no dataset'}"
    return "".join([
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head>\n<body><main>\n<h1>Evaluation report</h1>"
        f'<dl class="facts">{facts}</dl>\n',
        f'<h2>Metrics</h2>\n<figure><figcaption>Metrics with 95% bootstrap intervals</figcaption>'
        f"{interval_chart(metrics)}</figure>\n{_metrics_table(metrics)}\n",
        _distributions(items, threshold=number((report.get("verifier") or {}).get("threshold"))),
        _questions(items),
        "</main></body></html>\n",
    ])


def _metrics_table(metrics: Mapping[str, Any]) -> str:
    rows = "".join(
        f'<tr><td>{escape(label)}</td><td class="num">{format_score(m.get("value"))}</td>'
        f'<td class="num">{format_interval(m.get("ci95"))}</td><td class="num">{escape(str(m.get("n", 0)))}</td></tr>'
        for _, label, m in metric_rows(metrics)
    )
    return ('<table class="metrics"><thead><tr><th>Metric</th><th>Value</th><th>95% interval</th><th>n</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>")


def _distributions(items: Sequence[Mapping[str, Any]], *, threshold: float | None) -> str:
    faithfulness = [item.get("faithfulness") for item in items]
    claims = [claim for item in items for claim in item.get("claims") or []]
    supported = [c.get("support") for c in claims if c.get("supported") is True]
    unsupported = [c.get("support") for c in claims if c.get("supported") is False]
    answers = histogram_chart([("answers", faithfulness, BAR)], bins=10, x_label="faithfulness of the answer",
                              label="Histogram of per-answer faithfulness")
    support = histogram_chart([("supported", supported, OK), ("unsupported", unsupported, BAD)], bins=20,
                              threshold=threshold, x_label="support score of the claim",
                              label="Histogram of per-claim support scores, supported and unsupported, "
                                    "with the verifier threshold")
    return ('<h2>Score distributions</h2>\n<div class="charts">'
            f"<figure><figcaption>Faithfulness per answer</figcaption>{answers}</figure>"
            f"<figure><figcaption>Support score per claim</figcaption>{support}</figure></div>\n")


def _questions(items: Sequence[Mapping[str, Any]]) -> str:
    head = ("<h2>Questions</h2>\n<table class=\"questions\"><thead><tr><th>Question</th><th>Answer and citations</th>"
            "<th>Claims</th><th>Scores</th></tr></thead><tbody>\n")
    if not items:
        return head + '<tr><td colspan="4" class="muted">No questions in this report.</td></tr></tbody></table>\n'
    rows = (f'<tr class="{"error" if item.get("error") else "item"}">{_question_cell(item)}{_answer_cell(item)}'
            f"{_claims_cell(item)}{_scores_cell(item)}</tr>\n" for item in items)
    return head + "".join(rows) + "</tbody></table>\n"


def _question_cell(item: Mapping[str, Any]) -> str:
    history = item.get("history") or []
    earlier = "".join(f"<li>{escape(str(turn))}</li>" for turn in history)
    turns = f'<div class="history">Earlier turns:<ol>{earlier}</ol></div>' if history else ""
    return f'<td><code>{escape(str(item.get("id")))}</code><p>{escape(str(item.get("question") or ""))}</p>{turns}</td>'


def _answer_cell(item: Mapping[str, Any]) -> str:
    if item.get("error"):
        badge = '<span class="badge warn">error</span>'
        return f'<td>{badge}<p>{escape(str(item["error"]))}</p></td>'
    answered = bool(item.get("answerable"))
    badge = f'<span class="badge {"ok" if answered else "bad"}">{"answered" if answered else "refused"}</span>'
    citations = "".join(_citation(c) for c in item.get("citations") or [])
    listed = f'<ol class="citations">{citations}</ol>' if citations else ""
    nearest = "".join(_citation(p, badge=_holds_badge(p)) for p in item.get("nearest") or [])
    if nearest:
        listed += f'<div class="nearest">Closest passages:<ol class="citations">{nearest}</ol></div>'
    return f'<td>{badge}<p>{escape(str(item.get("answer") or ""))}</p>{listed}</td>'


def _holds_badge(passage: Mapping[str, Any]) -> str:
    """Return whether a refusal's closest passage holds the expected answer, as a badge ('' if unknown)."""
    holds = passage.get("holds_answer")
    if holds is None:
        return ""
    return ' <span class="badge ok">holds the answer</span>' if holds else ' <span class="badge none">not the answer</span>'


def _citation(citation: Mapping[str, Any], *, badge: str = "") -> str:
    def field(key: str) -> str:
        value = citation.get(key)
        return "" if value is None else escape(str(value))

    paragraph = f"<details><summary>paragraph</summary>{field('text')}</details>" if citation.get("text") else ""
    value = f' value="{field("marker")}"' if citation.get("marker") is not None else ""
    return (f'<li{value}><strong>{field("title")}</strong> <code>{field("article_id")}</code> '
            f'¶{field("paragraph")}{badge}<br><q>{field("quote")}</q>{paragraph}</li>')


def _claims_cell(item: Mapping[str, Any]) -> str:
    claims = item.get("claims") or []
    if not claims:
        shown = "—" if item.get("error") else summarize_item(item)
        return f'<td class="claims muted">{escape(shown)}</td>'
    rows = []
    for claim in claims:
        verdict = {True: "supported", False: "unsupported"}.get(claim.get("supported"), "not checked")
        badge = {"supported": "ok", "unsupported": "bad"}.get(verdict, "none")
        rows.append(f'<li class="claim {verdict.replace(" ", "-")}"><span class="badge {badge}">{verdict} '
                    f'{format_score(claim.get("support"), 2)}</span> {escape(str(claim.get("text") or ""))} '
                    f"{_markers(claim)}{_lacking(claim)}</li>")
    return f'<td class="claims"><span class="muted">{escape(summarize_item(item))}</span><ul>{"".join(rows)}</ul></td>'


def _lacking(claim: Mapping[str, Any]) -> str:
    """Return the notes on the claim's numbers and names that its citations do not bear out, if any."""
    return "".join(f'<br><span class="lacking">{escape(note)}</span>' for note in claim_notes(claim))


def claim_notes(claim: Mapping[str, Any]) -> list[str]:
    """Return the reader's notes on a claim: what its cited sentence contradicts (the verdict's
    reason), numbers and names its citations never mention, those where the closest cited sentence
    has another, and a negation that sentence does not share."""
    notes = [f"contradicted ({claim['contradiction']}): {claim['reason']}"] if claim.get("reason") else []
    if claim.get("not_in_source"):
        notes.append("not in what it cites: " + ", ".join(claim["not_in_source"]))
    for mine, theirs in claim.get("swapped") or []:
        notes.append(f"the closest cited sentence has {theirs} where the claim has {mine}")
    if claim.get("negation_flipped"):
        notes.append("the closest cited sentence disagrees with the claim on negation")
    return notes


def _markers(claim: Mapping[str, Any]) -> str:
    checks = {c.get("marker"): c for c in claim.get("citations") or []}
    parts = []
    for marker in claim.get("markers") or []:
        check = checks.get(marker, {})
        tip = (f"source {marker}: support {format_score(check.get('support'), 2)}, "
               f"{'supports' if check.get('supports') else 'does not support'} the claim"
               f"{', needed' if check.get('needed') else ''}")
        if not check:
            tip = f"source {marker}: not checked"
        kind = "ok" if check.get("supports") else "no" if check else "unchecked"
        parts.append(f'<span class="marker {kind}" title="{escape(tip)}">[{escape(str(marker))}]</span>')
    return "".join(parts)


def _scores_cell(item: Mapping[str, Any]) -> str:
    def verdict(value: Any, yes: str, no: str) -> str:
        if value is None:
            return '<span class="none">—</span>'
        return f'<span class="badge {"ok" if value else "bad"}">{yes if value else no}</span>'

    rows = [
        ("faithfulness", format_score(item.get("faithfulness"), 2)),
        ("citation recall", format_score(item.get("citation_recall"), 2)),
        ("citation precision", format_score(item.get("citation_precision"), 2)),
        ("retrieval", verdict(item.get("retrieval_hit"), "hit", "miss")),
        ("answer", verdict(item.get("answer_correct"), "correct", "wrong")),
        ("refusal", verdict(item.get("refusal_correct"), "correct", "wrong")),
    ]
    return '<td><dl class="scores">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl></td>"
