"""Follow-up questions: earlier turns are replayed (the extractive answerer is deterministic, so the
client only needs to send its earlier questions) and the new question is resolved against them:
its pronouns and role nouns ("he", "she", "the spokesman", "that country") are replaced by whom the
earlier turns name, an elliptical question ("On what date?") borrows the earlier one, and "what did
he say next?" looks at the paragraphs after the last answer."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from qa.answer import Pipeline, Turn, answer_events, answer_question
from qa.evidence import FRAMING
from qa.extractive import Steer
from qa.lexicon import roles
from qa.models import Answer
from qa.retrieve import Filters
from qa.streaming import Event
from qa.terms import stem, terms

# Earlier user turns replayed to resolve a follow-up: each costs a full retrieval, and a follow-up leans
# on the last turn or two, so older turns are dropped by the API and the CLI before they get here.
MAX_REPLAYED_TURNS = 5
_PRONOUN = re.compile(r"\b(?:he|she|they|him|her|his|hers|their|them|it|its|this|that|these|those)\b", re.I)
_PERSON = re.compile(r"\b(he|she|him|her|his|hers)\b", re.I)
# "that country", "the city": not "the State Department", whose noun is capitalised and named on
_PLACE = re.compile(r"\b(?:[Tt]hat|[Tt]his|[Tt]he) (country|nation|city|capital)\b(?!\s+[A-Z])")
_ROLE = re.compile(r"\bthe ((?:[A-Z][a-z]+ )?(" + "|".join(sorted(roles(), key=len, reverse=True)) + r"))\b", re.I)
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
    asked, named = substitute_referents(question, earlier)
    if not (pronoun or follows or elliptical or _OPENER.match(question) or named):
        return Turn(history=history)
    previous = last.query or last_question
    if elliptical:  # "On what date?" means the earlier question, asking for a date
        asked = f"{asked} {previous}"
    return Turn(
        query=f"{asked} {previous}" if not elliptical else asked,
        asked=asked,
        scoring_query=asked if elliptical else "",
        steer=Steer(
            referents=_referents(question, last, named) if pronoun else frozenset(),
            needs_link=pronoun and elliptical,
            prefer=_preferred(last, follows=follows, pronoun=pronoun or bool(named), elliptical=elliptical),
            # "what else / what next" and "What did he say?" want something not said yet; a question
            # asking for a date or place of what was just quoted may want the same sentence again
            avoid={c.quote: 1.0 if follows or (elliptical and not _typed(question)) else 0.3
                   for _, a in earlier for c in a.citations} if follows or pronoun or named else {},
        ),
        history=history,
    )


def _typed(question: str) -> bool:
    """Return True for a question asking for a date, place, count or reason."""
    return bool(set(terms(question)) & _ASKING - {stem(w) for w in ("next", "then", "else", "more", "also")}) or bool(
        re.match(r"\s*(?:and\s+)?(?:when|where|why|how many|how much)\b", question, re.I))


def substitute_referents(question: str, earlier: Sequence[tuple[str, Answer]]) -> tuple[str, list[str]]:
    """Return the question with its person pronouns, role nouns and "that country" replaced by whom
    or what the latest turn names, and the names put in ("How did he describe Macron?" ->
    "How did Matthew Miller describe Macron?")."""
    people = _people(earlier)
    places = [text for _, a in reversed(earlier) for text, label, _ in a.entities if label == "GPE"]
    named: list[str] = []

    def person(match: re.Match) -> str:
        if not people:
            return match.group(0)
        name = people[0][0]
        named.append(name)
        return f"{name}'s" if match.group(1).lower() in ("his", "hers") else name

    def role(match: re.Match) -> str:
        wanted = {w for w in roles().get(match.group(2).lower(), ())} | {match.group(2).lower()}
        for name, title in people:
            if wanted & {w.lower() for w in title.split()}:
                named.append(name)
                return name
        return match.group(0)

    def place(match: re.Match) -> str:
        if not places:
            return match.group(0)
        named.append(places[0])
        return places[0]

    text = _PERSON.sub(person, question)
    text = _ROLE.sub(role, text)
    return _PLACE.sub(place, text), named


def _people(earlier: Sequence[tuple[str, Answer]]) -> list[tuple[str, str]]:
    """Return the persons of the conversation, latest first: the last answer's short answer, the
    persons its sentences name, then those of the turns before, each with their title."""
    out: list[tuple[str, str]] = []
    for _, answer in reversed(earlier):
        short = answer.short_answer
        found = [(t, title) for t, label, title in answer.entities if label == "PERSON"]
        if short is not None and short.label == "PERSON":
            titled = next((title for t, title in found if t.split()[-1] == short.text.split()[-1]), "")
            found.insert(0, (short.text, titled))
        for name, title in found:
            if all(name.split()[-1] != n.split()[-1] for n, _ in out):
                out.append((name, title))
    return out


def _referents(question: str, last: Answer, named: list[str]) -> frozenset[str]:
    """Return the words that show a sentence still speaks of whom the question's pronoun means:
    the pronoun itself, or the surname it was resolved to ("Miller", "Pistorius")."""
    words = {m.group(0).lower() for m in _PRONOUN.finditer(question)}
    words |= {name.split()[-1].lower() for name in named}
    return frozenset(words)


def _preferred(last: Answer, *, follows: bool, pronoun: bool, elliptical: bool) -> dict[str, float]:
    """Return score bonuses for the paragraphs a follow-up most likely points at: the one that
    answered last time (elliptical questions), or the ones after it ("what did he say next?")."""
    if not (last.answerable and last.citations):
        return {}
    cited = last.citations[-1] if follows else last.citations[0]
    at = lambda offset: f"{cited.article_id}:{cited.paragraph + offset}"  # noqa: E731
    if follows:
        return {at(1): 0.6, at(2): 0.3}
    if pronoun:
        return {at(0): 0.2, at(1): 0.2, at(2): 0.2}
    return {at(0): 0.5} if elliptical else {}


def answer_conversation(question: str, history: Sequence[str], *, pipeline: Pipeline, k: int = 5,
                        filters: Filters = Filters()) -> Answer:
    """Return the answer to `question` after the earlier user questions in `history` (the last
    MAX_REPLAYED_TURNS of them).

    Earlier turns are replayed with the extractive answerer even when an LLM answers: it is
    deterministic and cheap, and its cited answers are what follow-ups are resolved against."""
    turn = replay_turns(question, history, pipeline=pipeline, k=k, filters=filters)
    return answer_question(question, pipeline=pipeline, k=k, filters=filters, turn=turn)


def conversation_events(question: str, history: Sequence[str], *, pipeline: Pipeline, k: int = 5,
                        filters: Filters = Filters()) -> Iterator[Event]:
    """Yield the answer to `question` after the earlier questions as its stages finish (qa.answer.answer_events)."""
    turn = replay_turns(question, history, pipeline=pipeline, k=k, filters=filters)
    yield from answer_events(question, pipeline=pipeline, k=k, filters=filters, turn=turn)


def replay_turns(question: str, history: Sequence[str], *, pipeline: Pipeline, k: int = 5,
                 filters: Filters = Filters()) -> Turn:
    """Return how to answer `question`, resolved against the extractive answers of the earlier questions."""
    earlier: list[tuple[str, Answer]] = []
    for previous in list(history)[-MAX_REPLAYED_TURNS:] if MAX_REPLAYED_TURNS else []:
        turn = resolve_turn(previous, earlier)
        earlier.append((previous, answer_question(previous, pipeline=pipeline, k=k, filters=filters, turn=turn,
                                                  answerer=pipeline.replayer)))
    return resolve_turn(question, earlier)
