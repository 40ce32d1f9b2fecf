"""Parse-based rewrites of a faithful claim for checking the verdicts: alterations that reverse or
overstate it (a stance verb turned into its opposite, a quantifier added, a place swapped) and
rephrasings that keep its meaning (passive for active, a title restated as a copula or an
apposition, a demonym as its country, another approximation word, a date written another way,
another verb of saying). Pure: the caller passes qa.nlp parses and a seeded random.Random.
"""

from __future__ import annotations

import random
import re

from qa.annotate import find_mentions
from qa.evaluation.inflection import inflect
from qa.lexicon import approximations, opposites, place_key, place_names, places_named
from qa.nlp import Parse, words_of

ALTERATIONS = ("stance", "quantifier", "place")
REPHRASINGS = ("passive", "copula", "apposition", "demonym", "approximation", "date_format", "reporting")
REPORTING = {"said": "stated", "says": "states", "stated": "said", "states": "says", "added": "said",
             "remarked": "said"}
_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December)"
_MONTH_DAY = re.compile(_MONTH + r" (\d{1,2})(?:, (\d{4}))?\b")
_DAY_MONTH = re.compile(r"\b(\d{1,2}) " + _MONTH + r"(?: (\d{4}))?\b")


def alter_parsed(parse: Parse, *, rng: random.Random) -> dict[str, str]:
    """Return kind -> the claim (one parsed sentence) with its stance reversed, a quantifier added or a
    place swapped, for each kind that applies."""
    changes = {"stance": _reverse_stance(parse, rng=rng), "quantifier": _add_quantifier(parse, rng=rng),
               "place": _swap_place(parse, rng=rng)}
    return {kind: text for kind, text in changes.items() if text and text != parse.text}


def rephrase_parsed(parse: Parse, *, rng: random.Random) -> dict[str, str]:
    """Return kind -> the claim (one parsed sentence) said another way, for each kind of rephrasing
    that applies."""
    changes = {"passive": _passive(parse), "copula": _copula(parse), "apposition": _apposition(parse),
               "demonym": _demonym(parse), "approximation": _approximation(parse, rng=rng),
               "date_format": _date_format(parse.text), "reporting": _reporting(parse)}
    return {kind: text for kind, text in changes.items() if text and text != parse.text}


def _replace(parse: Parse, first: int, last: int, text: str) -> str:
    """Return the parsed text with tokens [first, last) replaced by `text`."""
    start, end = parse.tokens[first].start, parse.tokens[last - 1].end
    return parse.text[:start] + text + parse.text[end:]


def _cased(text: str, like: str) -> str:
    return text[:1].upper() + text[1:] if like[:1].isupper() else text


def _reverse_stance(parse: Parse, *, rng: random.Random) -> str | None:
    reverse = opposites()
    verbs = [t for t in parse.tokens if t.pos == "VERB" and t.tag.startswith("VB") and t.lemma in reverse
             and " " not in t.lemma]
    if not verbs:
        return None
    verb = rng.choice(verbs)
    choices = sorted(o for o in reverse[verb.lemma] if " " not in o)
    if not choices:
        return None
    return _replace(parse, verb.i, verb.i + 1, _cased(inflect(rng.choice(choices), verb.tag), verb.text))


def _add_quantifier(parse: Parse, *, rng: random.Random) -> str | None:
    options = []
    root = next((t for t in parse.tokens if t.dep == "ROOT" and t.pos in ("VERB", "AUX")), None)
    if root is not None and root.pos == "VERB":
        first = min([c.i for c in parse.children(root.i) if c.dep in ("aux", "auxpass", "neg")] + [root.i])
        if first == root.i:
            options.append((root.i, "only "))
    for token in parse.tokens:
        kids = {c.dep for c in parse.children(token.i)}
        if token.tag == "NNS" and token.dep in ("nsubj", "dobj") and not kids & {"det", "nummod", "poss"}:
            start = parse.subtree(token.i)[0]
            options.append((start, "several thousand " if token.dep == "dobj" else "all "))
        if token.pos == "ADJ" and token.dep in ("amod", "acomp") and not kids and not token.ent:
            options.append((token.i, "purely "))
    options = [(i, w) for i, w in options if w.strip() not in parse.text.lower()
               and (i == 0 or parse.text[parse.tokens[i].start - 1].isspace())]
    if not options:
        return None
    index, word = rng.choice(options)
    start = parse.tokens[index].start
    lead = parse.text[start:]
    if start == 0:
        word = word[:1].upper() + word[1:]
        lead = lead if _proper(parse, index) else lead[:1].lower() + lead[1:]
    return parse.text[:start] + word + lead


def _proper(parse: Parse, index: int) -> bool:
    token = parse.tokens[index]
    return token.pos == "PROPN" or bool(token.ent) or token.text.isupper()


def _swap_place(parse: Parse, *, rng: random.Random) -> str | None:
    gazetteer = place_names()
    candidates = [t for t in parse.tokens if t.text[:1].isupper() and len(places_named(t.text)) == 1]
    if not candidates:
        return None
    token = rng.choice(candidates)
    (place,) = places_named(token.text)
    key = place_key(token.text)
    aliases = gazetteer.get(place, ())
    others = [p for p in sorted(gazetteer) if p != place and " " not in p]
    other = rng.choice(others)
    if key == place:
        replacement = other
    elif aliases and key == aliases[0] and gazetteer[other]:
        replacement = gazetteer[other][0]
    else:
        return None
    replacement = " ".join(w.capitalize() for w in replacement.split())
    return _replace(parse, token.i, token.i + 1, replacement)


def _passive(parse: Parse) -> str | None:
    """Return "Y was VERBed by X ..." for a sentence "X VERBed Y ..." (a past verb, no auxiliary)."""
    verb = next((t for t in parse.tokens if t.dep == "ROOT" and t.tag == "VBD" and t.pos == "VERB"), None)
    if verb is None:
        return None
    kids = parse.children(verb.i)
    subject = next((c for c in kids if c.dep == "nsubj"), None)
    obj = next((c for c in kids if c.dep == "dobj"), None)
    if subject is None or obj is None or any(c.dep in ("aux", "neg", "prt", "dative", "ccomp") for c in kids):
        return None
    if subject.pos == "PRON" or obj.pos == "PRON":
        return None
    s0, s1 = parse.subtree(subject.i)
    o0, o1 = parse.subtree(obj.i)
    if not (s1 <= verb.i and verb.i + 1 == o0):
        return None
    be = "were" if obj.tag in ("NNS", "NNPS") else "was"
    agent = words_of(parse, s0, s1)
    if parse.tokens[s0].pos == "DET":
        agent = agent[:1].lower() + agent[1:]
    patient = words_of(parse, o0, o1)
    before = parse.text[:parse.tokens[s0].start]
    middle = parse.text[parse.tokens[s1 - 1].end:parse.tokens[verb.i].start].strip()
    after = parse.text[parse.tokens[o1 - 1].end:]
    core = f"{patient} {be} {middle + ' ' if middle else ''}{inflect(verb.lemma, 'VBN')} by {agent}"
    return before + (_cased(core, "A") if not before else core) + after


def _titled(parse: Parse) -> list[tuple[str, str, int, int]]:
    """Return (name, title, first, last) of persons named after a title of two words or more."""
    found = []
    for mention in find_mentions(parse):
        if mention.label != "PERSON" or not mention.title:
            continue
        start = parse.text.rfind(mention.title, 0, mention.start)
        if start < 0 or parse.text[start + len(mention.title):mention.start].strip():
            continue
        first = next(t.i for t in parse.tokens if t.start >= start)
        last = next(t.i for t in parse.tokens if t.end >= mention.end) + 1
        if last < len(parse.tokens) and parse.tokens[last].dep == "case":
            continue  # "Macron's statement": no apposition fits before a possessive
        found.append((mention.text, mention.title, first, last))
    return found


def _country_title(title: str) -> str:
    """Return "Germany's chancellor" for "German Chancellor", else "the " + title."""
    head, _, rest = title.partition(" ")
    places = places_named(head)
    if rest and len(places) == 1 and place_key(head) != next(iter(places)):
        country = " ".join(w.capitalize() for w in next(iter(places)).split())
        return f"{country}'s {rest}"
    return f"the {title}"


def _copula(parse: Parse) -> str | None:
    titled = _titled(parse)
    return f"{titled[0][0]} is {_country_title(titled[0][1])}." if titled else None


def _apposition(parse: Parse) -> str | None:
    for name, title, first, last in _titled(parse)[:1]:
        closing = "" if last < len(parse.tokens) and parse.tokens[last].pos == "PUNCT" else ","
        lead = first > 0 and parse.tokens[first - 1].lemma == "the"
        return _replace(parse, first - lead, last, _cased(f"{name}, the {title}{closing}", "A" if first == 0 else "a"))
    return None


def _demonym(parse: Parse) -> str | None:
    for token in parse.tokens:
        places = places_named(token.text)
        if (token.dep in ("amod", "compound") and token.ent == "NORP" and len(places) == 1
                and place_key(token.text) != next(iter(places))
                and token.head > token.i and parse.tokens[token.head].pos in ("NOUN", "PROPN")):
            country = " ".join(w.capitalize() for w in next(iter(places)).split())
            first = token.i - (token.i > 0 and parse.tokens[token.i - 1].lemma == "the")
            return _replace(parse, first, token.i + 1, f"{country}'s")
    return None


def _approximation(parse: Parse, *, rng: random.Random) -> str | None:
    words = sorted(w for w in approximations() if " " not in w and w != "some")
    for token in parse.tokens[:-1]:
        if token.text.lower() in words and parse.tokens[token.i + 1].pos == "NUM":
            other = rng.choice([w for w in words if w != token.text.lower() and w != "estimated"])
            return _replace(parse, token.i, token.i + 1, _cased(other, token.text))
    return None


def _date_format(text: str) -> str | None:
    match = _MONTH_DAY.search(text)
    if match:
        month, day, year = match.groups()
        return text[:match.start()] + f"{day} {month}" + (f" {year}" if year else "") + text[match.end():]
    match = _DAY_MONTH.search(text)
    if match:
        day, month, year = match.groups()
        return text[:match.start()] + f"{month} {day}" + (f", {year}" if year else "") + text[match.end():]
    return None


def _reporting(parse: Parse) -> str | None:
    for token in parse.tokens:
        if token.pos == "VERB" and token.text.lower() in REPORTING:
            return _replace(parse, token.i, token.i + 1, _cased(REPORTING[token.text.lower()], token.text))
    return None
