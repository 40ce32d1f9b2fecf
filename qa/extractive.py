"""The default answerer, with no LLM: picks the sentence(s) of the retrieved paragraphs that answer
the question, cites each one, and refuses when the evidence does not cover the question."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


from qa.citations import defuse_markers
from qa.evidence import EvidenceScorer, SentenceScore, matches
from qa.models import Answer, Citation, Hit
from qa.terms import STOPWORDS, terms

REFUSAL = "The corpus does not contain an answer to this question."

# capitalised month names only: "may" is far more often a verb
_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
_DAY = r"(?:[Mm]onday|[Tt]uesday|[Ww]ednesday|[Tt]hursday|[Ff]riday|[Ss]aturday|[Ss]unday|yesterday|today|tomorrow)"
_DATE = re.compile(rf"\b(?:{_MONTH}\b|{_DAY}\b|\d{{3,4}}s?\b|\d{{1,2}}(?:st|nd|rd|th)\b|(?:[Ss]pring|[Ss]ummer|[Aa]utumn|"
                   rf"[Ww]inter|[Ff]all|century|centuries|decades?|era|period|ago|dynasty|age|war)\b)")
_NUMBER = re.compile(
    r"\b(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|dozens?|several|few|half)\b", re.I)
_CAUSE = re.compile(r"\b(?:because|since|due to|as a result|so that|in order to|to avoid|reason|after|amid|"
                    r"given|for fear|would|could|risk|since)\b", re.I)
_NAME = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")

# Answerability model: logistic regression over evidence features, fitted on SQuAD dev questions
# (answerable: gold paragraph retrieved; unanswerable: the gold article withheld) by bench/calibrate.py,
# on questions disjoint from bench/squad.py's evaluation sample; the type weight is held at 2.5.
ANSWERABLE_WEIGHTS = {"paragraph_lexical": 4.55, "lexical": 3.19, "dense": 7.89, "type": 2.5, "bias": -9.68}
PRONOUNS = frozenset({"he", "she", "they", "him", "her", "his", "hers", "their", "them", "it", "its"})
_ROLES = (r"President|Minister|Chancellor|Secretary|General|spokesman|spokeswoman|spokesperson|official|"
          r"leader|Senator|Governor|Mayor|Director|Chief|King|Queen|Pope|Prince|Dr|Mr|Mrs|Ms")
TYPE_MISMATCH = 0.25
FOLLOWUP_CONFIDENCE = 0.75


@dataclass
class Candidate:
    """A sentence that may answer the question."""

    hit_index: int
    sentence: SentenceScore
    score: float
    type_match: float


def answer_type(question: str) -> str:
    """Return the kind of answer a question expects: who, when, number, where, why or other.

    Only the first question word counts: "What did he say when asked?" is not a when-question."""
    q = question.lower()
    lead = re.search(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b", q)
    q = q[lead.start():] if lead else q
    if re.match(r"how (?:many|much|long|old|far)\b|what (?:number|percentage|share|amount)\b", q):
        return "number"
    if re.match(r"when\b|(?:what|which) (?:date|day|year|month|time)\b", q) or re.search(r"\bon what (?:date|day)\b", question.lower()):
        return "when"
    if re.match(r"who(?:m|se)?\b|which (?:person|official|leader|minister|president)\b", q) or re.search(r"\bname of\b", q):
        return "who"
    if re.match(r"where\b|in what (?:city|country|place)\b", q):
        return "where"
    if re.match(r"why\b|what (?:reason|caused)\b|how come\b", q):
        return "why"
    return "other"


def type_match(kind: str, sentence: str, question: str) -> float:
    """Return 1 when the sentence holds the kind of answer expected, 0 when not, 0.5 if untyped."""
    if kind == "other":
        return 0.5
    if kind == "when":
        return float(bool(_DATE.search(sentence)))
    if kind == "number":
        return float(bool(_NUMBER.search(sentence)))
    if kind == "why":
        return float(bool(_CAUSE.search(sentence)))
    asked = set(terms(question))
    found = []
    for match in _NAME.finditer(sentence):
        for name in names(match.group(0)):  # "The", "In" open sentences, not names
            if not set(terms(name)) <= asked:
                found.append((name, match.start() == _opening(sentence)))
    if kind == "who":
        # a person or body: a multi-word name, a name after a title, or the sentence's subject
        found = [(n, first) for n, first in found
                 if " " in n or first or re.search(rf"\b(?:{_ROLES})\s+{re.escape(n)}", sentence)]
    return float(bool(found))


def _opening(sentence: str) -> int:
    """Return the offset of the sentence's first word (after any opening quote or bracket)."""
    match = re.search(r"\w", sentence)
    return match.start() if match else 0


class ExtractiveAnswerer:
    """Answers by quoting the best sentence(s); every sentence carries its citation."""

    name = "extractive"

    def __init__(self, evidence: EvidenceScorer, *, min_confidence: float = 0.3) -> None:
        self.evidence = evidence
        self.min_confidence = min_confidence

    def answer(self, question: str, hits: list[Hit], *, query: str = "", avoid: dict[str, float] | None = None,
               prefer: dict[str, float] | None = None, referents: frozenset[str] = frozenset(),
               needs_link: bool = False) -> Answer:
        """Return a cited answer, or a refusal when the hits do not answer the question.

        `query` is the standalone form of a follow-up; `avoid` maps quotes already given in this
        conversation to a score penalty; `prefer` gives a score bonus to paragraphs a follow-up
        points at; `referents` are words of which a sentence must hold one to continue the
        conversation; with `needs_link` (a follow-up with no topic of its own) only such a
        continuation may answer."""
        query = query or question
        if not hits:
            return Answer(answer=REFUSAL, answerable=False, question=question, query=query)
        weights = self.evidence.query_weights(query)
        scored = self.evidence.score(self.evidence.query_vector(query), weights, hits)
        kind = answer_type(question)
        candidates = self._candidates(question, kind, hits, scored, avoid=avoid or {}, prefer=prefer or {})
        best = max(candidates, key=lambda c: c.score)
        confidence = self._confidence(weights, hits[best.hit_index], best, kind)
        if _continues(best, hits[best.hit_index], prefer=prefer or {}, avoid=avoid or {}, referents=referents):
            # a follow-up whose conversation points at this paragraph needs no lexical overlap of its own
            confidence = max(confidence, FOLLOWUP_CONFIDENCE)
        elif needs_link:
            confidence = 0.0  # its words are the earlier question's, which that turn already answered
        if confidence < self.min_confidence:
            return Answer(answer=REFUSAL, answerable=False, question=question, query=query, confidence=confidence)
        chosen = [best, *self._corroboration(best, candidates, hits)]
        citations = [_citation(i, hits[c.hit_index], c.sentence) for i, c in enumerate(chosen, start=1)]
        text = " ".join(_with_marker(defuse_markers(c.quote), c.marker) for c in citations)
        return Answer(answer=text, answerable=True, citations=citations, question=question, query=query,
                      confidence=confidence)

    def _candidates(self, question: str, kind: str, hits: list[Hit], scored: list[list[SentenceScore]], *,
                    avoid: dict[str, float], prefer: dict[str, float]) -> list[Candidate]:
        top = max(h.score for h in hits) or 1.0
        asked = set(terms(question))
        out = []
        for index, (hit, sentences) in enumerate(zip(hits, scored)):
            for s in sentences:
                text = hit.text[s.start:s.end]
                match = type_match(kind, text, question)
                novelty = 0.0 if set(terms(text)) <= asked else 0.1
                score = s.lexical + s.dense + 0.3 * match + 0.3 * hit.score / top + novelty
                score -= avoid.get(text, 0.0)
                score += prefer.get(hit.key, 0.0)
                out.append(Candidate(index, s, score, match))
        return out

    @staticmethod
    def evidence_features(weights: dict[str, float], hit: Hit, best: Candidate) -> dict[str, float]:
        """Return the answerability model's inputs for the best candidate sentence."""
        present = set(terms(f"{hit.title} {hit.section} {hit.text}"))  # headings give context too
        total = sum(weights.values()) or 1.0
        return {
            "paragraph_lexical": sum(w for t, w in weights.items() if matches(t, present)) / total,
            "lexical": best.sentence.lexical,
            "dense": best.sentence.dense,
            "type": best.type_match,
        }

    def _confidence(self, weights: dict[str, float], hit: Hit, best: Candidate, kind: str) -> float:
        features = self.evidence_features(weights, hit, best)
        z = ANSWERABLE_WEIGHTS["bias"] + sum(ANSWERABLE_WEIGHTS[k] * v for k, v in features.items())
        confidence = 1.0 / (1.0 + math.exp(-z))
        if kind in ("when", "number", "who") and not best.type_match:
            confidence *= TYPE_MISMATCH  # a date, count or name question whose evidence holds none
        return confidence

    @staticmethod
    def _corroboration(best: Candidate, candidates: list[Candidate], hits: list[Hit]) -> list[Candidate]:
        """Return one sentence from another article that says nearly as much, if any: news users
        want to see when a second outlet reports the same fact."""
        article = hits[best.hit_index].article_id
        others = [c for c in candidates if hits[c.hit_index].article_id != article
                  and c.score >= 0.9 * best.score and c.type_match >= best.type_match]
        return [max(others, key=lambda c: c.score)] if others else []


def _continues(best: Candidate, hit: Hit, *, prefer: dict[str, float], avoid: dict[str, float],
               referents: frozenset[str]) -> bool:
    """Return True when a follow-up's best sentence is new, of the expected kind, in a paragraph the
    conversation points at, and still about whom the question's pronoun means: it names them, or
    its pronoun is not bound by a name in an earlier sentence of its own paragraph."""
    text = hit.text[best.sentence.start:best.sentence.end]
    if prefer.get(hit.key, 0.0) < 0.2 or not best.type_match or text in avoid:
        return False
    if not referents:
        return True
    words = {w.lower() for w in re.findall(r"[\w'’-]+", text)}
    if (referents - PRONOUNS) & words:
        return True
    return bool(referents & PRONOUNS & words) and not names(hit.text[:best.sentence.start])


def names(text: str) -> list[str]:
    """Return the capitalised names in `text`, sentence-opening function words dropped."""
    found = []
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        while words and words[0].lower() in STOPWORDS:
            words.pop(0)
        if words:
            found.append(" ".join(words))
    return found


def _citation(marker: int, hit: Hit, sentence: SentenceScore) -> Citation:
    return Citation(marker=marker, article_id=hit.article_id, title=hit.title, paragraph=hit.paragraph,
                    text=hit.text, quote=hit.text[sentence.start:sentence.end], start=sentence.start, end=sentence.end)


def _with_marker(quote: str, marker: int) -> str:
    """Return the quote with its [marker] before a final full stop, or after a closing quote mark."""
    match = re.search(r"([.!?…]+)$", quote)
    if match:
        return f"{quote[:match.start()]} [{marker}]{quote[match.start():]}"
    return f"{quote} [{marker}]"
