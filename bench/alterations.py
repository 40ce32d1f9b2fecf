"""Does the support verifier reject a claim with one fact changed, and accept the same claim said
another way?

    python bench/alterations.py [--squad ../shared/data/squad-dev-v1.1.json] [--corpus corpus]
                                [--claims 400] [--seed 0] [--out bench/results/alterations.json]
                                [--faithfulness ../shared/data/faithfulness]

Faithful claims: the answer-bearing sentences of --claims sampled SQuAD v1.1 dev paragraphs (the
paragraph is the source) and every sentence of the seed corpus (its article's paragraphs are the
source). qa.evaluation.alterations changes exactly one name, number, date, verb polarity, stance verb
(into an opposite from qa/data/opposites.txt), quantifier (one added) or place in each, and
rephrases it (passive, copula, apposition, demonym as country, approximation word, date format,
verb of saying). Reports per kind and source and overall: the share of pairs where support(faithful)
> support(altered) (ties count as failures) next to the same share for the two validation
baselines; the share of altered claims the verifier rejects (verdict unsupported: its support below
the threshold), with the structural verdicts of qa.contradiction and with the learned model alone;
the share of faithful claims it accepts; and, per kind of rephrasing, the share of rephrasings it
accepts. With --faithfulness DIR, the share of the human-labelled dev claims there that structure
calls contradicted or entailed, supported and not. Prints tables and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import get_settings  # noqa: E402
from qa.corpus import load_corpus  # noqa: E402
from qa.embedding import build_embedder  # noqa: E402
from qa.contradiction import ClaimChecker  # noqa: E402
from qa.evaluation.alterations import KINDS, Alteration, build_alterations, corpus_claims, squad_claims  # noqa: E402
from qa.evaluation.features import normalize  # noqa: E402
from qa.evaluation.rewrites import REPHRASINGS  # noqa: E402
from qa.evaluation.validation import Example, cosine_scores, load_examples, overlap_scores  # noqa: E402
from qa.evaluation.verifier import SupportVerifier  # noqa: E402
from qa.nlp import Language  # noqa: E402

DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"
DEFAULT_FAITHFULNESS = ROOT.parent / "shared" / "data" / "faithfulness"
SCORERS = ("verifier", "overlap", "minilm_cosine")
COLUMNS = (*SCORERS, "learned_rejected", "altered_rejected", "faithful_supported")
REPHRASED = ("n", "learned_supported", "rephrasing_supported")


def score_pairs(pairs: Sequence[Alteration], *, verifier: SupportVerifier,
                embedder) -> dict[str, list[tuple[float, float]]]:
    """Return per scorer the (faithful, rewritten) scores of every pair: the verifier with its
    structural verdicts folded in, its learned model alone ("learned": structure read as features,
    the verdicts not folded in) and the two baselines."""
    faithful = {(p.faithful, p.passages): None for p in pairs}
    texts = list(faithful) + [(p.altered, p.passages) for p in pairs]
    examples = [Example(set="alterations", split="test", claim=c, passages=s, label=1) for c, s in texts]
    raw = {
        "verifier": verifier.support_many(texts),
        "learned": verifier.learned_many(texts),
        "overlap": overlap_scores(examples),
        "minilm_cosine": cosine_scores(examples, embedder=embedder),
    }
    index = {key: i for i, key in enumerate(faithful)}
    offset = len(faithful)
    return {name: [(values[index[(p.faithful, p.passages)]], values[offset + i]) for i, p in enumerate(pairs)]
            for name, values in raw.items()}


def summarise(pairs: Sequence[Alteration], origins: Sequence[str], scores: dict, *, threshold: float) -> dict:
    """Return, for the altered claims overall, per kind and per source: n, the share faithful >
    altered per scorer, the share of altered claims rejected (with and without structure) and the
    share of their faithful claims accepted."""
    altered = [i for i, p in enumerate(pairs) if not p.keeps_meaning]
    groups = {"overall": altered}
    groups.update({f"kind:{k}": [i for i in altered if pairs[i].kind == k] for k in KINDS})
    groups.update({f"source:{o}": [i for i in altered if origins[i] == o] for o in dict.fromkeys(origins)})
    return {
        name: {"n": len(members), **{s: _share(scores[s], members) for s in SCORERS},
               "learned_rejected": _mean([scores["learned"][i][1] < threshold for i in members]),
               "altered_rejected": _mean([scores["verifier"][i][1] < threshold for i in members]),
               "faithful_supported": _mean([scores["verifier"][i][0] >= threshold for i in members])}
        for name, members in groups.items()
    }


def summarise_rephrasings(pairs: Sequence[Alteration], origins: Sequence[str], scores: dict, *,
                          threshold: float) -> dict:
    """Return, for the rephrasings overall, per kind and per source: n and the share accepted, with
    and without structure."""
    kept = [i for i, p in enumerate(pairs) if p.keeps_meaning]
    groups = {"overall": kept}
    groups.update({f"kind:{k}": [i for i in kept if pairs[i].kind == k] for k in REPHRASINGS})
    groups.update({f"source:{o}": [i for i in kept if origins[i] == o] for o in dict.fromkeys(origins)})
    return {name: {"n": len(members),
                   "learned_supported": _mean([scores["learned"][i][1] >= threshold for i in members]),
                   "rephrasing_supported": _mean([scores["verifier"][i][1] >= threshold for i in members])}
            for name, members in groups.items()}


def _mean(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _share(values: list[tuple[float, float]], members: list[int]) -> float | None:
    if not members:
        return None
    return sum(values[i][0] > values[i][1] for i in members) / len(members)


def _table(summary: dict, columns: Sequence[str]) -> None:
    print(f"{'group':<22} {'n':>5}  " + "  ".join(f"{s:>20}" for s in columns if s != "n"))
    for name, row in summary.items():
        cells = "  ".join(f"{row[s]:>20.3f}" if row[s] is not None else f"{'-':>20}" for s in columns if s != "n")
        print(f"{name:<22} {row['n']:>5}  {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--claims", type=int, default=400, help="SQuAD answer sentences to alter")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "alterations.json")
    parser.add_argument("--faithfulness", type=Path, default=DEFAULT_FAITHFULNESS,
                        help="human-labelled claims for the structural verdicts' rates (empty string: skip)")
    args = parser.parse_args()
    started = time.monotonic()
    settings = get_settings()
    language = Language(settings.nlp_model)
    pairs, origins = _pairs(args, language=language)
    embedder = build_embedder(settings)
    checker = ClaimChecker(language)
    verifier = SupportVerifier(embedder, checker=checker)
    scores = score_pairs(pairs, verifier=verifier, embedder=embedder)
    summary = summarise(pairs, origins, scores, threshold=verifier.threshold)
    rephrased = summarise_rephrasings(pairs, origins, scores, threshold=verifier.threshold)
    seconds = time.monotonic() - started
    _table(summary, COLUMNS)
    print(f"verifier/overlap/minilm_cosine: share of pairs with support(faithful) > support(altered); "
          f"*_rejected: share of altered claims below the threshold {verifier.threshold} (learned: the "
          f"learned model alone); faithful_supported: share of their faithful claims at or above it")
    print()
    _table(rephrased, REPHRASED)
    print(f"rephrasings of the faithful claims: share at or above the threshold; {seconds:.0f} s")
    human = human_rates(args.faithfulness, checker=checker) if args.faithfulness else None
    if human:
        print(f"\nstructural verdicts on human-labelled dev claims ({args.faithfulness})")
        print(f"{'set':<14} {'label':<12} {'n':>5} {'contradicted':>13} {'entailed':>9}")
        for row in human:
            print(f"{row['set']:<14} {row['label']:<12} {row['n']:>5} {row['contradicted']:>13.3f} {row['entailed']:>9.3f}")
    examples = [{"kind": p.kind, "keeps_meaning": p.keeps_meaning, "faithful": p.faithful, "rewritten": p.altered,
                 "verifier": list(scores["verifier"][i]), "learned": list(scores["learned"][i])}
                for i, p in enumerate(pairs)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rephrasings": rephrased, "human_labelled": human,
                                    "seconds": round(seconds, 1), "seed": args.seed, "claims": args.claims,
                                    "pairs": examples}, indent=1) + "\n", encoding="utf-8")


def _pairs(args: argparse.Namespace, *, language: Language) -> tuple[list[Alteration], list[str]]:
    """Return the alterations and rephrasings of the SQuAD and seed-corpus claims, and where each came from."""
    rng = random.Random(args.seed)
    squad = json.loads(args.squad.read_text(encoding="utf-8"))
    squad_claims_ = squad_claims(squad, limit=args.claims, rng=rng)
    articles, _ = load_corpus(args.corpus)
    corpus_claims_ = corpus_claims(articles)
    texts = list(dict.fromkeys(c for c, _ in squad_claims_ + corpus_claims_))
    parses = dict(zip(texts, language.parse_many(texts)))
    squad_pairs = build_alterations(squad_claims_, rng=rng, parses=parses)
    corpus_pairs = build_alterations(corpus_claims_, rng=rng, parses=parses)
    return squad_pairs + corpus_pairs, ["squad"] * len(squad_pairs) + ["seed corpus"] * len(corpus_pairs)


def human_rates(data: Path, *, checker: ClaimChecker) -> list[dict]:
    """Return, per set and label of the human-labelled dev claims, the share structure calls
    contradicted and entailed."""
    examples = [e for e in load_examples(data) if e.split == "dev" and e.set in ("expertqa", "frank_cnndm")]
    verdicts = checker.check_many([(normalize(e.claim), e.passages) for e in examples])
    rows = []
    for name in ("expertqa", "frank_cnndm"):
        for label, spelled in ((1, "supported"), (0, "unsupported")):
            found = [v for e, v in zip(examples, verdicts) if e.set == name and e.label == label]
            rows.append({"set": name, "label": spelled, "n": len(found),
                         "contradicted": _mean([v.contradicted for v in found]),
                         "entailed": _mean([v.entailed for v in found])})
    return rows


if __name__ == "__main__":
    main()
