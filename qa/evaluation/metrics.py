"""Run-level metrics from per-question results, each with its n and a 95% bootstrap interval. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 0

# metric name -> the item field it averages (None values are left out: nothing to score there)
METRIC_FIELDS = {
    "faithfulness": "faithfulness",
    "citation_recall": "citation_recall",
    "citation_precision": "citation_precision",
    "retrieval_recall_at_k": "retrieval_hit",
    "answer_accuracy": "answer_correct",
    "refusal_accuracy": "refusal_correct",
    "first_citation_accuracy": "first_citation_correct",
}


def bootstrap_interval(values: Sequence[float], *, samples: int = BOOTSTRAP_SAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> list[float] | None:
    """Return the 95% percentile bootstrap interval of the mean, or None without values."""
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(samples, len(data)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return [float(low), float(high)]


def summarize(items: list[dict], *, k: int) -> dict:
    """Return every metric as {"value", "n", "ci95"} (retrieval also carries k)."""
    metrics = {}
    for name, key in METRIC_FIELDS.items():
        values = [float(item[key]) for item in items if item.get(key) is not None]
        metrics[name] = {"value": float(np.mean(values)) if values else None, "n": len(values),
                         "ci95": bootstrap_interval(values)}
    metrics["retrieval_recall_at_k"]["k"] = k
    return metrics


def normalize(text: str) -> str:
    """Return text lower-cased with punctuation and runs of white space folded, for answer matching."""
    text = re.sub(r"\[\d+(?:\s*[,;]\s*\d+)*\]", " ", text.lower())
    text = re.sub(r"[\"'“”‘’`.,;:!?()]", " ", text)
    return " ".join(text.split())


def contains_any(text: str, expected: Sequence[str]) -> bool:
    """Return True when one of the expected strings occurs in the text (normalized, whole words)."""
    haystack = f" {normalize(text)} "
    return any(f" {normalize(e)} " in haystack for e in expected if normalize(e))


def answer_correct(*, answer: str, answered: bool, expected_answer: Sequence[str],
                   expected_answerable: bool | None) -> bool | None:
    """Return whether the answer holds an expected answer string (None when none is given or the
    question is not meant to be answered)."""
    if not expected_answer or expected_answerable is False:
        return None
    return answered and contains_any(answer, expected_answer)


def refusal_correct(*, answered: bool, expected_answerable: bool | None) -> bool | None:
    """Return whether the system answered exactly when the question is answerable."""
    return None if expected_answerable is None else answered == expected_answerable
