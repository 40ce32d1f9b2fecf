"""Fit the support verifier's weights (qa/evaluation/verifier_weights.json) on the dev splits only.

    python bench/fit_verifier.py [--data ../shared/data/faithfulness] [--c 0.01] [--seed 0]
                                 [--cache /tmp/verifier-embeddings.pkl] [--out qa/evaluation/verifier_weights.json]

Two logistic regressions over qa.evaluation.verifier.ALL_FEATURES (the lexical and embedding features
of qa.evaluation.features and the structural measures of qa.contradiction; standardised, L2 with inverse strength
--c, classes weighted to balance): "claim" on ExpertQA dev (single-sentence claims with cited
evidence) and "summary" on FRANK CNN/DM dev (multi-sentence news summaries). Weights are sign-
constrained (L-BFGS-B with bounds): every alignment feature may only raise support and every novelty
or mismatch feature only lower it, so the fitted scorer is monotone and a collinear feature cannot
pick up a backwards weight (unconstrained, ExpertQA gave novel numbers a positive weight). Each model's threshold
maximising balanced accuracy on its 5-fold out-of-fold dev predictions is folded into its intercept,
so 0.5 is the decision threshold of both. Dev figures are 5 x repeated 5-fold cross-validation: ROC-AUC
and balanced accuracy at 0.5 after the same threshold folding done inside each training fold (nested),
next to the two baselines. The test splits are never read here; qa.evaluation.validation reports them.

--cache keeps the embeddings in a pickle between runs (the model then only embeds new texts).
Prints a table and writes the weights; the figures also go to bench/results/fit_verifier.json.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import get_settings  # noqa: E402
from qa.embedding import build_embedder  # noqa: E402
from qa.contradiction import CONTRADICTED_SHARE, ClaimChecker  # noqa: E402
from qa.evaluation.features import CLAIM_FEATURES  # noqa: E402
from qa.evaluation.validation import (  # noqa: E402
    balanced_accuracy, cosine_scores, load_examples, overlap_scores, roc_auc, tune_threshold,
)
from qa.evaluation.verifier import ALL_FEATURES, WEIGHTS_PATH, extract_features  # noqa: E402
from qa.nlp import Language  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "faithfulness"
TRAINING = {"claim": "expertqa", "summary": "frank_cnndm"}  # kind -> the dev set that fits its model
REPEATS, FOLDS = 5, 5
LOWERING = {"novel_terms", "novel_numbers", "novel_entities", "negation_mismatch", "hedge_dropped",
            "struct_novel_facts", "struct_contradicted"}
FREE = set(CLAIM_FEATURES) - LOWERING  # claim length: no prior on its direction
BOUNDS = [(None, 0.0) if f in LOWERING else (None, None) if f in FREE else (0.0, None) for f in ALL_FEATURES]


class CachedEmbedder:
    """The real model behind a pickled text -> vector memo under /tmp, for repeated fitting runs."""

    def __init__(self, model, path: Path | None) -> None:
        self.model, self.path = model, path
        self.vectors: dict[str, list[float]] = {}
        if path and path.is_file():
            self.vectors = pickle.loads(path.read_bytes())

    def get_text_embedding_batch(self, texts: list[str], **kwargs) -> list[list[float]]:
        """Return the vectors of `texts`, running the model only on texts not seen before."""
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.model.get_text_embedding_batch(missing, **kwargs)))
            if self.path:
                self.path.write_bytes(pickle.dumps(self.vectors))
        return [self.vectors[t] for t in texts]


def fit_model(x: np.ndarray, y: np.ndarray, *, c: float, seed: int) -> dict:
    """Return the constrained logistic regression, Platt-scaled and with its dev-tuned threshold folded
    into the intercept, both learnt from FOLDS-fold out-of-fold logits."""
    logits = np.zeros(len(y))
    for train, held in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y):
        logits[held] = _logits(_fit(x[train], y[train], c=c), x[held])
    slope, offset = _platt(logits, y)
    cut = tune_threshold(y, slope * logits + offset)  # a logit: supported when at or above it
    model = _fit(x, y, c=c)
    model["coef"] = [slope * w for w in model["coef"]]
    model["intercept"] = slope * model["intercept"] + offset - cut
    model.update(platt=[slope, offset], folded_threshold=float(1.0 / (1.0 + np.exp(-cut))))
    return model


def apply(model: dict, x: np.ndarray) -> np.ndarray:
    """Return the model's probabilities for the rows of `x` (the same arithmetic as the verifier)."""
    return 1.0 / (1.0 + np.exp(-_logits(model, x)))


def _logits(model: dict, x: np.ndarray) -> np.ndarray:
    z = (x - np.asarray(model["mean"])) / np.asarray(model["scale"])
    return z @ np.asarray(model["coef"]) + model["intercept"]


def _platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Return slope and offset mapping out-of-fold logits to probabilities under equal class priors."""
    weight = np.where(y == 1, len(y) / (2.0 * y.sum()), len(y) / (2.0 * (len(y) - y.sum())))
    sign = 2.0 * y - 1.0

    def objective(params: np.ndarray) -> float:
        return float(weight @ np.logaddexp(0.0, -sign * (params[0] * logits + params[1])))

    result = minimize(objective, np.array([1.0, 0.0]), method="L-BFGS-B", bounds=[(1e-3, None), (None, None)])
    return float(result.x[0]), float(result.x[1])


def cross_validate(x: np.ndarray, y: np.ndarray, *, c: float, seed: int) -> dict:
    """Return mean and spread of nested-CV ROC-AUC and balanced accuracy at 0.5 over REPEATS repeats,
    of the learned model and of its scores with the structural verdicts folded in (as the verifier does)."""
    aucs, baccs, folded_aucs, folded_baccs = [], [], [], []
    contradicted = x[:, ALL_FEATURES.index("struct_contradicted")] > 0
    entailed = x[:, ALL_FEATURES.index("struct_entailed")] >= 1.0
    for repeat in range(REPEATS):
        scores = np.zeros(len(y))
        for train, held in StratifiedKFold(FOLDS, shuffle=True, random_state=seed + repeat).split(x, y):
            scores[held] = apply(fit_model(x[train], y[train], c=c, seed=seed), x[held])
        folded = np.where(contradicted, CONTRADICTED_SHARE * 0.5 * scores,
                          np.where(entailed, np.maximum(scores, 0.5), scores))
        aucs.append(roc_auc(y, scores))
        baccs.append(balanced_accuracy(y, scores >= 0.5))
        folded_aucs.append(roc_auc(y, folded))
        folded_baccs.append(balanced_accuracy(y, folded >= 0.5))
    return {"roc_auc": float(np.mean(aucs)), "roc_auc_sd": float(np.std(aucs)),
            "balanced_accuracy": float(np.mean(baccs)), "balanced_accuracy_sd": float(np.std(baccs)),
            "folded_roc_auc": float(np.mean(folded_aucs)), "folded_balanced_accuracy": float(np.mean(folded_baccs))}


def baseline_cv(y: np.ndarray, scores: list[float], *, seed: int) -> dict:
    """Return a baseline's dev AUC and its balanced accuracy with the threshold tuned on the other folds."""
    s = np.asarray(scores)
    baccs = []
    for repeat in range(REPEATS):
        predicted = np.zeros(len(y), dtype=bool)
        for train, held in StratifiedKFold(FOLDS, shuffle=True, random_state=seed + repeat).split(s, y):
            predicted[held] = s[held] >= tune_threshold(y[train], s[train])
        baccs.append(balanced_accuracy(y, predicted))
    return {"roc_auc": roc_auc(y, s), "balanced_accuracy": float(np.mean(baccs))}


def _fit(x: np.ndarray, y: np.ndarray, *, c: float) -> dict:
    """Return a standardised, class-balanced, L2 logistic regression with BOUNDS on the weight signs."""
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    z = np.hstack([(x - scaler.mean_) / scale, np.ones((len(y), 1))])
    weight = np.where(y == 1, len(y) / (2.0 * y.sum()), len(y) / (2.0 * (len(y) - y.sum())))
    sign = 2.0 * y - 1.0

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        margin = sign * (z @ w)
        loss = c * float(weight @ np.logaddexp(0.0, -margin)) + 0.5 * float(w[:-1] @ w[:-1])
        grad = -c * z.T @ (weight * sign / (1.0 + np.exp(margin)))
        grad[:-1] += w[:-1]
        return loss, grad

    result = minimize(objective, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B",
                      bounds=[*BOUNDS, (None, None)], options={"maxiter": 10000, "gtol": 1e-8})
    return {"mean": scaler.mean_.tolist(), "scale": scale.tolist(), "coef": result.x[:-1].tolist(),
            "intercept": float(result.x[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--c", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = parser.parse_args()
    started = time.monotonic()
    dev = [e for e in load_examples(args.data) if e.split == "dev"]
    settings = get_settings()
    embedder = CachedEmbedder(build_embedder(settings), args.cache)
    checker = ClaimChecker(Language(settings.nlp_model))
    models, figures = {}, {}
    for kind, name in TRAINING.items():
        examples = [e for e in dev if e.set == name]
        x, kinds, _ = extract_features([(e.claim, e.passages) for e in examples], embedder=embedder, checker=checker)
        keep = [i for i, k in enumerate(kinds) if k == kind]  # the rows this model will serve
        x, y = x[keep], np.array([examples[i].label for i in keep])
        models[kind] = fit_model(x, y, c=args.c, seed=args.seed)
        models[kind].update(trained_on=f"{name} dev, {kind} rows", n=len(y), positives=int(y.sum()))
        kept = [examples[i] for i in keep]
        figures[name] = {
            "n": len(y), "positive_share": float(y.mean()),
            "verifier": cross_validate(x, y, c=args.c, seed=args.seed),
            "overlap": baseline_cv(y, overlap_scores(kept), seed=args.seed),
            "minilm_cosine": baseline_cv(y, cosine_scores(kept, embedder=embedder), seed=args.seed),
        }
    weights = {
        "features": list(ALL_FEATURES), "models": models, "threshold": 0.5, "embed_model": settings.embed_model,
        "fitted_on": f"dev splits of {args.data.name}: claim <- ExpertQA dev, summary <- FRANK CNN/DM dev",
        "fitting": {"script": "bench/fit_verifier.py", "c": args.c, "seed": args.seed,
                    "class_weight": "balanced", "dev_cv": figures},
    }
    args.out.write_text(json.dumps(weights, indent=1) + "\n", encoding="utf-8")
    _print(figures, seconds=time.monotonic() - started, out=args.out)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "fit_verifier.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def _print(figures: dict, *, seconds: float, out: Path) -> None:
    print(f"dev cross-validation ({REPEATS} x {FOLDS}-fold; thresholds tuned inside the training folds)")
    print(f"{'set':<13} {'n':>5} {'pos':>5}  {'learned AUC':>11} {'BAcc':>6}  {'folded AUC':>10} {'BAcc':>6}"
          f"  {'overlap AUC':>11} {'BAcc':>6}  {'cosine AUC':>10} {'BAcc':>6}")
    for name, f in figures.items():
        v, o, m = f["verifier"], f["overlap"], f["minilm_cosine"]
        print(f"{name:<13} {f['n']:>5} {f['positive_share']:>5.2f}  {v['roc_auc']:>11.3f} {v['balanced_accuracy']:>6.3f}"
              f"  {v['folded_roc_auc']:>10.3f} {v['folded_balanced_accuracy']:>6.3f}"
              f"  {o['roc_auc']:>11.3f} {o['balanced_accuracy']:>6.3f}  {m['roc_auc']:>10.3f} {m['balanced_accuracy']:>6.3f}")
    print(f"wrote {out} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
