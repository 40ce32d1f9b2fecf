"""The default answerer, with no LLM, the last stage of answering: from the scored sentences of the
retrieved paragraphs it picks the one that answers, lets it stand on its own (the sentence it leans
on, or whom its pronoun means), leads with the speaker when asked who said something, marks the
short answer, cites every sentence, and refuses when the evidence does not cover the question."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from qa.compose import Composer, Paragraphs
from qa.evidence import Evidence, SentenceScore
from qa.models import Answer, Hit
from qa.nlp import Parse
from qa.question import Question
from qa.shortanswer import pick_short_answer
from qa.structure import speaks
from qa.terms import terms

REFUSAL = "The corpus does not contain an answer to this question."

# Answerability model: logistic regression over evidence features, fitted on SQuAD dev questions
# (answerable: gold paragraph retrieved; unanswerable: the gold article withheld) by bench/calibrate.py,
# on questions disjoint from bench/squad.py's evaluation sample; the type weight is held at 2.5.
ANSWERABLE_WEIGHTS = {"paragraph_lexical": 4.55, "lexical": 3.19, "dense": 7.89, "type": 2.5, "bias": -9.68}
TYPE_MISMATCH = 0.25
NAMES_ONLY = 0.4
FOLLOWUP_CONFIDENCE = 0.75
# A statement whose speaker and words the question describes (who said X; what did Y say about Z)
# answers it even when the wording is far from the question's: confidence at least this, scaled by
# how much of what the question says was said it holds.
STATEMENT_CONFIDENCE = 0.8
# A name, date or count in a statement made by the person a strict question names ("When did Kallas
# make her remarks?", "Where did Miller speak?") answers it: confidence at least this.
SPOKEN_CONFIDENCE = 0.6
PRONOUNS = frozenset({"he", "she", "they", "him", "her", "his", "hers", "their", "them", "it", "its"})


@dataclass
class Candidate:
    """A sentence that may answer the question."""

    index: int  # which Evidence
    sentence: SentenceScore
    score: float


@dataclass
class Steer:
    """What a follow-up needs the answerer to know of the conversation (see qa.answer.Turn)."""

    avoid: dict[str, float] = field(default_factory=dict)  # quotes already given -> score penalty
    prefer: dict[str, float] = field(default_factory=dict)  # paragraph address -> score bonus
    referents: frozenset[str] = frozenset()  # words of which a sentence must hold one to continue the last answer
    needs_link: bool = False  # no topic of its own ("What did he say?"): only a continuation answers


class ExtractiveAnswerer:
    """Answers by quoting the best sentence(s); every sentence carries its citation."""

    name = "extractive"

    def __init__(self, *, paragraphs: Paragraphs | None = None, parse: Callable[[str], Parse] | None = None,
                 min_confidence: float = 0.3) -> None:
        self.paragraphs = paragraphs  # fetches the paragraphs a chosen sentence leans on, by address
        self.parse = parse  # parses the chosen sentence for its short answer
        self.min_confidence = min_confidence

    def answer(self, question: Question, evidence: list[Evidence], *, steer: Steer | None = None) -> Answer:
        """Return a cited answer to `question` from the scored evidence, or a refusal when it does not
        answer. `steer` carries what a follow-up's conversation points at."""
        steer = steer or Steer()
        refusal = Answer(answer=REFUSAL, answerable=False, question=question.text)
        candidates = self._candidates(question, evidence, steer)
        if not candidates:
            return refusal
        best = max(candidates, key=lambda c: c.score)
        item = evidence[best.index]
        confidence = self._confidence(question, item, best.sentence)
        if _continues(best, item.hit, steer):
            # a follow-up whose conversation points at this paragraph needs no lexical overlap of its own
            confidence = max(confidence, FOLLOWUP_CONFIDENCE)
        elif steer.needs_link:
            confidence = 0.0  # its words are the earlier question's, which that turn already answered
        if confidence < self.min_confidence:
            refusal.confidence = confidence
            return refusal
        # a second outlet's sentence, unless the conversation points at the paragraph to answer from
        chosen = [best, *([] if steer.prefer else self._corroboration(best, candidates, evidence))]
        answer = self._compose(question, evidence, chosen)
        answer.confidence = confidence
        return answer

    def _candidates(self, question: Question, evidence: list[Evidence], steer: Steer) -> list[Candidate]:
        top = max((e.hit.score for e in evidence), default=1.0) or 1.0
        asked = set(terms(question.text))
        out = []
        for index, item in enumerate(evidence):
            for s in item.sentences:
                if s.violation or s.notes.kind:  # breaks a stated date or number; a question or a headline
                    continue
                text = item.hit.text[s.start:s.end]
                if steer.avoid.get(text, 0.0) >= 1.0:  # "what else", "what next": never the same again
                    continue
                novelty = 0.0 if set(terms(text)) <= asked else 0.1
                score = s.lexical + s.dense + 0.3 * s.type_match + 0.3 * item.hit.score / top + novelty
                score += 0.3 * (s.constraints - 1.0) + 0.3 * s.speaker + 0.6 * s.support - 0.5 * s.names_only
                score += steer.prefer.get(item.hit.key, 0.0) - steer.avoid.get(text, 0.0)
                out.append(Candidate(index, s, score))
        return out

    def _confidence(self, question: Question, item: Evidence, best: SentenceScore) -> float:
        features = evidence_features(item, best)
        z = ANSWERABLE_WEIGHTS["bias"] + sum(ANSWERABLE_WEIGHTS[k] * v for k, v in features.items())
        confidence = 1.0 / (1.0 + math.exp(-z))
        if question.strict and not best.type_match:
            confidence *= TYPE_MISMATCH  # a name, date or count question whose evidence holds none
        if best.support and best.constraints >= 0.75:
            confidence = max(confidence, STATEMENT_CONFIDENCE * min(1.0, best.support))
        elif _asks_what_was_said(question) and best.speaker < 0.5:
            confidence *= TYPE_MISMATCH  # asks what a named speaker said, and this is no statement of theirs
        elif best.reverses:
            confidence *= TYPE_MISMATCH  # it says the opposite of what the question says was said
        elif best.names_only:
            # it shares the question's names but none of its other words: a paraphrase ("What animals
            # did Tesla care for?" / "...to feed the pigeons") or a sentence about someone else's matter
            confidence *= NAMES_ONLY
        elif question.strict and best.type_match >= 1.0 and best.constraints >= 1.0 and speaks(question, best.notes):
            # "When did Kallas make her remarks?": the kind asked for, in a statement by the person named
            confidence = max(confidence, SPOKEN_CONFIDENCE)
        return confidence

    @staticmethod
    def _corroboration(best: Candidate, candidates: list[Candidate], evidence: list[Evidence]) -> list[Candidate]:
        """Return one sentence from another article that says nearly as much, if any: news users
        want to see when a second outlet reports the same fact."""
        article = evidence[best.index].hit.article_id
        others = [c for c in candidates if evidence[c.index].hit.article_id != article
                  and c.score >= 0.9 * best.score and c.sentence.type_match >= best.sentence.type_match]
        return [max(others, key=lambda c: c.score)] if others else []

    def _compose(self, question: Question, evidence: list[Evidence], chosen: list[Candidate]) -> Answer:
        """Return the answer quoting the chosen sentences, each with what it leans on, cited."""
        composer = Composer(evidence, paragraphs=self.paragraphs)
        for candidate in chosen:
            composer.add(question, evidence[candidate.index], candidate.sentence)
        short = pick_short_answer(question, evidence[chosen[0].index], chosen[0].sentence, composer, parse=self.parse)
        return composer.answer(question, short_answer=short)


def evidence_features(item: Evidence, best: SentenceScore) -> dict[str, float]:
    """Return the answerability model's inputs for the best candidate sentence."""
    return {"paragraph_lexical": item.lexical, "lexical": best.lexical, "dense": best.dense, "type": best.type_match}


def _asks_what_was_said(question: Question) -> bool:
    """Return True for "What did Joe Biden say about Macron?" or "How did Moscow describe it?": what a
    speaker the question names said, not some detail of it ("In what setting did Macron ...")."""
    named = any(w[:1].isupper() for w in question.speaker.split())
    return named and bool(question.verb) and question.wh in ("what", "how") and not question.focus


def _continues(best: Candidate, hit: Hit, steer: Steer) -> bool:
    """Return True when a follow-up's best sentence is new, of the expected kind, in a paragraph the
    conversation points at, and still about whom the question's pronoun means: it names them, or
    its pronoun is resolved to them, or not bound by a name earlier in its own paragraph."""
    text = hit.text[best.sentence.start:best.sentence.end]
    if steer.prefer.get(hit.key, 0.0) < 0.2 or not best.sentence.type_match or steer.avoid.get(text, 0.0) >= 1.0:
        return False
    if not steer.referents:
        return True
    named = {w.lower() for w in text.replace("’", "'").split()}
    named |= {w.lower() for r in best.sentence.notes.referents for w in r.name.split()}
    named = {w.strip(".,;:!?\"'()") for w in named}
    if (steer.referents - PRONOUNS) & named:
        return True
    earlier = [m for m in best.sentence.notes.mentions if m.label == "PERSON"]
    return bool(steer.referents & PRONOUNS & named) and not earlier and not best.sentence.notes.referents
