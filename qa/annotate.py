"""Parsed paragraphs -> SentenceNotes: names with their titles, statements (who said or stood for
what), the persons pronouns and role nouns stand for, and whether a sentence leans on the one
before. Pure: works on qa.nlp's plain parses of one article's paragraphs, in order.

A pronoun subject ("he said") or a definite role noun ("the spokesman", "the French leader") is
resolved to the nearest person named before it outside its own clause: earlier in its sentence,
then earlier sentences of its paragraph, then the paragraphs before; a role noun only to a person
whose title holds a word of that role (qa/data/roles.json) and, when it names a place ("French"),
the same place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from qa.lexicon import places_named, roles, speech_nouns, speech_verbs
from qa.models import Mention, Referent, SentenceNotes, Statement
from qa.nlp import Parse, Token, lemmas, words_of

NOTES_VERSION = 2  # bump when the notes change for the same parse: stored notes of another version are redone
PERSON_PRONOUNS = frozenset({"he", "she", "him", "his", "her", "hers", "himself", "herself"})
LEANING_SUBJECTS = frozenset({"he", "she", "it", "they", "this", "that", "these", "those"})
DEMONSTRATIVES = frozenset({"this", "these", "those", "such"})
SUBJECTS = ("nsubj", "nsubjpass", "csubj")
COMPLEMENTS = ("ccomp", "xcomp", "dobj", "attr", "oprd")
TITLE_DEPS = frozenset({"compound", "amod", "nmod", "punct", "poss", "case"})


@dataclass(frozen=True)
class Person:
    """A person named in the article, where, and the canonical name and title they go by."""

    paragraph: int  # 1-based
    token: int  # index of the name's last token in its paragraph's parse
    mention: Mention
    name: str
    title: str
    sentence: tuple[int, int]  # character offsets of the naming sentence


def annotate_paragraphs(parses: list[Parse]) -> list[list[SentenceNotes]]:
    """Return, for each paragraph of an article (their parses in order), the notes of its sentences."""
    people: list[Person] = []
    out = []
    for number, parse in enumerate(parses, start=1):
        mentions = [_as_person(m, people) for m in find_mentions(parse)]
        people.extend(_people(number, parse, mentions, people))
        out.append([_sentence_notes(number, parse, span, mentions, people) for span in parse.sentences])
    return out


def _as_person(mention: Mention, people: list[Person]) -> Mention:
    """Return a mention the tagger called a place or organisation as a person when it is the surname
    of someone the article named before, and no place the gazetteer knows ("Scholz" after "Olaf Scholz")."""
    if mention.label == "PERSON" or places_named(mention.text):
        return mention
    surname = mention.text.split()[-1].lower() if mention.text.split() else ""
    if len(mention.text.split()) == 1 and any(p.name.split()[-1].lower() == surname for p in people):
        return replace(mention, label="PERSON")
    return mention


def find_mentions(parse: Parse) -> list[Mention]:
    """Return the names in a parse: its entities (persons with their titles), then runs of proper
    nouns no entity covers, in order."""
    covered = {i for e in parse.entities for i in range(e.first, e.last)}
    people = {i for e in parse.entities if e.label == "PERSON" for i in range(e.first, e.last)}
    found = []
    for e in parse.entities:
        label = "GPE" if e.label == "PERSON" and places_named(e.text) else e.label  # "Kiev" tagged a person
        title = _title(parse, e.first, e.last) if label in ("PERSON", "ORG", "NORP", "") else ""
        if label != "PERSON" and not _has_title_word(title):
            title = ""
        elif label != "PERSON":
            label = "PERSON"  # "German Chancellor Olaf Scholz" tagged an organisation
        found.append(Mention(_bare(e.text), label, e.start, e.start + len(_bare(e.text)), title))
    run: list[Token] = []
    titles = _title_words()
    for token in [*parse.tokens, None]:
        if token is not None and token.pos == "PROPN" and token.i not in covered:
            run.append(token)
            continue
        if run and run[-1].head in people:
            run = []  # "Foreign Minister" before "Dmytro Kuleba" is his title
        if run and not all(t.lemma in titles for t in run):
            text = _bare(parse.text[run[0].start:run[-1].end])
            found.append(Mention(text, "", run[0].start, run[0].start + len(text)))
        run = []
    return sorted(found, key=lambda m: m.start)


def _bare(text: str) -> str:
    """Return a name without a trailing possessive ("Macron’s" -> "Macron")."""
    for suffix in ("'s", "’s", "'", "’"):
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def _title(parse: Parse, first: int, last: int) -> str:
    """Return the words before a person's name that name their office, or an appositive after it:
    "State Department spokesman" (Matthew Miller), "the Estonian prime minister"."""
    start = first
    inside = set(range(first, last))
    while start > 0:
        token = parse.tokens[start - 1]
        if token.dep not in TITLE_DEPS or token.head not in inside or token.pos in ("DET", "PRON"):
            break
        if token.dep in ("poss", "case") and token.pos != "PROPN":
            break
        start -= 1
        inside.add(start)
    if start < first:
        return words_of(parse, start, first).strip(" ,")
    root = max(range(first, last), key=lambda i: parse.tokens[i].head not in range(first, last))
    for child in parse.children(root):
        if child.dep == "appos" and child.i >= last:
            a, b = parse.subtree(child.i)
            words = [t for t in parse.tokens[a:b] if t.pos != "DET"]
            return " ".join(t.text for t in words).strip(" ,") if words else ""
    return ""


def _has_title_word(title: str) -> bool:
    """Return True when words before a name hold an office ("Chancellor", "spokesman")."""
    personal = {w for group in roles().values() for w in group} - {"head", "chief", "executive", "leader"}
    return bool({w.lower() for w in title.split()} & (personal | {"minister"}))


def _title_words() -> frozenset[str]:
    words = {w for group in roles().values() for w in group} | set(roles())
    return frozenset(words | {"minister", "prime", "secretary", "general", "mr", "mrs", "ms", "dr", "sir"})


def _people(number: int, parse: Parse, mentions: list[Mention], earlier: list[Person]) -> list[Person]:
    """Return the persons a paragraph names, each with the fullest name and title used for that
    surname so far ("Macron" after "French President Emmanuel Macron")."""
    found = []
    for mention in mentions:
        if mention.label != "PERSON":
            continue
        last = _token_at(parse, mention.end - 1)
        name, title = mention.text, mention.title
        surname = name.split()[-1].lower()
        for person in [*earlier, *found]:
            if person.name.split()[-1].lower() == surname:
                name = person.name if len(person.name) > len(name) else name
                title = title or person.title
        sentence = _sentence_chars(parse, parse.sentence_of(last))
        found.append(Person(number, last, mention, name, title, sentence))
    return found


def _token_at(parse: Parse, offset: int) -> int:
    return next((t.i for t in parse.tokens if t.start <= offset < t.end), len(parse.tokens) - 1)


def _sentence_chars(parse: Parse, span: tuple[int, int]) -> tuple[int, int]:
    return parse.tokens[span[0]].start, parse.tokens[span[1] - 1].end


def _sentence_notes(number: int, parse: Parse, span: tuple[int, int], mentions: list[Mention],
                    people: list[Person]) -> SentenceNotes:
    start, end = _sentence_chars(parse, span)
    referents = _referents(number, parse, span, people)
    return SentenceNotes(
        start=start, end=end,
        mentions=tuple(m for m in mentions if start <= m.start < end),
        statements=tuple(_statements(parse, span, mentions, referents)),
        referents=tuple(referents),
        leans=_leans(parse, span),
        kind=_kind(parse, span),
        lemmas=" ".join(lemmas(parse, parse.tokens[span[0]:span[1]])),
    )


def _referents(number: int, parse: Parse, span: tuple[int, int], people: list[Person]) -> list[Referent]:
    """Return whom the sentence's person pronouns (as subjects or their possessors) and definite
    role nouns stand for."""
    out = []
    for token in parse.tokens[span[0]:span[1]]:
        if token.lemma in PERSON_PRONOUNS and token.pos == "PRON" and _is_subject_side(parse, token):
            person = _nearest(number, parse, token, people, fits=lambda p: True)
            first, last = token.i, token.i + 1
        elif token.lemma in ("his", "her") and token.dep == "poss":  # "his refusal": anyone named before
            person = _nearest(number, parse, token, people, fits=lambda p: True, own_clause=True)
            first, last = token.i, token.i + 1
        elif token.pos == "NOUN" and token.lemma in roles() and _definite(parse, token) and _anaphoric(parse, token):
            if any(parse.tokens[c.i].ent == "PERSON" for c in parse.children(token.i)):
                continue  # "the spokesman Matthew Miller" names him in place
            first, last = parse.subtree(token.i)
            last = min(last, token.i + 1)
            person = _nearest(number, parse, token, people, fits=_fits_role(parse, token, first))
        else:
            continue
        if person is not None:
            out.append(Referent(
                start=parse.tokens[first].start, end=parse.tokens[last - 1].end, name=person.name,
                title=person.title, paragraph=person.paragraph, name_start=person.mention.start,
                name_end=person.mention.end, sentence_start=person.sentence[0], sentence_end=person.sentence[1]))
    return out


def _is_subject_side(parse: Parse, token: Token) -> bool:
    """Return True for a subject pronoun, or a possessive of a subject ("His remarks drew ...")."""
    if token.dep in SUBJECTS:
        return True
    return token.dep == "poss" and parse.tokens[token.head].dep in SUBJECTS


def _anaphoric(parse: Parse, token: Token) -> bool:
    """Return False for a role noun that describes rather than refers: a predicate ("Macron is the
    head of ...") or one with its own complement ("the head of state")."""
    if token.dep in ("attr", "appos", "acomp", "oprd"):
        return False
    return not any(k.dep == "prep" and k.lemma == "of" for k in parse.children(token.i))


def _definite(parse: Parse, token: Token) -> bool:
    kids = parse.children(token.i)
    return any(k.dep == "det" and k.lemma == "the" for k in kids) or any(
        k.dep == "poss" and k.pos == "PRON" for k in kids)


def _fits_role(parse: Parse, token: Token, first: int):
    """Return a test of whether a person fits a role noun and the places that qualify it."""
    wanted = roles()[token.lemma]
    qualifiers = [t for t in parse.tokens[first:token.i] if t.pos in ("ADJ", "PROPN") and places_named(t.text)]

    def fits(person: Person) -> bool:
        title = {w.lower() for w in person.title.split()}
        if not title & wanted:
            return False
        return all(places_named(q.text) & _places_of(person.title) for q in qualifiers)

    return fits


def _places_of(text: str) -> frozenset[str]:
    found: set[str] = set()
    for word in text.split():
        found |= places_named(word)
    return frozenset(found | places_named(text))


def _nearest(number: int, parse: Parse, token: Token, people: list[Person], *, fits,
             own_clause: bool = False) -> Person | None:
    """Return the person named nearest before `token` who `fits`, outside its own clause unless
    `own_clause` (a possessive may mean its clause's subject: "Scholz explained his refusal")."""
    clause = _clause_head(parse, token.i)
    for person in reversed(people):
        if person.paragraph == number:
            if person.token >= token.i or (not own_clause and _clause_head(parse, person.token) == clause):
                continue
        elif person.paragraph > number:
            continue
        if fits(person):
            return person
    return None


def _clause_head(parse: Parse, index: int) -> int:
    """Return the verb heading the clause of token `index` (the first verb or root above it)."""
    seen = set()
    while index not in seen:
        seen.add(index)
        token = parse.tokens[index]
        if token.pos in ("VERB", "AUX") or token.head == token.i:
            return index
        index = token.head
    return index


def _statements(parse: Parse, span: tuple[int, int], mentions: list[Mention],
                referents: list[Referent]) -> list[Statement]:
    out = []
    verbs = speech_verbs()
    for token in parse.tokens[span[0]:span[1]]:
        if token.pos != "VERB":
            continue
        particle = next((c for c in parse.children(token.i) if c.dep == "prt"), None)
        verb = f"{token.lemma} {particle.lemma}" if particle is not None else token.lemma
        if verb not in verbs and token.lemma not in verbs:
            continue
        verb = verb if verb in verbs else token.lemma
        subject = _speaker_token(parse, token)
        if subject is None:
            continue
        out.append(_statement(parse, token, verb, subject, particle, mentions, referents))
    out.extend(_according_to(parse, span, mentions, referents))
    out.extend(_nominal(parse, span, mentions, referents))
    return out


def _nominal(parse: Parse, span: tuple[int, int], mentions: list[Mention], referents: list[Referent]) -> list[Statement]:
    """Return the statements a possessed speech noun names: "Macron's remark", "his suggestion that
    X" (by the possessor; what was said is its clause or complement)."""
    out = []
    nouns = speech_nouns()
    for token in parse.tokens[span[0]:span[1]]:
        if token.pos != "NOUN" or token.lemma not in nouns:
            continue
        owner = next((k for k in parse.children(token.i) if k.dep == "poss"), None)
        if owner is None:
            continue
        a, b = parse.subtree(owner.i)
        said = next((k for k in parse.children(token.i) if k.dep in ("acl", "ccomp", "prep", "relcl")), None)
        c, d = parse.subtree(said.i) if said is not None else (token.i + 1, token.i + 1)
        speaker_start, speaker_end = parse.tokens[a].start, _bare_end(parse, b)
        content_start = parse.tokens[c].start if d > c else token.end
        content_end = parse.tokens[d - 1].end if d > c else token.end
        out.append(Statement(
            verb=token.lemma, verb_start=token.start, verb_end=token.end,
            speaker=parse.text[speaker_start:speaker_end], speaker_start=speaker_start, speaker_end=speaker_end,
            content_start=content_start, content_end=content_end,
            **_speaker_name(owner, speaker_start, speaker_end, mentions, referents)))
    return out


def _bare_end(parse: Parse, last: int) -> int:
    """Return the end offset of a possessor without its "'s"."""
    token = parse.tokens[last - 1]
    return parse.tokens[last - 2].end if token.dep == "case" and last - 2 >= 0 else token.end


def _speaker_token(parse: Parse, verb: Token) -> Token | None:
    """Return the head token of whoever says or stands: the verb's subject (its head verb's, for
    "responded and said", "said, adding"), or the agent of a passive ("was criticized by allies")."""
    for _ in range(3):
        kids = parse.children(verb.i)
        if any(k.dep == "auxpass" for k in kids):
            agent = next((k for k in kids if k.dep == "agent"), None)
            objects = [g for g in parse.children(agent.i) if g.dep == "pobj"] if agent is not None else []
            return objects[0] if objects else None
        subject = next((k for k in kids if k.dep in ("nsubj", "csubj")), None)
        if subject is not None:
            return subject
        if verb.dep not in ("conj", "xcomp", "advcl") or verb.head == verb.i:
            return None
        if verb.dep == "xcomp":  # "forced NATO members to confirm": the object confirms
            controller = next((k for k in parse.children(verb.head) if k.dep == "dobj"), None)
            if controller is not None:
                return controller
        verb = parse.tokens[verb.head]
    return None


def _statement(parse: Parse, verb: Token, lemma: str, subject: Token, particle: Token | None,
               mentions: list[Mention], referents: list[Referent]) -> Statement:
    a, b = parse.subtree(subject.i)
    speaker_start, speaker_end = parse.tokens[a].start, parse.tokens[b - 1].end
    kids = parse.children(verb.i)
    content = next((k for dep in COMPLEMENTS for k in kids if k.dep == dep), None)
    content = content or next((k for k in kids if k.dep == "prep"), None)
    sentence = parse.sentence_of(verb.i)
    if content is not None:
        c, d = parse.subtree(content.i)
    elif a - sentence[0] >= 3:  # "..., the outlet's sources claim.": what they claim comes first
        c, d = sentence[0], a
    else:
        c, d = verb.i + 1, sentence[1]
    while d > c and parse.tokens[d - 1].pos == "PUNCT" and parse.tokens[d - 1].text not in ("”", '"', "’"):
        d -= 1
    negated = any(k.dep == "neg" for k in kids)
    verb_end = (particle or verb).end
    return Statement(
        verb=lemma, verb_start=verb.start, verb_end=verb_end,
        speaker=parse.text[speaker_start:speaker_end], speaker_start=speaker_start, speaker_end=speaker_end,
        content_start=parse.tokens[c].start if d > c else verb_end,
        content_end=parse.tokens[d - 1].end if d > c else verb_end,
        negated=negated, **_speaker_name(subject, speaker_start, speaker_end, mentions, referents),
    )


def _speaker_name(head: Token, start: int, end: int, mentions: list[Mention], referents: list[Referent]) -> dict:
    """Return the speaker's name and its label: a person named in their words, the name their head
    word belongs to ("Moscow", not the "U.S." of "U.S. officials"), or whom their pronoun or role
    noun stands for."""
    inside = [m for m in mentions if start <= m.start and m.end <= end]
    people = [m for m in inside if m.label == "PERSON"]
    if people:
        return {"name": people[0].text, "label": "PERSON"}
    heading = [m for m in inside if m.start <= head.start < m.end and m.label in ("ORG", "GPE", "NORP", "")]
    if heading:
        label = heading[0].label
        if label == "GPE" and not places_named(heading[0].text):
            label = ""  # "Scholz" tagged a place, though no place the gazetteer knows: a speaker of unknown kind
        return {"name": heading[0].text, "label": label}
    resolved = [r for r in referents if r.start <= head.start < r.end]
    return {"name": resolved[0].name, "label": "PERSON"} if resolved else {"name": "", "label": ""}


def _according_to(parse: Parse, span: tuple[int, int], mentions: list[Mention],
                  referents: list[Referent]) -> list[Statement]:
    """Return the statements "according to X" attributes to X: the rest of the sentence."""
    out = []
    tokens = parse.tokens
    for token in tokens[span[0]:span[1] - 2]:
        if token.lemma != "accord" or tokens[token.i + 1].lemma != "to":
            continue
        objects = [g for g in parse.children(token.i + 1) if g.dep == "pobj"]
        if not objects:
            continue
        a, b = parse.subtree(objects[0].i)
        start, end = tokens[a].start, tokens[b - 1].end
        before = (tokens[span[0]].start, tokens[token.i].start)
        after = (end, tokens[span[1] - 1].end)
        content = after if after[1] - after[0] > before[1] - before[0] else before
        out.append(Statement(
            verb="according to", verb_start=token.start, verb_end=tokens[token.i + 1].end,
            speaker=parse.text[start:end], speaker_start=start, speaker_end=end,
            content_start=content[0], content_end=content[1],
            **_speaker_name(objects[0], start, end, mentions, referents)))
    return [replace(s, content_end=max(s.content_start, _strip_end(parse.text, s.content_start, s.content_end)))
            for s in out]


def _strip_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " ,.;:":
        end -= 1
    return end


def _leans(parse: Parse, span: tuple[int, int]) -> str:
    """Return why a sentence needs the one before it ("do so", "pronoun", "this"), or ""."""
    tokens = parse.tokens[span[0]:span[1]]
    for a, b in zip(tokens, tokens[1:]):
        if a.lemma == "do" and b.lemma == "so":
            return "do so"
    roots = [t for t in tokens if t.head == t.i or t.head < span[0] or t.head >= span[1]]
    for root in roots:
        for kid in parse.children(root.i):
            if kid.dep not in ("nsubj", "nsubjpass"):
                continue
            if kid.pos == "PRON" and kid.lemma in LEANING_SUBJECTS:
                return "pronoun"
            if any(d.dep == "det" and d.lemma in DEMONSTRATIVES for d in parse.children(kid.i)):
                return "this"
    words = [t for t in tokens if t.pos != "PUNCT"]
    if words and words[0].lemma in DEMONSTRATIVES and words[0].pos in ("DET", "PRON"):
        return "this"
    return ""


def _kind(parse: Parse, span: tuple[int, int]) -> str:
    """Return "question" for a sentence that asks, "fragment" for one without a verb, else ""."""
    tokens = parse.tokens[span[0]:span[1]]
    text = parse.text[tokens[0].start:tokens[-1].end].rstrip("\"'”’)] ")
    if text.endswith("?"):
        return "question"
    if not any(t.pos in ("VERB", "AUX") for t in tokens):
        return "fragment"
    return ""
