"""Validation of the support verifier against human labels, next to two baselines.

The data directory holds expertqa_claims.jsonl (expert-judged answer claims with the evidence they
cite) and frank_summaries.jsonl (CNN/DM and XSum summaries with FRANK factuality labels); see its
README. For each set (ExpertQA, FRANK CNN/DM, FRANK XSum) and each scorer, the decision threshold is
the one maximising balanced accuracy on the set's dev split; balanced accuracy at that threshold and
ROC-AUC are reported on its test split. The baselines are the share of the claim's content terms found
in the source (overlap) and the best MiniLM cosine between the claim and one source sentence.

Test figures carry 95% bootstrap intervals (test items resampled BOOTSTRAP_SAMPLES times), and the
verifier's ROC-AUC minus each baseline's carries a paired interval (the same resamples for both), so
a difference can be told from the noise of a test split of a few hundred claims.

validate() returns {"data_dir", "verifier": {"threshold", "fitted_on", "embed_model"}, "seconds", "sets":
{set: {"n", "n_dev", "positive_share", "scorers": {scorer: {"threshold", "balanced_accuracy",
"balanced_accuracy_ci95", "roc_auc", "roc_auc_ci95"}}, "verifier_vs": {baseline: {"roc_auc_delta",
"ci95"}}}}} for the sets in SETS and the scorers in SCORERS; a figure is None when a split lacks one
class.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.contradiction import ClaimChecker
from qa.errors import CorpusError
from qa.evaluation.metrics import BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED
from qa.evaluation.features import read_source
from qa.evaluation.verifier import SupportVerifier, embed_texts
from qa.terms import terms

FILES = ("expertqa_claims.jsonl", "frank_summaries.jsonl")
SETS = {"expertqa": "ExpertQA", "frank_cnndm": "FRANK CNN/DM", "frank_xsum": "FRANK XSum (extra)"}
SCORERS = {"verifier": "verifier", "overlap": "content-word overlap", "minilm_cosine": "MiniLM max-sentence cosine"}
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class Example:
    """One human judgement: does `passages` support `claim` (label 1) or not (0)."""

    set: str
    split: str
    claim: str
    passages: tuple[str, ...]
    label: int


def load_examples(data_dir: Path) -> list[Example]:
    """Return the labelled examples of both files in `data_dir`, or raise CorpusError."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise CorpusError(f"{data_dir}: not a directory of faithfulness data")
    examples: list[Example] = []
    for name in FILES:
        path = data_dir / name
        if not path.is_file():
            raise CorpusError(f"{path}: missing; expected {' and '.join(FILES)}")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                examples.append(_example(_record(line, where=f"{path}:{number}"), where=f"{path}:{number}"))
    return examples


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Return the ROC-AUC of `scores` for binary `labels` (ties count half), or None with one class."""
    y, s = np.asarray(labels), np.asarray(scores, dtype=float)
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if not positives or not negatives:
        return None
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]  # mid-ranks of tied scores
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def balanced_accuracy(labels: Sequence[int], predicted: Sequence[bool]) -> float | None:
    """Return the mean of the recalls of both classes, or None with one class."""
    y, p = np.asarray(labels), np.asarray(predicted, dtype=bool)
    if y.all() or not y.any():
        return None
    return float((p[y == 1].mean() + (~p[y == 0]).mean()) / 2.0)


def tune_threshold(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Return the score threshold (predict supported at >=) maximising balanced accuracy, lowest on ties."""
    y, s = np.asarray(labels), np.asarray(scores, dtype=float)
    if y.all() or not y.any():
        return None
    candidates = np.unique(s)
    predicted = s[None, :] >= candidates[:, None]
    recall_pos = predicted[:, y == 1].mean(axis=1)
    recall_neg = (~predicted[:, y == 0]).mean(axis=1)
    return float(candidates[int(np.argmax(recall_pos + recall_neg))])


def overlap_scores(examples: Sequence[Example]) -> list[float]:
    """Return per example the share of the claim's content terms present in its passages."""
    scores = []
    for example in examples:
        claim = set(terms(example.claim))
        source = set(terms(" ".join(example.passages)))
        scores.append(len(claim & source) / len(claim) if claim else 0.0)
    return scores


def cosine_scores(examples: Sequence[Example], *, embedder) -> list[float]:
    """Return per example the best MiniLM cosine between the claim and one sentence of its passages."""
    sources = {key: read_source(key).sentences for key in dict.fromkeys(e.passages for e in examples)}
    vectors = embed_texts(embedder, [e.claim for e in examples] + [s for v in sources.values() for s in v])
    scores = []
    for example in examples:
        sentences = sources[example.passages]
        if not sentences or not example.claim.strip():
            scores.append(0.0)
            continue
        matrix = np.array([vectors[s] for s in sentences])
        scores.append(float((matrix @ vectors[example.claim]).max()))
    return scores


def validate(data_dir: Path, *, embedder, checker: ClaimChecker, weights: dict | None = None) -> dict:
    """Return, per set, test balanced accuracy (dev-tuned threshold) and ROC-AUC of the verifier with
    `weights` (the shipped ones by default) and its structural verdicts (`checker`), and of both
    baselines, with n and positive share; `embedder` runs the weights' model and serves the cosine
    baseline too. Raise CorpusError when the data cannot be used."""
    started = time.monotonic()
    examples = [e for e in load_examples(data_dir) if e.set in SETS and e.split in SPLITS]
    memo = _MemoEmbedder(embedder)
    verifier = SupportVerifier(memo, checker=checker, weights=weights)
    scores = {
        "verifier": verifier.support_many([(e.claim, e.passages) for e in examples]),
        "overlap": overlap_scores(examples),
        "minilm_cosine": cosine_scores(examples, embedder=memo),
    }
    report_sets = {name: _set_report(name, examples, scores) for name in SETS}
    return {
        "data_dir": str(data_dir),
        "verifier": {"threshold": verifier.threshold, "fitted_on": verifier.weights.get("fitted_on"),
                     "embed_model": verifier.weights["embed_model"]},
        "sets": report_sets,
        "seconds": round(time.monotonic() - started, 1),
    }


def render_validation(report: dict) -> str:
    """Return the validation report as a markdown table, one row per set."""
    header = ["set", "n test", "supported"] + [f"{name} {metric}" for name in SCORERS for metric in ("BAcc", "AUC")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, figures in report["sets"].items():
        cells = [SETS.get(name, name), str(figures["n"]), _number(figures["positive_share"])]
        for scorer in SCORERS:
            result = figures["scorers"][scorer]
            cells += [_number(result["balanced_accuracy"]), _number(result["roc_auc"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"BAcc at the threshold maximising dev balanced accuracy per set and scorer; test split; "
                 f"{report['seconds']:.0f} s.")
    baselines = [name for name in SCORERS if name != "verifier"]
    lines += ["", "| set | " + " | ".join(f"verifier AUC − {SCORERS[b]} [95% paired interval]" for b in baselines) + " |",
              "|" + "---|" * (len(baselines) + 1)]
    for name, figures in report["sets"].items():
        cells = [SETS.get(name, name)]
        for baseline in baselines:
            delta = figures["verifier_vs"].get(baseline)
            cells.append("-" if delta is None else f"{delta['roc_auc_delta']:+.3f} {_span(delta['ci95'])}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Intervals: test claims resampled with replacement; a paired interval that excludes 0 "
                  "is a difference the test split can tell."]
    return "\n".join(lines)


class _MemoEmbedder:
    """The embedder behind a text -> vector memo, so the verifier and the cosine baseline embed each
    source sentence once."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.vectors: dict[str, list[float]] = {}

    def get_text_embedding_batch(self, texts: list[str], **kwargs) -> list[list[float]]:
        """Return the vectors of `texts`, running the model only on texts not seen before."""
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.embedder.get_text_embedding_batch(missing, **kwargs)))
        return [self.vectors[t] for t in texts]


def _set_report(name: str, examples: Sequence[Example], scores: dict[str, list[float]]) -> dict:
    """Return one set's n, positive share, each scorer's dev-tuned test figures with their intervals,
    and the verifier's paired ROC-AUC differences from the baselines."""
    split = {s: [i for i, e in enumerate(examples) if e.set == name and e.split == s] for s in SPLITS}
    dev_labels = [examples[i].label for i in split["dev"]]
    labels = np.array([examples[i].label for i in split["test"]], dtype=int)
    resamples = _resamples(labels)
    figures: dict[str, dict] = {}
    aucs: dict[str, np.ndarray] = {}
    for scorer, values in scores.items():
        threshold = tune_threshold(dev_labels, [values[i] for i in split["dev"]])
        test = np.array([values[i] for i in split["test"]], dtype=float)
        aucs[scorer] = np.array([roc_auc(labels[r], test[r]) for r in resamples], dtype=float)
        figures[scorer] = {"threshold": threshold, "balanced_accuracy": None, "balanced_accuracy_ci95": None,
                           "roc_auc": roc_auc(labels, test), "roc_auc_ci95": _interval(aucs[scorer])}
        if threshold is not None and len(resamples):
            predicted = test >= threshold
            figures[scorer]["balanced_accuracy"] = balanced_accuracy(labels, predicted)
            figures[scorer]["balanced_accuracy_ci95"] = _interval(
                np.array([balanced_accuracy(labels[r], predicted[r]) for r in resamples], dtype=float))
    versus = {}
    for baseline in SCORERS:
        if baseline != "verifier" and figures["verifier"]["roc_auc"] is not None:
            versus[baseline] = {"roc_auc_delta": figures["verifier"]["roc_auc"] - figures[baseline]["roc_auc"],
                                "ci95": _interval(aucs["verifier"] - aucs[baseline])}
    return {
        "n": len(labels), "n_dev": len(dev_labels),
        "positive_share": float(labels.mean()) if len(labels) else None,
        "scorers": figures, "verifier_vs": versus,
    }


def _resamples(labels: np.ndarray) -> list[np.ndarray]:
    """Return the bootstrap resamples of the test items, each holding both classes (none without both)."""
    if not 0 < labels.sum() < len(labels):
        return []
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    drawn = (rng.integers(0, len(labels), size=len(labels)) for _ in range(BOOTSTRAP_SAMPLES))
    return [r for r in drawn if 0 < labels[r].sum() < len(r)]


def _interval(values: np.ndarray) -> list[float] | None:
    """Return the 2.5th and 97.5th percentiles of bootstrap figures, or None without any."""
    if not len(values):
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return [float(low), float(high)]


def _record(line: str, *, where: str) -> dict:
    try:
        record = json.loads(line)
    except ValueError:
        raise CorpusError(f"{where}: not a JSON object") from None
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: not a JSON object")
    return record


def _example(record: dict, *, where: str) -> Example:
    """Return the Example a record of either file describes, or raise CorpusError naming the field."""
    source_field = "evidence" if "evidence" in record else "source"
    for field in ("split", "claim", source_field, "label"):
        if field not in record:
            raise CorpusError(f"{where}: missing field {field!r}")
    if record["label"] not in (0, 1) or isinstance(record["label"], bool):
        raise CorpusError(f"{where}: label must be 0 or 1, not {record['label']!r}")
    if not all(isinstance(record[f], str) for f in ("split", "claim", source_field)):
        raise CorpusError(f"{where}: split, claim and {source_field} must be strings")
    if source_field == "evidence":  # ExpertQA: the cited passages, separated by blank lines
        name, passages = "expertqa", tuple(p for p in record["evidence"].split("\n\n") if p.strip())
    else:
        name, passages = f"frank_{record.get('dataset', 'cnndm')}", (record["source"],)
    return Example(set=name, split=record["split"], claim=record["claim"], passages=passages,
                   label=int(record["label"]))


def _span(interval: list[float] | None) -> str:
    return "" if interval is None else f"[{interval[0]:+.3f}, {interval[1]:+.3f}]"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
