"""Sentence frames for claim-to-source alignment: what a sentence says, by role; pure, over qa.nlp parses.

A frame holds a sentence's predicates (verb lemma with its particle, negated or not, the logical
subject and objects: a passive's agent is its subject, its subject an object) and its facts
(numbers, dates, names, places), each with the role it plays: the lemma it hangs on and, for the
arguments of a predicate, which argument it is. Words are compared through keys that let a
rephrasing through: a demonym and its country ("German", "Germany"), a number however written
("1,200,000", "twenty"), a month abbreviated ("Feb."), a person by surname (qa.structure.name_keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from qa.figures import amounts, date_keys, month_of, number_value, year_of
from qa.lexicon import approximations, places_named, speech_verbs
from qa.nlp import Parse, Token, words_of
from qa.structure import name_keys
from qa.terms import STOPWORDS, stem

CONTENT = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM"})
LIGHT = frozenset({"be", "have", "do", "get", "make", "go", "also", "then", "there", "so", "very", "s", "'s"})
NAME_LABELS = frozenset({"PERSON", "ORG", "NORP", "GPE", "LOC", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW"})
NUMBER_LABELS = frozenset({"CARDINAL", "MONEY", "PERCENT", "QUANTITY"})
DATE_LABELS = frozenset({"DATE", "TIME"})
SUBJECT_DEPS = frozenset({"nsubj", "csubj", "agent_pobj"})
OBJECT_DEPS = frozenset({"dobj", "nsubjpass", "attr", "oprd", "dative", "acomp", "ccomp", "xcomp"})
NEGATIONS = frozenset({"not", "n't", "never", "no", "none", "nobody", "nothing", "neither", "nor", "without"})
UNKNOWN = frozenset({"unk", "<unk>"})  # a summariser's unknown word stands for nothing
REGION = 3  # a word naming more places than this names a region ("European"), not a place
@dataclass(frozen=True)
class Fact:
    """A number, date, name or place of a sentence and the role it plays there."""

    kind: str  # "number", "date", "name", "place"
    text: str  # as written
    keys: frozenset[str]  # what must match: values, date parts ("month:february"), name words, places
    head: str  # lemma of the word it hangs on, outside itself
    role: str  # "subject:criticize", "object:send", or its dependency label ("nummod", "pobj:in")
    first: int  # token range in the parse
    last: int
    label: str = ""  # its entity label (NORP for a people: "German", "the Briton")


@dataclass(frozen=True)
class Predicate:
    """A verb of a sentence: its lemmas (with particle, "rule out"), polarity and logical arguments."""

    lemmas: frozenset[str]
    negated: bool
    subject: tuple[frozenset[str], ...]  # keys of each content word of its logical subject
    objects: tuple[frozenset[str], ...]  # keys of each content word of its objects and complements
    token: int
    text: str  # the words from the subject to the verb, for a reason ("is not going to send")
    head: str = ""  # lemma of the word it hangs on ("center" for "a center which opened"), "" for a root


@dataclass(frozen=True)
class Frame:
    """One sentence read for alignment: its content keys, predicates and facts."""

    parse: Parse
    span: tuple[int, int]
    text: str
    keys: frozenset[str]  # every word's keys, and those of its facts
    content: tuple[frozenset[str], ...]  # keys of each content word, in order
    words: frozenset[str]  # lower-cased words as written
    predicates: tuple[Predicate, ...]
    facts: tuple[Fact, ...]
    phrases: tuple[frozenset[str], ...]  # keys of each noun phrase (a noun or name with what hangs on it)
    arcs: tuple[tuple[frozenset[str], frozenset[str]], ...]  # (word, its head) keys, content words both


def read_frames(parse: Parse) -> list[Frame]:
    """Return the frame of each sentence of a parse."""
    return [read_frame(parse, span) for span in parse.sentences]


def read_frame(parse: Parse, span: tuple[int, int]) -> Frame:
    """Return the frame of the sentence spanning tokens `span` of `parse`."""
    tokens = parse.tokens[span[0]:span[1]]
    content = tuple(token_keys(t) for t in tokens if _is_content(t))
    facts = tuple(_facts(parse, span))
    keys = {k for t in tokens for k in token_keys(t)} | {k for f in facts if f.kind != "name" for k in f.keys}
    return Frame(parse=parse, span=span, text=words_of(parse, *span), keys=frozenset(keys), content=content,
                 words=frozenset(plain_word(t.text) for t in tokens),
                 predicates=tuple(_predicates(parse, span)), facts=facts,
                 phrases=tuple(frozenset(k for keys in _phrase_keys(parse, t.i) for k in keys)
                               for t in tokens if t.pos in ("NOUN", "PROPN")),
                 arcs=tuple(_arcs(parse, span)))


def _arcs(parse: Parse, span: tuple[int, int]) -> list[tuple[frozenset[str], frozenset[str]]]:
    """Return the dependency arcs between content words, a function word between them skipped
    ("idea of sending": idea - sending), as (word keys, head keys)."""
    found = []
    for token in parse.tokens[span[0]:span[1]]:
        if not _is_content(token):
            continue
        head = parse.tokens[token.head]
        while head.i != head.head and not _is_content(head) and head.pos in ("ADP", "AUX", "PART", "SCONJ"):
            head = parse.tokens[head.head]
        if head.i != token.i and _is_content(head):
            found.append((token_keys(token), token_keys(head)))
    return found


def plain_word(text: str) -> str:
    """Return a word lower-cased, with curly apostrophes straight and a possessive dropped."""
    word = text.lower().replace("’", "'").strip(".,")
    return word[:-2] if word.endswith("'s") and len(word) > 2 else word


def _is_content(token: Token) -> bool:
    return token.pos in CONTENT and token.lemma not in LIGHT and token.lemma not in STOPWORDS and any(
        c.isalnum() for c in token.text)


def token_keys(token: Token) -> frozenset[str]:
    """Return the keys a word matches by: its lemma and stem, its places, its value, its month, and
    one key for every neutral verb of saying and every approximation ("about", "approximately")."""
    lemma = token.lemma.strip(".").lower()
    keys = {lemma, stem(lemma)}
    keys |= {f"place:{p}" for p in places_of(token.text)}
    value = number_value(token.text)
    if value is not None:
        keys.add(f"num:{value:g}")
    elif any(c.isdigit() for c in token.text):
        keys.add(f"raw:{token.text}")
    month = month_of(lemma)
    if month:
        keys.add(f"month:{month}")
    if lemma in reporting_verbs() or lemma == "accord":
        keys.add("~say")
    if lemma in approximations():
        keys.add("~approx")
    return frozenset(keys)


def places_of(name: str) -> frozenset[str]:
    """Return the places a name or demonym stands for, none for a region's ("European": its lemma
    is what a rephrasing must keep, or "Berlin" would match it through Germany)."""
    places = places_named(name)
    return places if len(places) <= REGION else frozenset()


@lru_cache(maxsize=1)
def reporting_verbs() -> frozenset[str]:
    """Return the verbs of saying that only report (say, state, add...): speech verbs with no opposite."""
    from qa.lexicon import opposites

    stance = set(opposites())
    return frozenset(v for v in speech_verbs() if v not in stance and " " not in v)


def _predicates(parse: Parse, span: tuple[int, int]) -> list[Predicate]:
    found = []
    for token in parse.tokens[span[0]:span[1]]:
        if not (token.pos in ("VERB", "AUX") or token.tag.startswith("VB")) or (
                token.pos == "AUX" and token.dep not in ("ROOT", "ccomp", "conj")):
            continue
        lemmas = {token.lemma} | _phrasal(parse, token)
        subject: list[frozenset[str]] = []
        objects: list[frozenset[str]] = []
        for child in parse.children(token.i):
            if child.dep in ("prt", "acomp", "oprd") or (child.dep == "ccomp" and child.pos == "ADJ"):
                lemmas.add(f"{token.lemma} {child.lemma}")
            if child.dep in ("nsubj", "csubj"):
                subject += _phrase_keys(parse, child.i)
            elif child.dep == "agent":
                for grand in parse.children(child.i):
                    subject += _phrase_keys(parse, grand.i)
            elif child.dep in OBJECT_DEPS and child.dep not in ("ccomp", "xcomp"):
                objects += _phrase_keys(parse, child.i)
        if not subject and token.dep in ("xcomp", "conj", "advcl") and token.head != token.i:
            subject = list(next((p.subject for p in found if p.token == token.head), ()))
        head = _governor(parse, token)
        found.append(Predicate(frozenset(lemmas), polarity(parse, token.i), tuple(subject), tuple(objects),
                               token.i, _predicate_text(parse, token), head))
    return found


def _governor(parse: Parse, token: Token) -> str:
    """Return the lemma of the word a verb hangs on, past the verbs it is a conjunct of, "" for a root."""
    while token.dep == "conj" and token.head != token.i:
        token = parse.tokens[token.head]
    return parse.tokens[token.head].lemma if token.head != token.i else ""


def _phrasal(parse: Parse, token: Token) -> set[str]:
    """Return the phrasal verbs of the lexicons a verb makes with a word it heads, however far
    ("keep the option ... open": "keep open")."""
    from qa.lexicon import opposites

    known = set(opposites()) | speech_verbs()
    first, last = parse.subtree(token.i)
    return {f"{token.lemma} {t.lemma}" for t in parse.tokens[first:last]
            if t.i != token.i and t.pos in ("ADP", "ADJ", "ADV", "PART") and f"{token.lemma} {t.lemma}" in known}


def _phrase_keys(parse: Parse, index: int) -> list[frozenset[str]]:
    first, last = parse.subtree(index)
    return [token_keys(t) for t in parse.tokens[first:last] if _is_content(t)]


def argument_keys(predicate: Predicate) -> frozenset[str]:
    """Return every key of a predicate's arguments."""
    return frozenset(k for keys in (*predicate.subject, *predicate.objects) for k in keys)


def _predicate_text(parse: Parse, token: Token) -> str:
    """Return the verb with its auxiliaries and negation, as written ("is not going to send"), and
    an argument "no" negates ("has no plans", "no general decision has been made")."""
    near = [c.i for c in parse.children(token.i) if c.dep in ("aux", "auxpass", "neg") and c.i < token.i]
    first, last = min([*near, token.i]), token.i + 1
    if last < len(parse.tokens) and parse.tokens[last].dep == "prt" and parse.tokens[last].head == token.i:
        last += 1  # "rule out"
    for child in parse.children(token.i):
        if any(g.dep == "det" and g.lemma == "no" for g in parse.children(child.i)):
            first, last = min(first, parse.subtree(child.i)[0]), max(last, child.i + 1)
    return words_of(parse, first, last)


def polarity(parse: Parse, index: int) -> bool:
    """Return True when the verb at `index` is negated: by "not" or "never", by "no" on one of its
    arguments ("no decision has been made", "has no plans"), or through a negated verb it is the
    complement of ("is not going to send")."""
    negated = False
    seen = set()
    while index not in seen:
        seen.add(index)
        token = parse.tokens[index]
        negated ^= _own_negation(parse, index)
        if token.dep not in ("xcomp",) or token.head == index:
            break
        index = token.head
    return negated


def _own_negation(parse: Parse, index: int) -> bool:
    for child in parse.children(index):
        if child.dep == "neg" or child.lemma in ("never",):
            return True
        if child.dep in ("nsubj", "nsubjpass", "dobj", "attr") and (
                child.lemma in ("nothing", "nobody", "none", "no one")
                or any(g.dep == "det" and g.lemma == "no" for g in parse.children(child.i))):
            return True
    return False


def _facts(parse: Parse, span: tuple[int, int]) -> list[Fact]:
    found: list[Fact] = []
    covered: set[int] = set()
    for entity in parse.entities_in(*span):
        fact = _entity_fact(parse, (entity.first, entity.last), label=entity.label)
        if fact is not None:
            found.append(fact)
            covered.update(range(entity.first, entity.last))
            if fact.kind in ("name", "place"):  # "the Colony of Victoria Act 1854": its year is a fact too
                covered -= {t.i for t in parse.tokens[entity.first:entity.last] if t.pos == "NUM"}
    for token in parse.tokens[span[0]:span[1]]:
        if token.i in covered:
            continue
        if token.pos == "NUM":
            fact = _entity_fact(parse, (token.i, token.i + 1), label="CARDINAL")
        elif token.pos in ("PROPN", "ADJ") and places_of(token.text):
            fact = _entity_fact(parse, (token.i, token.i + 1), label="NORP" if token.pos == "ADJ" else "GPE")
        else:
            continue
        if fact is not None:
            found.append(fact)
    found += _proper_runs(parse, span, covered=covered | {i for f in found for i in range(f.first, f.last)})
    return sorted(found, key=lambda f: f.first)


def _proper_runs(parse: Parse, span: tuple[int, int], *, covered: set[int]) -> list[Fact]:
    """Return the runs of proper nouns no entity covers ("Hospedia", "Albert Square") as untyped names."""
    found, run = [], []
    for token in [*parse.tokens[span[0]:span[1]], None]:
        if token is not None and token.pos == "PROPN" and token.i not in covered and token.text[:1].isupper():
            run.append(token.i)
            continue
        if run:
            fact = _entity_fact(parse, (run[0], run[-1] + 1), label="")
            if fact is not None and fact.keys:
                found.append(fact)
        run = []
    return found


def _entity_fact(parse: Parse, tokens: tuple[int, int], *, label: str) -> Fact | None:
    """Return the fact tokens [first, last) state, or None when they state nothing checkable."""
    first, last = tokens
    tokens = parse.tokens[first:last]
    text = words_of(parse, first, last)
    kind, keys = _fact_keys(tokens, label, text=text)
    if not keys:
        return None
    head, role = role_of(parse, (first, last))
    return Fact(kind, text, frozenset(keys), head, role, first, last, label)


def _fact_keys(tokens: tuple[Token, ...], label: str, *, text: str) -> tuple[str, set[str]]:
    if label in DATE_LABELS or any(month_of(t.text) and t.text[:1].isupper() for t in tokens):
        return "date", date_keys(tokens) or {f"raw:{t.text}" for t in tokens if any(c.isdigit() for c in t.text)}
    if label in NUMBER_LABELS:
        if len(tokens) == 1 and year_of(tokens[0].text):
            return "date", {f"year:{year_of(tokens[0].text)}"}
        values = amounts(tokens)
        if not values:  # "1973–148", "1/4": the figure as written
            return "number", {f"raw:{t.text}" for t in tokens if any(c.isdigit() for c in t.text)}
        return "number", {f"num:{value:g}" for value in values}
    if label in NAME_LABELS or label == "":
        places = set().union(*(places_of(t.text) for t in tokens), places_of(text))
        if places and (label in ("GPE", "NORP", "LOC") or places_of(text)):
            return "place", {f"place:{p}" for p in places}
        if label == "PERSON":  # a surname, whatever the case ("peter o'toole" in a lower-cased summary)
            words = [plain_word(t.text) for t in tokens if t.text[:1].isalpha()]
            return "name", ({words[-1]} if words and words[-1] not in UNKNOWN else set())
        return "name", {plain_word(w) for w in name_keys(text)} - UNKNOWN
    return "", set()


def role_of(parse: Parse, tokens: tuple[int, int]) -> tuple[str, str]:
    """Return the lemma tokens [first, last) hang on and their role: "subject:criticize" or
    "object:send" for a predicate's arguments, else the dependency label (with its preposition)."""
    first, last = tokens
    inside = range(first, last)
    root = next((i for i in inside if parse.tokens[i].head not in inside or parse.tokens[i].head == i), first)
    token = parse.tokens[root]
    if token.head == root:
        return token.lemma, "root"
    head = parse.tokens[token.head]
    dep = token.dep
    if dep == "pobj":
        grand = parse.tokens[head.head]
        if head.dep == "agent":
            return grand.lemma, f"subject:{grand.lemma}"
        return grand.lemma, f"pobj:{head.lemma}"
    if dep in SUBJECT_DEPS:
        return head.lemma, f"subject:{head.lemma}"
    if dep in OBJECT_DEPS:
        return head.lemma, f"object:{head.lemma}"
    if dep in ("compound", "appos", "poss", "amod", "nmod", "nummod", "quantmod"):
        return head.lemma, f"of:{head.lemma}"
    return head.lemma, dep


def is_speech(lemmas: frozenset[str]) -> bool:
    """Return True when a predicate is a neutral verb of saying."""
    return bool(lemmas & reporting_verbs())
