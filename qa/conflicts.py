"""Facts in conflict: where a claim sentence and the cited sentence it rests on put different numbers,
dates, names or places in the same role, or the same name in opposite roles; pure, over
qa.alignment frames. qa.contradiction turns what these find into verdicts.
"""

from __future__ import annotations

import re
from dataclasses import replace

from qa.alignment import UNKNOWN, Fact, Frame, plain_word
from qa.nlp import Parse, Token

ENTITIES = frozenset({"name", "place"})  # kinds that compete for a role with each other
SWAPPABLE = frozenset({"number", "date"})  # kinds whose only rival counts though its role differs
_ARGUMENT = re.compile(r"^(subject|object):(.+)$")


def fact_conflict(claim: Frame, source: Frame) -> tuple[str, str] | None:
    """Return (kind, reason) for the first fact of the claim whose role the source fills with another
    fact of its kind that the claim does not state in that role (a number or date the source lacks
    may also meet the source's only other one of its kind, whatever its role)."""
    lacking = [f for f in claim.facts if not fact_matched(f, source)]
    extra = [g for g in source.facts if not fact_matched(g, claim)]
    for fact in claim.facts:
        variant = next((g for g in source.facts if _variant(fact, g)), None) if fact in lacking else None
        if variant is not None:  # "Lord von Bora" for "Katharina von Bora"
            return "name", _has(variant, fact)
        if any(_same_role(fact, g) and _overlap(fact, g) for g in source.facts):
            continue  # the source says it in that very role
        if fact not in lacking:
            continue
        rivals = [g for g in source.facts if _comparable(fact, g) and _same_role(fact, g) and not _overlap(fact, g)
                  and not any(_same_role(h, g) and _overlap(h, g) for h in claim.facts)]
        if not rivals and fact.kind in SWAPPABLE:
            others = [g for g in extra if _comparable(fact, g)]
            if len(others) == 1 and sum(1 for f in lacking if _comparable(f, others[0])) == 1:
                rivals = others
        if rivals:
            return fact.kind, _has(rivals[0], fact)
    return None


def _variant(mine: Fact, theirs: Fact) -> bool:
    """Return True for two names of two words or more sharing the word a mention must carry but each
    with a word the other lacks: another person of that family, another museum of that name."""
    if mine.kind != "name" or theirs.kind != "name" or not mine.keys & theirs.keys:
        return False
    a, b = _words(mine), _words(theirs)
    return len(a) >= 2 and len(b) >= 2 and bool(a - b) and bool(b - a)


def _words(fact: Fact) -> set[str]:
    return {plain_word(w) for w in fact.text.split()} - {"the", "of", "and"}


def _demonym(fact: Fact) -> bool:
    """Return True for a place named by the word for its people ("German", "the Briton")."""
    return fact.label == "NORP"


def _same_role(mine: Fact, theirs: Fact) -> bool:
    return mine.role == theirs.role or (bool(mine.head) and mine.head == theirs.head)


def _overlap(mine: Fact, theirs: Fact) -> bool:
    """Return True when two facts state the same thing: a shared value, date part, place or name word."""
    if mine.kind == "date" and theirs.kind == "date":
        return mine.keys <= theirs.keys or theirs.keys <= mine.keys
    return bool(mine.keys & theirs.keys)


def _has(theirs: Fact, mine: Fact) -> str:
    if mine.kind == "name":
        return f"the cited sentence names {theirs.text} where the claim names {mine.text}"
    return f"the cited sentence has {theirs.text} where the claim has {mine.text}"


def _comparable(mine: Fact, theirs: Fact) -> bool:
    if mine.kind in ENTITIES and (_words(mine) <= _words(theirs) or _words(theirs) <= _words(mine)):
        return False  # "Pat Ingles" and "Pat", "Porto" and "Porto AGE": one name written two ways
    if mine.kind != theirs.kind:  # "Berlin mentioned" for "Macron mentioned", not "the Briton" for "Hamilton"
        return mine.kind in ENTITIES and theirs.kind in ENTITIES and not _demonym(mine) and not _demonym(theirs)
    if mine.kind == "date":  # "March" and "2024" do not compete; "March 4" and "March 5" do
        parts = {k.split(":")[0] for k in mine.keys} & {k.split(":")[0] for k in theirs.keys}
        return bool(parts)
    return True


def fact_matched(fact: Fact, frame: Frame) -> bool:
    """Return True when `frame` states the fact: the same number or date (parts), a place it names
    by any of its names, the name's words."""
    theirs = [g for g in frame.facts if g.kind == fact.kind]
    if fact.kind == "number":
        return fact.keys <= frame.keys or any(fact.keys <= g.keys for g in theirs)
    if fact.kind == "date":  # one date of the frame must hold every part ("plans for 1756" is not "December 1755")
        return any(fact.keys <= g.keys for g in frame.facts if g.kind == "date") or (
            all(k.startswith("year:") for k in fact.keys) and fact.keys <= {
                f"year:{w}" for w in frame.words if w.isdigit()} and not any(g.kind == "date" for g in frame.facts))
    if fact.kind == "place":
        return bool(fact.keys & frame.keys)
    return fact.keys <= frame.words


def slot_conflict(claim: Frame, source: Frame) -> tuple[str, str] | None:
    """Return (kind, reason) when a name, place, number or date of the source is gone from the claim
    and a capitalised word or figure the source lacks fills its slot: the same dependency on the same
    word ("demonstrated by However" for "demonstrated by Euclid")."""
    parse, stated = claim.parse, claim.keys | claim.words
    for fact in source.facts:
        if fact_matched(fact, claim) or fact.keys & stated:
            continue
        root = source.parse.tokens[_root(source.parse, fact)]
        head = source.parse.tokens[root.head].lemma
        for token in parse.tokens[claim.span[0]:claim.span[1]]:
            if (token.dep == root.dep and parse.tokens[token.head].lemma == head and token.head != token.i
                    and plain_word(token.text) not in source.words and _named(token, parse, claim=claim)):
                first, last = parse.subtree(token.i)
                return fact.kind, _has(fact, replace(fact, text=parse.text[parse.tokens[first].start:
                                                                         parse.tokens[last - 1].end]))
    return None


def _root(parse: Parse, fact: Fact) -> int:
    inside = range(fact.first, fact.last)
    return next((i for i in inside if parse.tokens[i].head not in inside or parse.tokens[i].head == i), fact.first)


def _named(token: Token, parse: Parse, *, claim: Frame) -> bool:
    """Return True for a word written as a name or figure past the sentence's first word."""
    return token.i > claim.span[0] and plain_word(token.text) not in UNKNOWN and (
        token.text[:1].isupper() or any(c.isdigit() for c in token.text))


def role_conflict(claim: Frame, source: Frame) -> tuple[str, str] | None:
    """Return ("role", reason) when a name the claim makes the subject of a verb is only that verb's
    object in the source, or the reverse ("Scholz criticized Macron" for "Macron criticized Scholz")."""
    for fact in claim.facts:
        mine = _ARGUMENT.match(fact.role)
        if not mine or fact.kind not in ("name", "place"):
            continue
        same = [g for g in source.facts if g.kind == fact.kind and g.keys & fact.keys]
        roles = [_ARGUMENT.match(g.role) for g in same]
        verb = [r for r in roles if r and r.group(2) == mine.group(2)]
        if verb and all(r.group(1) != mine.group(1) for r in verb):
            return "role", (f"the cited sentence has {fact.text} as the {verb[0].group(1)} of “{mine.group(2)}”, "
                            f"the claim as its {mine.group(1)}")
    return None
