"""Does the support verifier score a faithful claim above the same claim with one fact changed?

    python bench/alterations.py [--squad ../shared/data/squad-dev-v1.1.json] [--corpus corpus]
                                [--claims 400] [--seed 0] [--out bench/results/alterations.json]
                                [--faithfulness ../shared/data/faithfulness]

Faithful claims: the answer-bearing sentences of --claims sampled SQuAD v1.1 dev paragraphs (the
paragraph is the source) and every sentence of the seed corpus (its article's paragraphs are the
source). qa.evaluation.alterations changes exactly one name, number, date or verb polarity in each.
Reports, per kind and source and overall, the share of pairs where support(faithful) >
support(altered) (ties count as failures), next to the same share for the two validation baselines,
the share of altered claims the verifier rejects outright (support below its threshold), and the
share of claims that get each of the report's notes (qa.evaluation.features.fact_notes: numbers and
names the source never mentions; a number or name where the closest source sentence has another;
negated where the closest source sentence is not, or the reverse): altered
claims (caught) and faithful ones (false alarms). With --faithfulness DIR, the same
notes' rates on the human-labelled dev claims there, supported and not (false alarms on claims people
accept). Prints tables and writes JSON.
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
from qa.evaluation.alterations import KINDS, Alteration, build_alterations, corpus_claims, squad_claims  # noqa: E402
from qa.evaluation.features import fact_notes  # noqa: E402
from qa.evaluation.validation import Example, cosine_scores, load_examples, overlap_scores  # noqa: E402
from qa.evaluation.verifier import SupportVerifier  # noqa: E402

DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"
DEFAULT_FAITHFULNESS = ROOT.parent / "shared" / "data" / "faithfulness"
SCORERS = ("verifier", "overlap", "minilm_cosine")
COLUMNS = (*SCORERS, "altered_rejected", "altered_noted", "faithful_noted", "altered_swapped", "faithful_swapped",
           "altered_flipped", "faithful_flipped", "altered_any_note", "faithful_any_note")


def score_pairs(pairs: Sequence[Alteration], *, verifier: SupportVerifier,
                embedder) -> dict[str, list[tuple[float, float]]]:
    """Return per scorer the (faithful, altered) scores of every pair, the verifier in one batch."""
    faithful = {(p.faithful, p.passages): None for p in pairs}
    texts = list(faithful) + [(p.altered, p.passages) for p in pairs]
    examples = [Example(set="alterations", split="test", claim=c, passages=s, label=1) for c, s in texts]
    raw = {
        "verifier": verifier.support_many(texts),
        "overlap": overlap_scores(examples),
        "minilm_cosine": cosine_scores(examples, embedder=embedder),
    }
    index = {key: i for i, key in enumerate(faithful)}
    offset = len(faithful)
    return {name: [(values[index[(p.faithful, p.passages)]], values[offset + i]) for i, p in enumerate(pairs)]
            for name, values in raw.items()}


def summarise(pairs: Sequence[Alteration], origins: Sequence[str], scores: dict, *, threshold: float) -> dict:
    """Return n, the share faithful > altered per scorer and the share of altered claims below the
    verifier's threshold, overall, per kind and per source."""
    groups = {"overall": list(range(len(pairs)))}
    groups.update({f"kind:{k}": [i for i, p in enumerate(pairs) if p.kind == k] for k in KINDS})
    groups.update({f"source:{o}": [i for i, x in enumerate(origins) if x == o] for o in dict.fromkeys(origins)})
    rejected = scores["verifier"]
    notes = [(fact_notes(p.faithful, p.passages), fact_notes(p.altered, p.passages)) for p in pairs]
    noted = [(bool(f.not_in_source), bool(a.not_in_source)) for f, a in notes]
    swaps = [(bool(f.swapped), bool(a.swapped)) for f, a in notes]
    flips = [(f.negation_flipped, a.negation_flipped) for f, a in notes]
    return {
        name: {"n": len(members), **{s: _share(scores[s], members) for s in SCORERS},
               "altered_rejected": _mean([rejected[i][1] < threshold for i in members]),
               "altered_noted": _mean([noted[i][1] for i in members]),
               "faithful_noted": _mean([noted[i][0] for i in members]),
               "altered_swapped": _mean([swaps[i][1] for i in members]),
               "faithful_swapped": _mean([swaps[i][0] for i in members]),
               "altered_flipped": _mean([flips[i][1] for i in members]),
               "faithful_flipped": _mean([flips[i][0] for i in members]),
               "altered_any_note": _mean([bool(notes[i][1]) for i in members]),
               "faithful_any_note": _mean([bool(notes[i][0]) for i in members])}
        for name, members in groups.items()
    }


def _mean(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _share(values: list[tuple[float, float]], members: list[int]) -> float | None:
    if not members:
        return None
    return sum(values[i][0] > values[i][1] for i in members) / len(members)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--claims", type=int, default=400, help="SQuAD answer sentences to alter")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "alterations.json")
    parser.add_argument("--faithfulness", type=Path, default=DEFAULT_FAITHFULNESS,
                        help="human-labelled claims for the notes' false alarms (empty string: skip)")
    args = parser.parse_args()
    started = time.monotonic()
    rng = random.Random(args.seed)
    squad = json.loads(args.squad.read_text(encoding="utf-8"))
    squad_pairs = build_alterations(squad_claims(squad, limit=args.claims, rng=rng), rng=rng)
    articles, _ = load_corpus(args.corpus)
    corpus_pairs = build_alterations(corpus_claims(articles), rng=rng)
    pairs = squad_pairs + corpus_pairs
    origins = ["squad"] * len(squad_pairs) + ["seed corpus"] * len(corpus_pairs)
    embedder = build_embedder(get_settings())
    verifier = SupportVerifier(embedder)
    scores = score_pairs(pairs, verifier=verifier, embedder=embedder)
    summary = summarise(pairs, origins, scores, threshold=verifier.threshold)
    seconds = time.monotonic() - started
    print(f"{'group':<20} {'n':>5}  " + "  ".join(f"{s:>16}" for s in COLUMNS))
    for name, row in summary.items():
        cells = "  ".join(f"{row[s]:>16.3f}" if row[s] is not None else f"{'-':>16}" for s in COLUMNS)
        print(f"{name:<20} {row['n']:>5}  {cells}")
    print(f"share of pairs with support(faithful) > support(altered); altered_rejected: share of altered "
          f"claims with verifier support below its threshold {verifier.threshold}; *_noted: share of claims "
          f"noted for numbers or names the source lacks; *_swapped: noted for one differing from the closest "
          f"source sentence; *_flipped: noted for negation; *_any_note: any of the three; {seconds:.0f} s")
    human = human_rates(args.faithfulness) if args.faithfulness else None
    if human:
        print(f"\nnotes on human-labelled dev claims ({args.faithfulness})")
        print(f"{'set':<14} {'label':<12} {'n':>5} {'noted':>7} {'swapped':>8} {'flipped':>8} {'any':>6}")
        for row in human:
            print(f"{row['set']:<14} {row['label']:<12} {row['n']:>5} {row['noted']:>7.3f} {row['swapped']:>8.3f}"
                  f" {row['flipped']:>8.3f} {row['any']:>6.3f}")
    examples = [{"kind": p.kind, "faithful": p.faithful, "altered": p.altered,
                 "verifier": list(scores["verifier"][i])} for i, p in enumerate(pairs)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "human_labelled_notes": human, "seconds": round(seconds, 1),
                                    "seed": args.seed, "claims": args.claims, "pairs": examples}, indent=1) + "\n",
                        encoding="utf-8")


def human_rates(data: Path) -> list[dict]:
    """Return, per set and label of the human-labelled dev claims, the share given each note."""
    examples = [e for e in load_examples(data) if e.split == "dev" and e.set in ("expertqa", "frank_cnndm")]
    rows = []
    for name in ("expertqa", "frank_cnndm"):
        for label, spelled in ((1, "supported"), (0, "unsupported")):
            notes = [fact_notes(e.claim, e.passages) for e in examples if e.set == name and e.label == label]
            rows.append({"set": name, "label": spelled, "n": len(notes),
                         "noted": _mean([bool(n.not_in_source) for n in notes]),
                         "swapped": _mean([bool(n.swapped) for n in notes]),
                         "flipped": _mean([n.negation_flipped for n in notes]),
                         "any": _mean([bool(n) for n in notes])})
    return rows


if __name__ == "__main__":
    main()
