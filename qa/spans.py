"""The phrase of a sentence that answers a question, when no entity of an asked-for kind settles it
("What did the report highlight?", "Which two crises ..."): candidate phrases (entities, noun
phrases, numbers) scored by a conditional logit over their form and place in the sentence, its
weights fitted on SQuAD questions disjoint from bench/squad.py's sample by bench/fit_short_answer.py
(qa/data/short_answer_weights.json). Pure."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa.nlp import Parse
from qa.question import Question
from qa.terms import STOPWORDS, stem

WEIGHTS = Path(__file__).resolve().parent / "data" / "short_answer_weights.json"
LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "DATE", "TIME", "CARDINAL", "QUANTITY", "MONEY", "PERCENT",
          "ORDINAL", "EVENT", "WORK_OF_ART", "FAC", "LAW", "LANGUAGE", "PRODUCT")
DEPS = ("nsubj", "nsubjpass", "dobj", "pobj", "attr", "appos", "conj", "compound")
WH = ("what", "which", "how", "who", "when", "where", "why", "")


@dataclass(frozen=True)
class Span:
    """A candidate phrase: its token range in the parse and, for an entity, its label."""

    first: int
    last: int  # exclusive
    label: str = ""


def candidate_spans(parse: Parse, first: int, last: int) -> list[Span]:
    """Return the candidate phrases of the sentence at tokens [first, last): its entities, its noun
    phrases (with and without a following "of" phrase), and its numbers, each once."""
    found: dict[tuple[int, int], Span] = {}
    for e in parse.entities:
        if first <= e.first and e.last <= last:
            found[(e.first, e.last)] = Span(e.first, e.last, e.label)
    chunks = [(a, b) for a, b in parse.chunks if first <= a and b <= last]
    for a, b in chunks:
        a = a + 1 if parse.tokens[a].pos == "DET" and b - a > 1 else a  # "the" never counts in SQuAD's match
        found.setdefault((a, b), Span(a, b))
        after = next(((c, d) for c, d in chunks if c == b + 1 and parse.tokens[b].lemma == "of"), None)
        if after:
            found.setdefault((a, after[1]), Span(a, after[1]))
    for token in parse.tokens[first:last]:
        if token.pos == "NUM":
            found.setdefault((token.i, token.i + 1), Span(token.i, token.i + 1, token.ent))
    return [s for s in found.values() if not all(t.pos in ("PRON", "PUNCT", "DET") for t in parse.tokens[s.first:s.last])]


def span_features(question: Question, parse: Parse, span: Span, asked: set[str]) -> dict[str, float]:
    """Return the features of one candidate phrase for the question."""
    tokens = parse.tokens[span.first:span.last]
    stems = [stem(t.text.lower()) for t in tokens if t.text.lower() not in STOPWORDS and t.pos != "PUNCT"]
    shared = [t.i for t in parse.tokens if stem(t.text.lower()) in asked and not span.first <= t.i < span.last]
    distance = min((abs(i - span.first) for i in shared), default=30)
    head = max(tokens, key=lambda t: t.head < span.first or t.head >= span.last)
    root = next((t.i for t in parse.tokens if t.head == t.i), 0)
    focus = stem(question.focus) if question.focus else ""
    tree = _tree_distance(parse, head.i, shared)
    governor = parse.tokens[head.head]
    out = {
        "tree_distance": math.log1p(tree),
        "governor_asked": float(governor.i != head.i and stem(governor.text.lower()) in asked),
        "governor_verb": float(governor.pos in ("VERB", "AUX")),
        "overlap": sum(s in asked for s in stems) / max(1, len(stems)),
        "any_asked": float(any(s in asked for s in stems)),
        "distance": math.log1p(distance),
        "length": math.log1p(len(tokens)),
        "long": float(len(tokens) > 6),
        "entity": float(bool(span.label)),
        "fits": float(bool(question.labels) and span.label in question.labels),
        "typed_misfit": float(bool(question.labels) and span.label not in question.labels),
        "focus_inside": float(bool(focus) and focus in stems),
        "focus_next": float(bool(focus) and any(stem(t.text.lower()) == focus for t in parse.tokens[max(0, span.first - 2):span.last + 2])),
        "after_root": float(span.first > root),
        "bracketed": float(span.first > 0 and parse.tokens[span.first - 1].text == "("),
        "proper": sum(t.pos == "PROPN" for t in tokens) / len(tokens),
        "number": float(any(t.pos == "NUM" for t in tokens)),
    }
    out |= {f"label={label}": float(span.label == label) for label in LABELS}
    out |= {f"dep={dep}": float(head.dep == dep) for dep in DEPS}
    wh = question.wh.split()[0] if question.wh and question.wh != "yes-no" else ""
    out |= {f"wh={w}&entity": float(wh == w and bool(span.label)) for w in WH}
    out |= {f"wh={w}&number": float(wh == w and out["number"] > 0) for w in WH}
    return out


def _tree_distance(parse: Parse, index: int, targets: list[int]) -> int:
    """Return the fewest dependency arcs from token `index` to any of `targets` (30 when none)."""
    if not targets:
        return 30
    up = {}
    node, steps = index, 0
    while node not in up:
        up[node] = steps
        node, steps = parse.tokens[node].head, steps + 1
    best = 30
    for target in targets:
        node, steps = target, 0
        seen = set()
        while node not in up and node not in seen:
            seen.add(node)
            node, steps = parse.tokens[node].head, steps + 1
        if node in up:
            best = min(best, steps + up[node])
    return best


@lru_cache(maxsize=1)
def weights() -> dict[str, float]:
    """Return the fitted feature weights ({} before bench/fit_short_answer.py has run)."""
    if not WEIGHTS.is_file():
        return {}
    return json.loads(WEIGHTS.read_text(encoding="utf-8"))["weights"]


def best_span(question: Question, parse: Parse, first: int, last: int, *, asked: set[str],
              allowed=None) -> Span | None:
    """Return the best-scoring candidate phrase of the sentence at tokens [first, last) (among those
    `allowed` accepts), or None when it has none or no weights are fitted."""
    fitted = weights()
    spans = [s for s in candidate_spans(parse, first, last) if allowed is None or allowed(s)]
    if not fitted or not spans:
        return None
    score = lambda s: sum(fitted.get(k, 0.0) * v for k, v in span_features(question, parse, s, asked).items())  # noqa: E731
    return max(spans, key=score)
