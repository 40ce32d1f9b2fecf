"""A parsed question -> Question: what kind of answer it wants (entity labels, from its wh-word and
the noun that word qualifies), whether it asks who said something or what someone said, and the
names, places, dates and numbers any answer must match. Pure: reads qa.nlp's plain parse."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qa.annotate import find_mentions
from qa.lexicon import answer_kinds, places_named, speech_verbs
from qa.nlp import Parse, Token, words_of

WH = frozenset({"who", "whom", "whose", "what", "which", "when", "where", "why", "how"})
PERSONS = frozenset({"PERSON", "ORG", "NORP"})
DATES = frozenset({"DATE", "TIME"})
PLACES = frozenset({"GPE", "LOC", "FAC"})
AMOUNTS = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
PRONOUNS = frozenset({"he", "she", "him", "her", "his", "they", "them", "their", "it", "its"})
_AUX_OPENERS = frozenset({"be", "do", "have", "can", "could", "will", "would", "should", "may", "might", "must", "shall"})
STRICT = frozenset({"who", "when", "how many", "how much", "how long", "how old"})
STRICT_FOCUS = frozenset({"date", "day", "year", "month", "name"})
ACTION_VERBS = frozenset({"do", "happen", "occur"})
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")


@dataclass(frozen=True)
class Question:
    """What a question asks for and what its answer must match."""

    text: str
    wh: str = ""  # who, what, which, when, where, why, how, how many, how much, yes-no; "" when none
    labels: frozenset[str] = frozenset()  # entity labels an answer carries; empty when untyped
    focus: str = ""  # lemma of the noun the wh-word qualifies ("leader" in "Which Slovak leader")
    asks_speaker: bool = False  # "Who said X?", "Which leader claimed X?", "According to whom ...?"
    speaker: str = ""  # whose statement it asks about ("What did Y say about Z?"): Y as written
    verb: str = ""  # the speech or stance verb it uses, if any
    content: str = ""  # what was said (X of "Who said X?") or the topic (Z of "... say about Z?")
    names: tuple[str, ...] = ()  # people and organisations it names, outside the wh-phrase
    places: tuple[frozenset[str], ...] = ()  # each place it names or qualifies the answer with, as the
    # gazetteer's places that name stands for ("Baltic" -> Estonia, Latvia, Lithuania); an answer names one of each
    dates: tuple[str, ...] = ()  # dates it names ("2019", "February 26")
    years: tuple[str, ...] = ()  # the years among them
    numbers: tuple[str, ...] = ()  # amounts it names outside the wh-phrase
    pronouns: tuple[str, ...] = ()  # pronouns standing for someone of an earlier turn
    asks_action: bool = False  # "What did Y do ...?", "What happened ...?": an event, not a name to pick out
    asks_identity: bool = False  # "Who is Y?", "Who was Y?": who a named person is (their office), not a name
    shape: int = 0  # how many answers it wants ("Which two crises" -> 2), 0 when not said
    wh_span: tuple[int, int] = (0, 0)  # character offsets of the wh-phrase
    mentions: tuple[str, ...] = field(default=(), repr=False)  # every name in it, wh-phrase included

    @property
    def typed(self) -> bool:
        """Return True when the answer must be a name, date, place or amount."""
        return bool(self.labels)

    @property
    def strict(self) -> bool:
        """Return True when the question word itself demands the kind (who, when, how many, what
        date), not only the noun it qualifies ("What law ...?", which a tagger may not recognise)."""
        return self.wh in STRICT or self.focus in STRICT_FOCUS


def read_question(parse: Parse) -> Question:
    """Return what the parsed question asks for."""
    tokens = parse.tokens
    if not tokens:
        return Question(text=parse.text)
    wh_token = next((t for t in tokens if t.lemma in WH and t.tag in ("WDT", "WP", "WP$", "WRB")), None)
    wh, focus, span, shape = _wh_phrase(parse, wh_token)
    labels = _labels(wh, focus, parse, wh_token)
    speech = _speech(parse, wh_token, span)
    names, places, dates, numbers = _constraints(parse, span)
    return Question(
        text=parse.text, wh=wh, labels=labels, focus=focus,
        asks_speaker=speech["asks_speaker"], speaker=speech["speaker"], verb=speech["verb"],
        content=speech["content"], names=tuple(names), places=tuple(places), dates=tuple(dates),
        years=tuple(y for d in dates for y in _YEAR.findall(d)), numbers=tuple(numbers),
        pronouns=tuple(t.lemma for t in tokens if t.pos == "PRON" and t.lemma in PRONOUNS),
        asks_action=_asks_action(parse, wh_token, labels),
        asks_identity=_asks_identity(parse, wh_token),
        shape=shape, wh_span=(parse.tokens[span[0]].start, parse.tokens[span[1] - 1].end) if span[1] > span[0] else (0, 0),
        mentions=tuple(f"{m.title} {m.text}".strip() for m in find_mentions(parse)),
    )


def _asks_action(parse: Parse, wh: Token | None, labels: frozenset[str]) -> bool:
    """Return True when an untyped "what" is what its verb does or what happens ("What did Scholz do
    after ...?", "What happened next?"): the answer is the event a sentence tells, not a phrase in it."""
    if wh is None or wh.lemma != "what" or labels:
        return False
    head = parse.tokens[wh.head]
    return head.pos in ("VERB", "AUX") and head.lemma in ACTION_VERBS


def _asks_identity(parse: Parse, wh: Token | None) -> bool:
    """Return True for "Who is Y?" with Y a name: "who" and the name are the two sides of the main
    verb "be", so the answer is what the sources call Y ("State Department spokesman"), not another name."""
    if wh is None or wh.lemma != "who":
        return False
    head = parse.tokens[wh.head]
    if head.lemma != "be" or head.dep != "ROOT":
        return False
    sides = [t for t in parse.tokens if t.head == head.i and t.i != wh.i and t.dep in ("nsubj", "attr")]
    if len(sides) != 1:
        return False
    side = sides[0]
    name = [t for t in parse.tokens if t.i == side.i or t.head == side.i and t.dep in ("compound", "flat")]
    if any(t.i not in (wh.i, head.i) and t not in name and t.pos != "PUNCT" for t in parse.tokens):
        return False  # more than "who is NAME": "Who is Macron meeting in Paris?"
    cased = any(t.text[:1].isupper() for t in parse.tokens[1:])
    # a name; in a question typed all in lower case the tagger may call its last word a noun ("kallas")
    return side.pos == "PROPN" or not cased and side.pos == "NOUN"


def _wh_phrase(parse: Parse, wh: Token | None) -> tuple[str, str, tuple[int, int], int]:
    """Return the wh-word (with "many"/"much" for "how many"), the noun it qualifies, the phrase's
    token range and the count it names ("two" in "Which two crises")."""
    tokens = parse.tokens
    if wh is None:
        first = next((t for t in tokens if t.pos != "PUNCT"), tokens[0])
        word = "yes-no" if first.lemma in _AUX_OPENERS and first.pos == "AUX" else ""
        return word, "", (0, 0), 0
    word = wh.lemma if wh.lemma not in ("whom", "whose") else "who"
    if word == "how" and wh.i + 1 < len(tokens) and tokens[wh.i + 1].lemma in ("many", "much", "long", "old", "far", "often"):
        nxt = tokens[wh.i + 1]
        noun = _head_noun(parse, nxt.i)
        return f"how {nxt.lemma}", noun.lemma if noun else "", (wh.i, (noun.i if noun else nxt.i) + 1), 0
    qualifies = wh.tag == "WDT" or wh.dep == "det"  # "What words", not "What did he say"
    noun = _head_noun(parse, wh.i) if word in ("what", "which") and qualifies else None
    if word == "what" and noun is None:  # "What is the name of the official who ...?"
        noun = next((t for t in parse.tokens[wh.i + 1:wh.i + 5] if t.lemma == "name"
                     and any(k.lemma == "of" for k in parse.children(t.i))), None)
    if noun is None:
        return word, "", (wh.i, wh.i + 1), 0
    counts = [t for t in tokens[wh.i + 1:noun.i] if t.pos == "NUM"]
    shape = _count(counts[0].text) if counts else 0
    return word, noun.lemma, (wh.i, noun.i + 1), shape


def _head_noun(parse: Parse, index: int) -> Token | None:
    """Return the noun a wh-determiner or "many" qualifies: the last noun of the words right after it
    ("Which NATO official", "What political party", "how many long-range missiles")."""
    noun = None
    for nxt in parse.tokens[index + 1:index + 7]:
        if nxt.pos in ("NOUN", "PROPN"):
            noun = nxt
        elif nxt.pos in ("ADJ", "NUM", "DET", "ADV") or (nxt.pos == "PUNCT" and nxt.text == "-"):
            if noun is not None and nxt.pos != "PUNCT":
                break
        else:
            break
    return noun


def _count(word: str) -> int:
    words = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "both": 2}
    return int(word) if word.isdigit() else words.get(word.lower(), 0)


def _labels(wh: str, focus: str, parse: Parse, wh_token: Token | None) -> frozenset[str]:
    """Return the entity labels an answer carries, from the wh-word and its noun."""
    kinds = answer_kinds()
    if wh == "who":
        return frozenset({"PERSON", "ORG", "NORP"})
    if wh == "when":
        return DATES
    if wh == "where":
        return PLACES
    if wh in ("how many", "how much"):
        if focus in kinds and kinds[focus] & {"MONEY", "PERCENT"}:
            return kinds[focus]
        return AMOUNTS
    if wh == "how long":
        return DATES | {"QUANTITY", "CARDINAL"}
    if wh == "how old":
        return frozenset({"DATE", "CARDINAL"})
    if wh in ("what", "which") and focus:
        if focus == "name":
            return _name_of(parse, wh_token)
        return kinds.get(focus, frozenset())
    return frozenset()


def _name_of(parse: Parse, wh_token: Token | None) -> frozenset[str]:
    """Return the labels for "What is the name of the X ...": those of X, else any name."""
    kinds = answer_kinds()
    start = wh_token.i if wh_token else 0
    for token in parse.tokens[start:]:
        if token.lemma == "of":
            noun = _head_noun(parse, token.i)
            if noun is not None and noun.lemma in kinds:
                return kinds[noun.lemma]
            break
    return PERSONS | PLACES


def _speech(parse: Parse, wh: Token | None, span: tuple[int, int]) -> dict:
    """Return how the question asks about a statement: who made it, or what someone said about what."""
    none = {"asks_speaker": False, "speaker": "", "verb": "", "content": ""}
    tokens = parse.tokens
    verbs = speech_verbs()
    for token in tokens:
        if token.lemma == "accord" and token.i + 1 < len(tokens) and tokens[token.i + 1].lemma == "to":
            rest = [t for t in tokens if t.i > token.i + 1 and t.lemma not in ("whom", "who") and t.pos != "PUNCT"]
            content = words_of(parse, rest[0].i, rest[-1].i + 1) if rest else ""
            return {"asks_speaker": wh is not None and wh.i in (token.i + 2, token.i + 1) or wh is None,
                    "speaker": "", "verb": "according to", "content": content}
    verb = _spine_verb(parse, verbs)
    if verb is None:
        return none
    kids = parse.children(verb.i)
    subject = next((k for k in kids if k.dep in ("nsubj", "nsubjpass")), None)
    complement = next((k for k in kids if k.dep in ("ccomp", "xcomp")), None)
    about = next((k for k in kids if k.dep == "prep" and k.lemma in ("about", "on", "regarding", "of")), None)
    topic = complement or about or next((k for k in kids if k.dep == "dobj" and k.lemma not in WH), None)
    topic = topic or next((k for k in kids if k.dep == "prep"), None)  # "responded to Macron's call"
    content = _after(parse, topic, verb) if topic is not None else ""
    if subject is not None and span[0] <= subject.i < max(span[1], span[0] + 1):
        return {"asks_speaker": True, "speaker": "", "verb": verb.lemma, "content": content}
    if subject is not None and subject.lemma not in WH:
        first, last = parse.subtree(subject.i)
        return {"asks_speaker": False, "speaker": words_of(parse, first, last), "verb": verb.lemma,
                "content": content}
    return {**none, "verb": verb.lemma, "content": content}


def _spine_verb(parse: Parse, verbs: frozenset[str]) -> Token | None:
    """Return the speech or stance verb heading the question, or one its main verb governs
    ("Who said", "What did he say Macron meant"), not one inside a noun's clause ("the report
    about allies criticizing Macron")."""
    roots = [t for t in parse.tokens if t.head == t.i]
    queue = list(roots)
    while queue:
        token = queue.pop(0)
        if token.pos == "VERB" and token.lemma in verbs:
            return token
        queue.extend(k for k in parse.children(token.i) if k.dep in ("ccomp", "xcomp", "conj") and k.pos in ("VERB", "AUX"))
    # a misparsed question ("What did Macron urge allies to do"): a speech verb with a subject of its own
    return next((t for t in parse.tokens if t.pos == "VERB" and t.lemma in verbs
                 and any(k.dep == "nsubj" for k in parse.children(t.i))), None)


def _after(parse: Parse, head: Token, verb: Token) -> str:
    """Return the words `head` governs that come after `verb`, without the wh-word or closing punctuation."""
    first, last = parse.subtree(head.i)
    words = [t for t in parse.tokens[max(first, verb.i + 1):last] if t.lemma not in WH]
    while words and words[-1].pos == "PUNCT":
        words.pop()
    return words_of(parse, words[0].i, words[-1].i + 1) if words else ""


def _constraints(parse: Parse, span: tuple[int, int]) -> tuple[list[str], list[frozenset[str]], list[str], list[str]]:
    """Return the names, places, dates and numbers the question states: dates and amounts outside
    its wh-phrase ("Which two crises" asks for two); names and places anywhere ("Which Slovak
    leader" wants a Slovak, "Which NATO official" one of NATO's)."""
    inside = set(range(*span))
    names, places, dates, numbers = [], [], [], []
    for mention in find_mentions(parse):
        tokens = [t for t in parse.tokens if mention.start <= t.start < mention.end]
        in_wh = any(t.i in inside for t in tokens)
        found = places_named(mention.text)
        if found:
            places.append(found)
        elif mention.label in DATES and not in_wh:
            dates.append(mention.text)
        elif mention.label in AMOUNTS and not in_wh:
            numbers.append(mention.text)
        elif mention.label in ("PERSON", "ORG", "") and mention.text.lower() not in WH:
            names.append(mention.text)
    named = {t.i for m in find_mentions(parse) for t in parse.tokens if m.start <= t.start < m.end}
    for token in parse.tokens:  # demonyms the tagger calls adjectives: "Slovak", "Baltic"
        if token.pos in ("ADJ", "PROPN", "NOUN") and token.i not in named and places_named(token.text):
            places.append(places_named(token.text))
    return names, places, dates, numbers
