"""Claim-level verdicts for one answer: faithfulness and ALCE citation recall and precision.

An answer is split into sentences, each with the [n] markers it carries; a judge may split a sentence
further into claims, which keep the sentence's markers. For every claim the judge scores:
  - its cited passages together (a claim without markers: every passage the answer had) -> faithfulness
    and citation recall (Gao et al. 2023, ALCE: a claim without citations has recall 0);
  - each cited passage alone, and, when the claim has several citations, the others without it ->
    citation precision as ALCE computes it: when the citations together support the claim, a citation
    is precise if it supports the claim alone or the others do not without it; when they do not
    support it, none of its citations is precise.
All pairs of an answer go to the judge in one batch. A claim its cited sentence contradicts (qa.contradiction:
a changed number, date, name or place, a reversed polarity or stance, an added qualifier) is
unsupported whatever the judge's own score, and carries the kind of contradiction and its one-line
reason. Each claim also lists the numbers and names it
states that what it cites never mentions, those that differ from the cited sentence it otherwise
follows, and whether it disagrees with that sentence on negation, whatever the judge says, for the
reader of the verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from qa.citations import parse_markers
from qa.contradiction import Verdict
from qa.evaluation.features import fact_notes

# phrases with which answerers decline; an answer that is only this has no claims to check
_REFUSAL = re.compile(
    r"\b(?:does not contain|do not contain|doesn't contain|cannot answer|can't answer|unable to answer|"
    r"no information|not (?:mentioned|stated|covered)|i don't know|i do not know|not enough information)\b",
    re.IGNORECASE)


class Judge(Protocol):
    """What scores claims: the offline verifier or an LLM judge."""

    name: str
    threshold: float

    def claims(self, sentence: str) -> list[str]:
        """Return the claims a sentence makes (the sentence itself when not decomposed)."""

    def support_many(self, pairs: Sequence[tuple[str, Sequence[str]]]) -> list[float]:
        """Return, for each (claim, passages), the probability that the passages support the claim."""

    def assess_many(self, pairs: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[float, Verdict]]:
        """Return, for each (claim, passages), that probability and the structural verdict behind it."""


@dataclass
class CitationVerdict:
    """One citation of a claim: does it support the claim alone, is it needed among the others."""

    marker: int
    support: float
    supports: bool
    needed: bool


@dataclass
class ClaimVerdict:
    """One claim of an answer, its markers and whether what it cites supports it."""

    text: str
    markers: list[int]
    support: float
    supported: bool
    citations: list[CitationVerdict] = field(default_factory=list)
    not_in_source: list[str] = field(default_factory=list)  # its numbers and names what it cites lacks
    swapped: list[tuple[str, str]] = field(default_factory=list)  # (its, the closest cited sentence's) facts
    negation_flipped: bool = False  # it disagrees on negation with the cited sentence it follows
    contradiction: str = ""  # what its cited sentence contradicts: number, date, name, place, role, polarity...
    reason: str = ""  # that contradiction in one line ("the cited sentence has 20 where the claim has 30")


@dataclass
class AnswerScore:
    """The verdicts of one answer and its own scores (None where nothing was there to score)."""

    claims: list[ClaimVerdict]
    faithfulness: float | None
    citation_recall: float | None
    citation_precision: float | None

    def to_dict(self) -> dict:
        """Return the JSON-ready form."""
        return asdict(self)


def is_refusal(answer: str) -> bool:
    """Return True when the answer has no text or only declines to answer."""
    text = answer.strip()
    return not text or (bool(_REFUSAL.search(text)) and not re.search(r"\[\d", text))


def score_answer(answer: str, passages: dict[int, str], *, judge: Judge) -> AnswerScore:
    """Return the verdicts of an answer whose [n] markers refer to `passages` (marker -> text)."""
    claims = [(claim, list(markers)) for sentence, markers in parse_markers(answer)
              for claim in judge.claims(sentence) if claim.strip()]
    if not claims:
        return AnswerScore(claims=[], faithfulness=None, citation_recall=None, citation_precision=None)
    everything = list(passages.values())
    pairs: list[tuple[str, list[str]]] = []
    plans = []
    for claim, markers in claims:
        cited = [passages[m] for m in markers if m in passages]
        group = len(pairs)
        pairs.append((claim, cited if markers else everything))
        alone = {}
        for m in markers:
            alone[m] = len(pairs)
            pairs.append((claim, [passages[m]] if m in passages else []))
        without = {}
        if len(markers) > 1:
            for m in markers:
                without[m] = len(pairs)
                pairs.append((claim, [passages[o] for o in markers if o != m and o in passages]))
        plans.append((claim, markers, group, alone, without))
    assessed = judge.assess_many(pairs)
    scores = [score for score, _ in assessed]
    verdicts = [_verdict(plan, scores, judge.threshold, cited=pairs[plan[2]][1], structure=assessed[plan[2]][1])
                for plan in plans]
    return _answer_score(verdicts)


def _verdict(plan: tuple, scores: list[float], threshold: float, *, cited: list[str],
             structure: Verdict) -> ClaimVerdict:
    claim, markers, group, alone, without = plan
    support = scores[group]
    supported = support >= threshold
    citations = []
    for m in markers:
        alone_support = scores[alone[m]]
        supports = alone_support >= threshold
        if len(markers) > 1:
            needed = supported and scores[without[m]] < threshold
        else:
            needed = supported
        citations.append(CitationVerdict(marker=m, support=alone_support, supports=supports, needed=needed))
    notes = fact_notes(claim, cited)
    return ClaimVerdict(text=claim, markers=markers, support=support, supported=supported, citations=citations,
                        not_in_source=notes.not_in_source, swapped=notes.swapped,
                        negation_flipped=notes.negation_flipped, contradiction=structure.kind,
                        reason=structure.reason)


def _answer_score(verdicts: list[ClaimVerdict]) -> AnswerScore:
    faithful = sum(v.supported for v in verdicts) / len(verdicts)
    recall = sum(v.supported and bool(v.markers) for v in verdicts) / len(verdicts)
    cited = [c for v in verdicts for c in v.citations]
    precise = sum(1 for v in verdicts for c in v.citations if v.supported and (c.supports or c.needed))
    precision = precise / len(cited) if cited else None
    return AnswerScore(claims=verdicts, faithfulness=faithful, citation_recall=recall, citation_precision=precision)
