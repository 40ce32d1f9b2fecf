"""Fit the extractive answerer's answerability model (ANSWERABLE_WEIGHTS in qa/extractive.py) on
SQuAD v1.1 dev questions disjoint from bench/squad.py's evaluation sample.

    python bench/calibrate.py [--data ../shared/data/squad-dev-v1.1.json] [--store /tmp/squadstore]
                              [--n 1200] [--seed 7] [--out bench/results/calibration.json]

Each sampled question gives up to two examples: a positive, the top 5 hits when the gold paragraph
is among them (skipped otherwise), and a negative, the top 30 hits with every paragraph of the gold
article removed, first 5 kept (the corpus without that article cannot answer). Each example gets the
four features ExtractiveAnswerer._confidence computes for the best candidate sentence. A logistic
regression (gradient descent, small L2, bias) is fitted on 70% of the questions and reported on the
other 30%, next to the current weights; when the fit gives "type" a weight below 1.5, a variant with
the type weight fixed at 2.5 and the rest refitted is reported too.

Prints a table and writes bench/results/calibration.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from squad import DEFAULT_DATA, ROOT, load_squad  # noqa: E402

from qa.answer import Pipeline, build_pipeline, read  # noqa: E402
from qa.config import get_settings  # noqa: E402
from qa.embedding import build_embedder  # noqa: E402
from qa.extractive import ANSWERABLE_WEIGHTS, Steer, evidence_features  # noqa: E402
from qa.ingest import ingest_articles  # noqa: E402
from qa.nlp import Language  # noqa: E402
from qa.retrieve import Retriever  # noqa: E402
from qa.store import open_store  # noqa: E402

FEATURES = ("paragraph_lexical", "lexical", "dense", "type")
EVAL_SEED, EVAL_SAMPLE = 0, 2000  # bench/squad.py's default evaluation sample
TYPE_FLOOR, TYPE_FIXED = 1.5, 2.5


def features(pipeline: Pipeline, question: str, hits) -> tuple[dict[str, float], float, str] | None:
    """Return the features _confidence sees for the best candidate, its confidence and the question's
    wh-word, or None when no sentence may answer."""
    frame = read(pipeline, question)
    scored = pipeline.evidence.score(frame, question, hits)
    answerer = pipeline.replayer
    candidates = answerer._candidates(frame, scored, Steer())
    if not candidates:
        return None
    best = max(candidates, key=lambda c: c.score)
    item = scored[best.index]
    return evidence_features(item, best.sentence), answerer._confidence(frame, item, best.sentence), frame.wh or "other"


def fit(x: np.ndarray, y: np.ndarray, *, fixed: dict[int, float] | None = None, l2: float = 1e-3,
        lr: float = 2.0, steps: int = 50000) -> tuple[np.ndarray, dict]:
    """Return logistic-regression weights (features..., bias) by full-batch gradient descent, and
    how it converged; columns in `fixed` keep the given weight. L2 applies to the feature weights,
    not the bias."""
    fixed = fixed or {}
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    free = np.ones_like(w)
    for col, value in fixed.items():
        w[col], free[col] = value, 0.0
    penalty = np.ones_like(w)
    penalty[-1] = 0.0
    for step in range(1, steps + 1):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) / len(y) + l2 * penalty * w
        w -= lr * free * grad
        if np.max(np.abs(free * grad)) < 1e-7:
            break
    return w, {"steps": step, "max_gradient": float(np.max(np.abs(free * grad)))}


def predict(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ w[:-1] + w[-1])))


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Return the ROC AUC (Mann-Whitney, ties counted half)."""
    pos, neg = p[y == 1], p[y == 0]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def balanced_accuracy(y: np.ndarray, p: np.ndarray, threshold: float) -> float:
    tpr = float(np.mean(p[y == 1] >= threshold))
    tnr = float(np.mean(p[y == 0] < threshold))
    return (tpr + tnr) / 2


def best_threshold(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Return the threshold maximizing balanced accuracy (midpoint between scores) and that accuracy."""
    values = np.unique(p)
    cuts = np.concatenate([[values[0] - 1e-9], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]])
    scores = [balanced_accuracy(y, p, c) for c in cuts]
    i = int(np.argmax(scores))
    return float(cuts[i]), float(scores[i])


def report(name: str, w: np.ndarray, train: tuple, test: tuple) -> dict:
    """Return the test-split metrics of weights `w`; train and test are (x, y, adjustment), the
    adjustment multiplying the logistic output as _confidence does after the fact."""
    (x_tr, y_tr, a_tr), (x_te, y_te, a_te) = train, test
    p_te, p_tr = predict(x_te, w) * a_te, predict(x_tr, w) * a_tr
    cut, ba = best_threshold(y_te, p_te)
    cut_tr, _ = best_threshold(y_tr, p_tr)
    return {
        "name": name,
        "weights": {k: round(float(v), 2) for k, v in zip((*FEATURES, "bias"), w)},
        "auc": roc_auc(y_te, p_te),
        "balanced_accuracy@0.5": balanced_accuracy(y_te, p_te, 0.5),
        "tpr@0.5": float(np.mean(p_te[y_te == 1] >= 0.5)),
        "tnr@0.5": float(np.mean(p_te[y_te == 0] < 0.5)),
        "best_threshold": cut,
        "balanced_accuracy@best": ba,
        "train_threshold": cut_tr,
        "balanced_accuracy@train_threshold": balanced_accuracy(y_te, p_te, cut_tr),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--store", type=Path, default=Path("/tmp/squadstore"))
    parser.add_argument("--n", type=int, default=1200, help="calibration questions to sample")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "calibration.json")
    args = parser.parse_args()

    articles, questions = load_squad(args.data)
    held_out = {q["id"] for q in random.Random(EVAL_SEED).sample(questions, min(EVAL_SAMPLE, len(questions)))}
    pool = [q for q in questions if q["id"] not in held_out]
    sample = random.Random(args.seed).sample(pool, min(args.n, len(pool)))

    settings = get_settings(data_dir=args.store, collection="squad")
    embedder = build_embedder(settings)
    store = open_store(settings)
    language = Language(settings.nlp_model)
    print(f"ingest: {ingest_articles(articles, store=store, embedder=embedder, language=language).summary()}",
          file=sys.stderr)
    retriever = Retriever(store, embedder)
    pipeline = build_pipeline(settings, retriever=retriever, language=language)

    started = time.perf_counter()
    rows = []  # (question index, label, features, current confidence, kind)
    no_negative = 0  # questions whose top 30 paragraphs all come from the gold article
    for i, q in enumerate(sample):
        gold = f"{q['article_id']}:{q['paragraph']}"
        frame = read(pipeline, q["question"])
        ranked = [e.hit for e in pipeline.evidence.rank(frame, q["question"], retriever.retrieve_hits(q["question"]), k=30)]
        found = features(pipeline, q["question"], ranked[:5]) if gold in [h.key for h in ranked[:5]] else None
        if found:
            rows.append((i, 1, *found))
        others = [h for h in ranked if h.article_id != q["article_id"]][:5]
        found = features(pipeline, q["question"], others) if others else None
        if found:
            rows.append((i, 0, *found))
        elif not others:
            no_negative += 1
        if (i + 1) % 200 == 0:
            print(f"{i + 1}/{len(sample)} questions, {time.perf_counter() - started:.0f}s", file=sys.stderr)
    x = np.array([[r[2][f] for f in FEATURES] for r in rows])
    y = np.array([r[1] for r in rows], dtype=float)
    current = np.array([ANSWERABLE_WEIGHTS[f] for f in (*FEATURES, "bias")])
    # _confidence = logistic(features) * adjustment; the adjustment is 1 unless _confidence applies a
    # post-hoc rule. Features are checked against _confidence on the unadjusted examples.
    product = np.array([r[3] for r in rows])
    adjustment = product / predict(x, current)
    plain = np.abs(adjustment - 1.0) < 1e-9
    adjusted = sorted({round(float(a), 6) for a in adjustment[~plain]})
    assert plain.mean() > 0.5, f"features differ from _confidence's (factors {adjusted[:5]})"

    order = list(range(len(sample)))
    random.Random(args.seed).shuffle(order)
    train_q = set(order[: int(0.7 * len(order))])
    is_train = np.array([r[0] in train_q for r in rows])
    ones = np.ones(len(y))
    train, test = (x[is_train], y[is_train], ones[is_train]), (x[~is_train], y[~is_train], ones[~is_train])
    train_adj = (x[is_train], y[is_train], adjustment[is_train])
    test_adj = (x[~is_train], y[~is_train], adjustment[~is_train])

    fitted, converged = fit(*train[:2])
    models = [("current ANSWERABLE_WEIGHTS", current, None), ("fitted", fitted, converged)]
    type_col = FEATURES.index("type")
    if fitted[type_col] < TYPE_FLOOR:
        pinned, converged_pinned = fit(*train[:2], fixed={type_col: TYPE_FIXED})
        models.append((f"fitted, type fixed at {TYPE_FIXED}", pinned, converged_pinned))
    results = []
    for name, w, conv in models:
        results.append(report(name, w, train, test) | ({"convergence": conv} if conv else {}))
    if len(adjusted):
        for name, w, _ in models:
            results.append(report(f"{name} + _confidence rule", w, train_adj, test_adj) | {"adjusted": True})

    kinds: dict[str, dict] = {}
    for (_, label, feats, _, kind) in rows:
        entry = kinds.setdefault(kind, {"positives": 0, "negatives": 0, "type_pos": 0.0, "type_neg": 0.0})
        entry["positives" if label else "negatives"] += 1
        entry["type_pos" if label else "type_neg"] += feats["type"]
    for entry in kinds.values():
        entry["type_pos"] = entry["type_pos"] / max(1, entry["positives"])
        entry["type_neg"] = entry["type_neg"] / max(1, entry["negatives"])

    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    print(f"\nSQuAD v1.1 dev calibration: {len(sample)} questions (seed {args.seed}, disjoint from the "
          f"evaluation sample), {n_pos} positives, {n_neg} negatives "
          f"({no_negative} questions had only gold-article paragraphs in their top 30); train {int(is_train.sum())} / "
          f"test {int((~is_train).sum())} examples\n")
    print("feature means      " + "".join(f"{f:>18}" for f in FEATURES))
    for label, name in ((1, "positives"), (0, "negatives")):
        print(f"  {name:<16}" + "".join(f"{v:>18.3f}" for v in x[y == label].mean(axis=0)))
    print()
    header = (f"{'model':<46}" + "".join(f"{f[:9]:>10}" for f in (*FEATURES, "bias"))
              + f"{'AUC':>7}{'BA@.5':>7}{'TPR@.5':>7}{'TNR@.5':>7}{'best t':>8}{'BA@t':>7}{'BA@t_tr':>8}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['name']:<46}" + "".join(f"{r['weights'][k]:>10.2f}" for k in (*FEATURES, "bias"))
              + f"{r['auc']:>7.3f}{r['balanced_accuracy@0.5']:>7.3f}{r['tpr@0.5']:>7.3f}{r['tnr@0.5']:>7.3f}"
              + f"{r['best_threshold']:>8.3f}{r['balanced_accuracy@best']:>7.3f}"
              + f"{r['balanced_accuracy@train_threshold']:>8.3f}")
    for r in results:
        if "convergence" in r:
            print(f"{r['name']}: {r['convergence']['steps']} steps, max |gradient| "
                  f"{r['convergence']['max_gradient']:.1e}")
    if len(adjusted):
        print(f"'+ _confidence rule': the logistic output times _confidence's post-hoc factor "
              f"({', '.join(map(str, adjusted))}), applied to {int((~plain).sum())} of {len(y)} examples "
              f"({int((~plain & (y == 1)).sum())} positives, {int((~plain & (y == 0)).sum())} negatives)")
    print("\n(test split; best t = threshold maximizing balanced accuracy on the test split, "
          "BA@t_tr = balanced accuracy at the threshold chosen on the train split)")
    print(f"\n{'question type':<14}{'pos':>6}{'neg':>6}{'type|pos':>10}{'type|neg':>10}")
    for kind, entry in sorted(kinds.items()):
        print(f"{kind:<14}{entry['positives']:>6}{entry['negatives']:>6}{entry['type_pos']:>10.3f}{entry['type_neg']:>10.3f}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "questions": len(sample), "seed": args.seed, "positives": n_pos, "negatives": n_neg,
        "questions_without_negative": no_negative,
        "confidence_adjustment": {"factors": adjusted, "examples": int((~plain).sum()),
                                  "positives": int((~plain & (y == 1)).sum()),
                                  "negatives": int((~plain & (y == 0)).sum())},
        "train_examples": int(is_train.sum()), "test_examples": int((~is_train).sum()),
        "feature_means": {name: dict(zip(FEATURES, x[y == label].mean(axis=0).round(4).tolist()))
                          for label, name in ((1, "positives"), (0, "negatives"))},
        "by_question_type": kinds, "results": results,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
