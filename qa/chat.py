"""Follow-up questions: earlier turns are replayed (the extractive answerer is deterministic, so the
client only needs to send its earlier questions) and the new question is resolved against them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answer import Turn, answer_question
from qa.extractive import ExtractiveAnswerer, names
from qa.generative import LLMAnswerer
from qa.models import Answer
from qa.retrieve import Filters, Retriever
from qa.evidence import FRAMING
from qa.terms import stem, terms

# Earlier user turns replayed to resolve a follow-up: each costs a full retrieval, and a follow-up leans
# on the last turn or two, so older turns are dropped by the API and the CLI before they get here.
MAX_REPLAYED_TURNS = 5
_PRONOUN = re.compile(r"\b(?:he|she|they|him|her|his|hers|their|them|it|its|this|that|these|those)\b", re.I)
_NEXT = re.compile(r"\b(?:next|then|after that|afterwards|later|else|also|more)\b", re.I)
_OPENER = re.compile(r"^\s*(?:and|but|so|what about|how about)\b", re.I)
# words that ask for a kind of answer without naming a topic: "On what date?", "For what reason?"
_ASKING = frozenset(stem(w) for w in (
    "date", "day", "year", "month", "time", "place", "city", "country", "reason", "number", "exactly", "happen",
    "next", "then", "else", "later", "afterwards", "more", "also",
))


def resolve_turn(question: str, earlier: Sequence[tuple[str, Answer]]) -> Turn:
    """Return how to answer `question` given the earlier (question, answer) turns."""
    history = [(q, a.answer) for q, a in earlier]
    if not earlier:
        return Turn()
    last_question, last = earlier[-1]
    pronoun = bool(_PRONOUN.search(question))
    follows = bool(_NEXT.search(question))
    elliptical = not (set(terms(question)) - _ASKING - FRAMING)  # no topic of its own
    if not (pronoun or follows or elliptical or _OPENER.match(question)):
        return Turn(history=history)
    previous = last.query or last_question
    return Turn(
        query=f"{question} {previous}",
        # an elliptical question ("On what date?") means the earlier one; otherwise its own words count
        scoring_query=f"{question} {previous}" if elliptical else question,
        referents=_referents(question, last) if pronoun else frozenset(),
        needs_link=pronoun and elliptical,
        prefer=_preferred(last, follows=follows, pronoun=pronoun, elliptical=elliptical),
        # "what else / what next" and "What did he say?" want something not said yet; a pronoun
        # follow-up with a topic of its own may want the same sentence again ("What did he mean by it?")
        avoid={c.quote: 1.0 if follows or elliptical else 0.3 for _, a in earlier for c in a.citations}
        if follows or pronoun else {},
        history=history,
    )


def _referents(question: str, last: Answer) -> frozenset[str]:
    """Return the words that show a sentence still speaks of whom the question's pronoun means:
    the pronoun itself, or the last word of a name in the last answer ("Miller", "Pistorius")."""
    words = {m.group(0).lower() for m in _PRONOUN.finditer(question)}
    if last.answerable and last.citations:
        words |= {name.split()[-1].lower() for name in names(last.citations[0].quote)}
    return frozenset(words)


def _preferred(last: Answer, *, follows: bool, pronoun: bool, elliptical: bool) -> dict[str, float]:
    """Return score bonuses for the paragraphs a follow-up most likely points at: the one that
    answered last time (elliptical questions), or the ones after it ("what did he say next?")."""
    if not (last.answerable and last.citations):
        return {}
    cited = last.citations[0]
    at = lambda offset: f"{cited.article_id}:{cited.paragraph + offset}"  # noqa: E731
    if follows:
        return {at(1): 0.6, at(2): 0.3}
    if pronoun:
        return {at(0): 0.2, at(1): 0.2, at(2): 0.2}
    return {at(0): 0.5} if elliptical else {}


def answer_conversation(question: str, history: Sequence[str], *, retriever: Retriever,
                        answerer: ExtractiveAnswerer | LLMAnswerer, k: int = 5,
                        filters: Filters = Filters()) -> Answer:
    """Return the answer to `question` after the earlier user questions in `history`.

    Earlier turns are replayed with the extractive answerer even when an LLM answers: it is
    deterministic and cheap, and its cited answers are what follow-ups are resolved against."""
    replay = answerer if isinstance(answerer, ExtractiveAnswerer) else ExtractiveAnswerer(retriever.evidence)
    earlier: list[tuple[str, Answer]] = []
    for previous in history:
        turn = resolve_turn(previous, earlier)
        earlier.append((previous, answer_question(previous, retriever=retriever, answerer=replay, k=k,
                                                  filters=filters, turn=turn)))
    return answer_question(question, retriever=retriever, answerer=answerer, k=k, filters=filters,
                           turn=resolve_turn(question, earlier))
