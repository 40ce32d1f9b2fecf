"""The word lists under qa/data, loaded once: speech and stance verbs, role nouns, places and the
words that name them, answer kinds. Pure apart from reading those files."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def _lines(name: str) -> list[str]:
    """Return the non-comment, non-blank lines of a data file."""
    text = (DATA / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@lru_cache(maxsize=1)
def speech_verbs() -> frozenset[str]:
    """Return the lemmas of verbs of saying and stance ("say", "rule out", "emphasize"...)."""
    return frozenset(_lines("speech_verbs.txt"))


@lru_cache(maxsize=1)
def speech_nouns() -> frozenset[str]:
    """Return the lemmas of nouns naming a statement ("remark", "suggestion", "call")."""
    return frozenset(_lines("speech_nouns.txt"))


@lru_cache(maxsize=1)
def roles() -> dict[str, frozenset[str]]:
    """Return {role noun: the title words a person it stands for may carry}."""
    raw = json.loads((DATA / "roles.json").read_text(encoding="utf-8"))
    return {noun: frozenset(words) for noun, words in raw.items() if not noun.startswith("_")}


@lru_cache(maxsize=1)
def answer_kinds() -> dict[str, frozenset[str]]:
    """Return {question focus noun: the entity labels that answer it} ("leader" -> PERSON)."""
    raw = json.loads((DATA / "answer_kinds.json").read_text(encoding="utf-8"))
    by_noun: dict[str, set[str]] = {}
    for labels, nouns in raw.items():
        if labels.startswith("_"):
            continue
        for noun in nouns:
            by_noun.setdefault(noun, set()).update(labels.split("|"))
    return {noun: frozenset(labels) for noun, labels in by_noun.items()}


def place_key(name: str) -> str:
    """Return a place name as the gazetteer writes it: lower case, no "the", no full stops, one space."""
    name = name.lower().replace(".", "").replace("’", "'")
    name = re.sub(r"'s$", "", name)
    name = re.sub(r"^the\s+", "", name.strip())
    return re.sub(r"\s+", " ", name).strip()


@lru_cache(maxsize=1)
def _gazetteer() -> dict[str, frozenset[str]]:
    """Return {alias: the places it names}: a country's own name, demonyms and capital name it; a
    region's names name all its members."""
    names: dict[str, set[str]] = {}
    regions: list[tuple[list[str], list[str]]] = []
    for line in _lines("places.txt"):
        head, _, tail = line.partition(":")
        members = [place_key(m) for m in tail.split(",") if m.strip()]
        if head.startswith("@"):
            regions.append(([place_key(n) for n in head[1:].split(",")], members))
            continue
        place = place_key(head)
        for alias in [place, *members]:
            names.setdefault(alias, set()).add(place)
    for aliases, members in regions:
        for alias in aliases:
            names.setdefault(alias, set()).update(members)
    return {alias: frozenset(places) for alias, places in names.items()}


@lru_cache(maxsize=65536)
def places_named(name: str) -> frozenset[str]:
    """Return the places a name or demonym stands for ("Slovak" -> {slovakia}; "Baltic" -> the
    three Baltic states; "Kiev" -> {ukraine}), or an empty set for a name the gazetteer lacks."""
    key = place_key(name)
    found = _gazetteer().get(key)
    if found is None and key.endswith("s"):
        found = _gazetteer().get(key[:-1])  # "Estonians" when only "estonian" is listed
    return found or frozenset()


@lru_cache(maxsize=1)
def opposites() -> dict[str, frozenset[str]]:
    """Return {verb lemma: the lemmas that say its reverse} ("confirm" -> {"deny", ...}), both ways."""
    found: dict[str, set[str]] = {}
    for line in _lines("opposites.txt"):
        head, _, tail = line.partition("|")
        for other in (o.strip() for o in tail.split(",") if o.strip()):
            found.setdefault(head.strip(), set()).add(other)
            found.setdefault(other, set()).add(head.strip())
    return {verb: frozenset(others) for verb, others in found.items()}


@lru_cache(maxsize=1)
def qualifiers() -> tuple[tuple[str, ...], ...]:
    """Return the quantifiers and qualifiers a claim may not add to its source ("only", "all", "purely"),
    in groups of words that stand for each other ("every", "each"), longest first."""
    groups = [tuple(w.strip() for w in line.split(",") if w.strip()) for line in _lines("qualifiers.txt")]
    return tuple(sorted(groups, key=lambda g: -max(len(w) for w in g)))


@lru_cache(maxsize=1)
def approximations() -> frozenset[str]:
    """Return the words that make a number approximate ("about", "approximately"), any one for another."""
    return frozenset(_lines("approximations.txt"))


@lru_cache(maxsize=1)
def place_names() -> dict[str, tuple[str, ...]]:
    """Return {place: its aliases in the gazetteer's order (demonyms first, capital last)}, regions left out."""
    found = {}
    for line in _lines("places.txt"):
        head, _, tail = line.partition(":")
        if not head.startswith("@"):
            found[place_key(head)] = tuple(place_key(m) for m in tail.split(",") if m.strip())
    return found
