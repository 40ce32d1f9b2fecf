"""Fit the short-answer phrase scorer (qa/spans.py) on SQuAD v1.1 dev questions disjoint from
bench/squad.py's evaluation sample (2,000 questions, seed 0): for each question, the candidate
phrases of the sentence holding its gold answer, the one with the best token F1 against the gold
answers as the target; a conditional logit (softmax over a question's candidates, small L2) by
gradient descent, fitted on 80% of the questions and reported on the other 20%.

    python bench/fit_short_answer.py [--data ../shared/data/squad-dev-v1.1.json] [--limit 6000]

Writes qa/data/short_answer_weights.json and bench/results/short_answer_fit.json.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import sys
import time
from pathlib import Path

import numpy as np

from qa.config import get_settings
from qa.evaluation.squad import exact_match, load_squad, token_f1
from qa.nlp import Language, words_of
from qa.question import read_question
from qa.spans import WEIGHTS, candidate_spans, span_features
from qa.terms import STOPWORDS, stem

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"
EVAL_SEED, EVAL_SAMPLE = 0, 2000


def parsed(questions: list[dict], language: Language, cache: Path | None) -> tuple[dict, list]:
    """Return the parses of the questions' paragraphs and of the questions, from `cache` when it holds them."""
    if cache is not None and cache.is_file():
        return pickle.loads(cache.read_bytes())
    contexts = sorted({q["context"] for q in questions})
    result = dict(zip(contexts, language.parse_many(contexts))), language.parse_many([q["question"] for q in questions])
    if cache is not None:
        cache.write_bytes(pickle.dumps(result))
    return result


def examples(questions: list[dict], language: Language, cache: Path | None = None) -> list[dict]:
    """Return, per question, its candidates' features and texts and the index of the best one."""
    parses, frames = parsed(questions, language, cache)
    out = []
    for q, frame in zip(questions, frames):
        parse = parses[q["context"]]
        start = q["starts"][0]
        sentence = next(((a, b) for a, b in parse.sentences
                         if parse.tokens[a].start <= start < parse.tokens[b - 1].end), None)
        if sentence is None:
            continue
        question = read_question(frame)
        asked = {stem(t.text.lower()) for t in frame.tokens if t.text.lower() not in STOPWORDS and t.pos != "PUNCT"}
        spans = candidate_spans(parse, *sentence)
        if not spans:
            continue
        texts = [words_of(parse, s.first, s.last) for s in spans]
        f1 = [token_f1(t, q["answers"]) for t in texts]
        best = int(np.argmax(f1))
        out.append({"features": [span_features(question, parse, s, asked) for s in spans], "texts": texts,
                    "target": best if f1[best] >= 0.5 else None, "answers": q["answers"]})
    return out


def fit(train: list[dict], names: list[str], *, l2: float = 1e-3, lr: float = 1.0, steps: int = 600) -> np.ndarray:
    """Return conditional-logit weights by full-batch gradient descent on the questions with a target."""
    kept = [ex for ex in train if ex["target"] is not None]
    x = np.array([[f[n] for n in names] for ex in kept for f in ex["features"]])
    sizes = np.array([len(ex["features"]) for ex in kept])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group = np.repeat(np.arange(len(kept)), sizes)
    targets = starts + np.array([ex["target"] for ex in kept])
    chosen = x[targets].sum(axis=0)
    w = np.zeros(len(names))
    for _ in range(steps):
        z = x @ w
        z -= np.maximum.reduceat(z, starts)[group]
        e = np.exp(z)
        p = e / np.add.reduceat(e, starts)[group]
        w -= lr * ((x.T @ p - chosen) / len(kept) + l2 * w)
    return w


def evaluate(held: list[dict], names: list[str], w: np.ndarray) -> dict[str, float]:
    """Return EM and F1 of the top-scored candidate against the gold answers, and how often a
    candidate could have matched at all."""
    em = f1 = reachable = 0.0
    for ex in held:
        x = np.array([[f[n] for n in names] for f in ex["features"]])
        pick = ex["texts"][int(np.argmax(x @ w))]
        em += exact_match(pick, ex["answers"])
        f1 += token_f1(pick, ex["answers"])
        reachable += ex["target"] is not None
    n = max(1, len(held))
    return {"exact_match": em / n, "token_f1": f1 / n, "reachable": reachable / n, "questions": len(held)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=6000, help="training questions at most")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "short_answer_fit.json")
    parser.add_argument("--cache", type=Path, help="keep the parses here and reuse them")
    args = parser.parse_args()

    _, questions = load_squad(args.data)
    held_out = {q["id"] for q in random.Random(EVAL_SEED).sample(questions, EVAL_SAMPLE)}
    pool = [q for q in questions if q["id"] not in held_out]
    pool = random.Random(1).sample(pool, min(args.limit, len(pool)))
    started = time.perf_counter()
    data = examples(pool, Language(get_settings().nlp_model), args.cache)
    print(f"{len(data)} questions with candidates in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    names = sorted(data[0]["features"][0])
    cut = int(0.8 * len(data))
    w = fit(data[:cut], names)
    held = evaluate(data[cut:], names, w)
    print(f"held-out (20%, {held['questions']} questions): EM {held['exact_match']:.3f}  F1 {held['token_f1']:.3f}  "
          f"(a candidate with F1 >= 0.5 exists for {held['reachable']:.3f})")
    w = fit(data, names)
    fitted = {name: round(float(v), 4) for name, v in zip(names, w)}
    WEIGHTS.write_text(json.dumps({"fitted_on": f"{len(data)} SQuAD v1.1 dev questions outside bench/squad.py's "
                                                f"sample (seed {EVAL_SEED}, {EVAL_SAMPLE})",
                                   "held_out": held, "weights": fitted}, indent=1) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"held_out": held, "weights": fitted}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
