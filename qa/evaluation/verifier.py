"""The offline support verifier: does a passage, or a set of passages, support a claim?

No NLI model is available offline, so the verifier is a logistic regression over the alignment
features of qa.evaluation.features (content-term and n-gram coverage of each claim sentence in its
best source sentence or window, copied fragments, MiniLM cosine of claim sentence and window, novel
names and numbers, negation and hedges) and the structural measures of qa.contradiction (the share
of each claim sentence's words and dependency arcs its closest cited sentence holds, facts no cited
sentence states, sentences entailed or contradicted). One model serves single-sentence claims,
another multi-sentence summaries, because a summary fails when any one sentence fails. The weights,
fitted on the dev splits of the human-labelled data by bench/fit_verifier.py, ship as
verifier_weights.json; inference needs numpy, the embedder and the spaCy pipeline. The weights are
sign-constrained (alignment may only raise support, novelty and mismatches only lower it), so the
score is monotone in the evidence.

The learned model decides only what structure leaves open: a claim its cited sentence contradicts
(qa.contradiction: a changed number, date, name or place in the same role, a reversed polarity or
stance, an added qualifier) scores below the threshold whatever the model says, and one whose cited
sentence bears out every word reaches it (qa.contradiction.fold).

The features' cosines are those of the embedding model the weights were fitted with (recorded in the
weights as "embed_model"): verifier_embedder() runs that model whatever QA_EMBED_MODEL says, since
another model's cosines would shift every score without a sign.

A score is the probability of support under equal priors of supported and unsupported claims; each
model's dev-tuned decision threshold is folded into its intercept, so one `threshold` serves both.

Known limits (measured in bench/alterations.py and qa.evaluation.validation): a name swapped for a
word the parser does not read as a name, in a role it does not line up, stays with the learned
model, which seldom rejects a claim copied from its source with one fact changed; the summary model,
fitted on CNN/DM, rewards copying and scores paraphrased summaries low.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.contradiction import MEASURES, ClaimChecker, Verdict, fold
from qa.embedding import local_embedder, resolve_model_path
from qa.errors import ConfigError
from qa.evaluation.features import FEATURES, Source, claim_sentences, normalize, pair_features, read_source

WEIGHTS_PATH = Path(__file__).with_name("verifier_weights.json")
ALL_FEATURES = (*FEATURES, *MEASURES)  # lexical and embedding features, then what structure measures
KINDS = ("claim", "summary")
EMPTY = "empty"  # a claim without words or passages without text: nothing to support it, score 0

Pair = tuple[str, Sequence[str]]


def claim_kind(sentences: Sequence[str], source: Source) -> str:
    """Return "summary" for a claim of two sentences or more, "claim" for one, EMPTY when either side is."""
    if not sentences or not source.sentences:
        return EMPTY
    return "summary" if len(sentences) >= 2 else "claim"


def load_weights(path: Path = WEIGHTS_PATH) -> dict:
    """Return the verifier weights stored at `path`, checked against the current FEATURES."""
    try:
        weights = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read verifier weights {path}: {exc}") from None
    check_weights(weights)
    return weights


def check_weights(weights: dict) -> None:
    """Raise ConfigError unless `weights` hold a threshold and a model per kind over exactly ALL_FEATURES."""
    if not isinstance(weights.get("embed_model"), str):
        raise ConfigError("verifier weights do not name the embedding model they were fitted with")
    if not isinstance(weights.get("threshold"), (int, float)):
        raise ConfigError("verifier weights lack a decision threshold")
    if list(weights.get("features", [])) != list(ALL_FEATURES):
        raise ConfigError("verifier weights were fitted on other features; rerun bench/fit_verifier.py")
    for kind in KINDS:
        model = weights.get("models", {}).get(kind)
        if not model or any(len(model.get(key, [])) != len(ALL_FEATURES) for key in ("mean", "scale", "coef")):
            raise ConfigError(f"verifier weights lack a complete {kind!r} model")


def verifier_embedder(weights: dict, *, settings: Settings, embedder: Callable[[], object]):
    """Return an embedder running the model `weights` were fitted with: `embedder()` (the settings'
    own, built on demand) when the settings name that local model, else that model loaded here."""
    model = weights["embed_model"]
    if not settings.embed_base_url and resolve_model_path(settings.embed_model) == resolve_model_path(model):
        return embedder()
    return local_embedder(model, settings=settings)


def embed_texts(embedder, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Return text -> unit vector for the distinct `texts`, embedded in one call."""
    distinct = list(dict.fromkeys(texts))
    if not distinct:
        return {}
    vectors = np.asarray(embedder.get_text_embedding_batch(distinct), dtype=float)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return dict(zip(distinct, vectors))


def extract_features(pairs: Sequence[Pair], *, embedder,
                     checker: ClaimChecker) -> tuple[np.ndarray, list[str], list[Verdict]]:
    """Return the ALL_FEATURES matrix of `pairs`, each pair's kind (see claim_kind) and its structural
    verdict, embedding every text in one call and parsing every new one in one batch. A single string
    of passages counts as one passage."""
    keys = [(passages,) if isinstance(passages, str) else tuple(passages) for _, passages in pairs]
    sentences = [claim_sentences(claim) for claim, _ in pairs]
    sources: dict[tuple[str, ...], Source] = {}
    for key in keys:
        if key not in sources:
            sources[key] = read_source(key)
    texts = [s for claim in sentences for s in claim] + [s for src in sources.values() for s in src.sentences]
    vectors = embed_texts(embedder, texts)
    verdicts = checker.check_many([(normalize(claim), key) for (claim, _), key in zip(pairs, keys)])
    rows = [[*pair_features(claim, sources[key], vectors=vectors), *verdict.measures]
            for claim, key, verdict in zip(sentences, keys, verdicts)]
    kinds = [claim_kind(claim, sources[key]) for claim, key in zip(sentences, keys)]
    return np.array(rows, dtype=float).reshape(len(pairs), len(ALL_FEATURES)), kinds, verdicts


def predict(weights: dict, features: np.ndarray, kinds: Sequence[str]) -> list[float]:
    """Return the support probability of each feature row under the model of its kind."""
    scores = []
    for row, kind in zip(features, kinds):
        if kind == EMPTY:
            scores.append(0.0)
            continue
        model = weights["models"][kind]
        z = (row - np.asarray(model["mean"])) / np.asarray(model["scale"])
        logit = float(z @ np.asarray(model["coef"]) + model["intercept"])
        scores.append(1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit)))))
    return scores


class SupportVerifier:
    """Scores how well passages support a claim, offline: the learned model over lexical, embedding
    and structural features, with the structural verdicts of qa.contradiction folded in."""

    def __init__(self, embedder, *, checker: ClaimChecker, weights: dict | None = None) -> None:
        if weights is None:
            weights = load_weights()
        else:
            check_weights(weights)
        self.embedder = embedder
        self.weights = weights
        self.checker = checker
        self.threshold: float = float(weights["threshold"])

    def support(self, claim: str, passages: Sequence[str]) -> float:
        """Return the probability in [0, 1] that `passages` together support `claim`."""
        return self.support_many([(claim, passages)])[0]

    def support_many(self, pairs: Sequence[Pair]) -> list[float]:
        """Return support() of each (claim, passages) pair, embedding all their texts in one call."""
        return [score for score, _ in self.assess_many(pairs)]

    def assess_many(self, pairs: Sequence[Pair]) -> list[tuple[float, Verdict]]:
        """Return per pair the support score, with the structural verdict folded in, and that verdict."""
        features, kinds, verdicts = extract_features(pairs, embedder=self.embedder, checker=self.checker)
        learned = predict(self.weights, features, kinds)
        return [(fold(score, verdict, threshold=self.threshold) if kind != EMPTY else 0.0, verdict)
                for score, verdict, kind in zip(learned, verdicts, kinds)]

    def learned_many(self, pairs: Sequence[Pair]) -> list[float]:
        """Return the learned model's support of each pair, structure read as features but not folded in."""
        features, kinds, _ = extract_features(pairs, embedder=self.embedder, checker=self.checker)
        return predict(self.weights, features, kinds)

    def supports(self, claim: str, passages: Sequence[str]) -> bool:
        """Return True when the support probability reaches the dev-tuned threshold."""
        return self.support(claim, passages) >= self.threshold
