"""How a sentence's notes meet a question's frame: the kind of answer asked for, the question's
names, places, dates and numbers, the speaker it names and what it says was said. Pure."""

from __future__ import annotations

import re
from functools import lru_cache

from qa.lexicon import places_named, roles, speech_nouns, speech_verbs
from qa.models import Hit, SentenceNotes, Statement
from qa.question import Question
from qa.terms import STOPWORDS, stem, terms, words

CONTEXT = 0.5  # a name or place the paragraph holds, though not the sentence itself
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_MONTH = re.compile(r"\b(" + "|".join(m[:3] for m in _MONTHS) + r")[a-z]*\.?(?:\s+(\d{1,2})\b)?", re.I)
_DIGITS = re.compile(r"\d[\d,.]*")
_CAUSES = frozenset({"because", "since", "due", "result", "reason", "order", "avoid", "after", "amid", "given",
                     "fear", "would", "could", "risk", "so", "thanks", "owing", "lead", "cause", "by"})


def type_match(question: Question, notes: SentenceNotes, text: str) -> float:
    """Return 1 when the sentence names something of the kind the question asks for that the
    question does not name itself, 0 when it names nothing of that kind, 0.5 for untyped questions."""
    if not question.labels:
        if question.wh == "why":
            return float(bool(_CAUSES & set(words(text))))
        return 0.5
    asked = _question_words(question)
    miss = 0.0 if question.strict else 0.5  # a kind only the question's noun hints at need not be tagged
    for mention in notes.mentions:
        if mention.label in question.labels and not _asked(mention.text, asked):
            return 1.0
    if "PERSON" in question.labels:
        if any(not _asked(r.name, asked) for r in notes.referents):
            return 1.0
        if any(s.name and s.label in question.labels and not _asked(s.name, asked) for s in notes.statements):
            return 1.0
    return miss


def _asked(name: str, asked: set[str]) -> bool:
    """Return True when the question names `name` itself (its surname will do)."""
    keys = name_keys(name) or set(words(name))
    return bool(keys) and keys <= asked


def _question_words(question: Question) -> set[str]:
    return set(words(question.text)) - STOPWORDS


def constraint_check(question: Question, notes: SentenceNotes, hit: Hit) -> tuple[float, str]:
    """Return the share of the question's stated names, places, dates and numbers the sentence meets
    (those its paragraph holds count half), and the reason it cannot answer at all: a year, date or
    number the question states that neither it nor its paragraph holds, or another year in its place."""
    sentence = hit.text[notes.start:notes.end]
    checks: list[float] = []
    for year in question.years:
        years = set(_YEAR.findall(sentence))
        if year in years:
            checks.append(1.0)
        elif years:
            return 0.0, f"it is about {', '.join(sorted(years))}, not {year}"
        elif year in hit.text or hit.date.startswith(year):
            checks.append(CONTEXT)
        else:
            return 0.0, f"neither it nor its paragraph mentions {year}"
    for date in question.dates:
        found = _date_found(date, sentence, hit.text)
        if found is None:
            continue  # a date the checks cannot read ("last week"): nothing to hold it to
        if not found:
            return 0.0, f"neither it nor its paragraph mentions {date}"
        checks.append(found)
    for number in question.numbers:
        digits = _digits(number)
        if not digits:
            continue
        if digits <= _digits(sentence):
            checks.append(1.0)
        elif digits <= _digits(hit.text):
            checks.append(CONTEXT)
        else:
            return 0.0, f"neither it nor its paragraph mentions {number}"
    context = f"{hit.title} {hit.text}"
    checks.extend(_name_found(name, notes, sentence, context) for name in question.names)
    checks.extend(_place_found(places, notes, sentence, context) for places in question.places)
    return (sum(checks) / len(checks) if checks else 1.0), ""


def _date_found(date: str, sentence: str, paragraph: str) -> float | None:
    """Return 1 when the sentence names the date's month (and day), CONTEXT when only the paragraph
    does, 0 when neither, None when the date names no month."""
    wanted = [(m.group(1).lower(), m.group(2)) for m in _MONTH.finditer(date)]
    if not wanted:
        return None

    def holds(text: str) -> bool:
        found = [(m.group(1).lower(), m.group(2)) for m in _MONTH.finditer(text)]
        return all(any(mo == fm and (not day or day == fd) for fm, fd in found) for mo, day in wanted)

    if holds(sentence):
        return 1.0
    return CONTEXT if holds(paragraph) else 0.0


def _digits(text: str) -> set[str]:
    return {d.replace(",", "").rstrip(".") for d in _DIGITS.findall(text)}


def _name_found(name: str, notes: SentenceNotes, sentence: str, context: str) -> float:
    """Return 1 when the sentence names `name` (its surname will do, or a pronoun resolved to it),
    CONTEXT when the paragraph or title does, else 0."""
    keys = name_keys(name)
    if not keys:
        return 1.0
    held = set(words(sentence)) | {w for r in notes.referents for w in words(r.name)} | {
        w for s in notes.statements for w in words(s.name)}
    if keys <= held:
        return 1.0
    return CONTEXT if keys <= set(words(context)) else 0.0


def name_keys(name: str) -> set[str]:
    """Return the words a mention of `name` must carry: a person's surname, all words of a longer
    organisation name ("state", "department"), without "the" and title words."""
    found = [w for w in words(name) if w not in STOPWORDS and w not in _title_words()]
    if not found:
        return set()
    return {found[-1]} if _looks_personal(name) else set(found)


def _looks_personal(name: str) -> bool:
    """Return True for a capitalised name of one to three words that is no organisation ("Olaf Scholz")."""
    parts = name.replace("’s", "").replace("'s", "").split()
    organisations = {"department", "ministry", "union", "party", "council", "bank", "committee", "agency"}
    return 0 < len(parts) <= 3 and all(p[:1].isupper() for p in parts) and not organisations & {p.lower() for p in parts}


@lru_cache(maxsize=1)
def _title_words() -> frozenset[str]:
    return frozenset({w for group in roles().values() for w in group} | set(roles()) | {"minister", "prime"})


def _place_found(places: frozenset[str], notes: SentenceNotes, sentence: str, context: str) -> float:
    """Return 1 when the sentence names one of `places` (by name, demonym or capital), CONTEXT when
    its paragraph does, else 0."""
    if places & places_in(sentence, notes):
        return 1.0
    return CONTEXT if places & places_in(context) else 0.0


def places_in(text: str, notes: SentenceNotes | None = None) -> set[str]:
    """Return the gazetteer places a text names: its words and two-word runs ("New Zealand"), and
    the titles of whom its pronouns stand for ("Estonian Prime Minister")."""
    found = set(_places_of_text(text))
    if notes is not None:
        for ref in notes.referents:
            found |= _places_of_text(ref.title)
    return found


@lru_cache(maxsize=8192)
def _places_of_text(text: str) -> frozenset[str]:
    tokens = re.findall(r"[A-Za-z][\w.'’-]*", text)
    found: set[str] = set()
    for i, token in enumerate(tokens):
        if token[:1].isupper():
            found |= places_named(token)
            if i + 1 < len(tokens):
                found |= places_named(f"{token} {tokens[i + 1]}")
    return frozenset(found)


def speaker_match(question: Question, notes: SentenceNotes, paragraph: str) -> float:
    """Return how well the speaker of the sentence's best statement matches the one the question
    names: the share of the question's speaker words found in the statement's speaker, name, or the
    title of whom its pronoun stands for ("the State Department" matches "he", Matthew Miller,
    "State Department spokesman")."""
    head, _, rest = question.speaker.partition(" in ")  # "some people in internal NATO discussions"
    wanted = _speaker_words(head)
    if not wanted:
        return 0.0
    around = _speaker_words(paragraph[notes.start:notes.end]) if rest else []
    best = 0.0
    for statement in notes.statements:
        words_ = [statement.speaker, statement.name]
        words_ += [f"{r.name} {r.title}" for r in notes.referents
                   if r.start < statement.speaker_end and r.end > statement.speaker_start]
        held = _speaker_words(" ".join(words_))
        share = sum(1 for w in wanted if _speaker_word_in(w, held)) / len(wanted)
        if rest and share:  # what qualifies the speaker may stand elsewhere in the sentence
            qualifiers = _speaker_words(rest)
            share = 0.6 * share + 0.4 * sum(1 for w in qualifiers if _speaker_word_in(w, around)) / max(1, len(qualifiers))
        best = max(best, share)
    return best


def _speaker_words(text: str) -> list[str | frozenset[str]]:
    """Return a speaker's words: stems, with place names and demonyms as their places."""
    out: list[str | frozenset[str]] = []
    for word in re.findall(r"[A-Za-z][\w.'’-]*", text):
        bare = re.sub(r"['’]s$", "", word)
        places = places_named(bare)
        if places:
            out.append(places)
        elif bare.lower() not in STOPWORDS:
            out.append(stem(bare.lower()))
    return out


def _speaker_word_in(word: str | frozenset[str], held: list[str | frozenset[str]]) -> bool:
    if isinstance(word, frozenset):
        return any(isinstance(h, frozenset) and word & h for h in held)
    if word in held:
        return True
    related = {stem(w) for w in roles().get(word, ())}  # "leader" in the question, "prime minister" in the text
    return bool(related & {h for h in held if isinstance(h, str)})


def said_match(question: Question, notes: SentenceNotes, paragraph: str, *, weight,
               dense: float = 0.0) -> tuple[Statement | None, float, bool]:
    """Return the sentence's statement whose words best match what the question says was said (or,
    for "What did Y say about Z?", its topic Z), and the IDF-weighted share of those terms it holds;
    a statement by someone the question itself names cannot answer "who", and one whose polarity
    is the reverse of the question's ("refused to send" for "would send") does not match at all, and
    the third value says a statement was passed over for it. The sentence's embedding similarity
    (`dense`) stands in for the wording when it is the closer match: a paraphrase ("irritated" for
    "angry") shares few words, yet never earns full marks from it alone."""
    wanted = {t: weight(t) for t in terms(question.content or question.text)}
    total = sum(wanted.values()) or 1.0
    asked = set(words(question.text)) - STOPWORDS
    best, score, reversed_ = None, 0.0, False
    paraphrase = min(1.0, max(0.0, (dense - DENSE_FLOOR) / DENSE_SPAN)) * DENSE_CAP
    for statement in notes.statements:
        if question.asks_speaker and statement.name and name_keys(statement.name) <= asked:
            continue
        content = paragraph[statement.content_start:statement.content_end]
        said = set(terms(content)) | set(terms(paragraph[statement.speaker_start:statement.speaker_end]))
        around = set(terms(paragraph[notes.start:notes.end]))  # words it says outside the clause count a quarter
        share = (0.75 * sum(w for t, w in wanted.items() if t in said)
                 + 0.25 * sum(w for t, w in wanted.items() if t in around)) / total
        if question.asks_speaker and question.content and negated(content) != negated(question.content):
            reversed_ = reversed_ or share >= 0.5
            continue
        share = max(share, paraphrase)
        if share > score:
            best, score = statement, share
    return best, score, reversed_


DENSE_FLOOR, DENSE_SPAN, DENSE_CAP = 0.5, 0.3, 0.8  # cosine 0.5 -> 0, 0.8 and up -> 0.8


_NEGATORS = frozenset({"not", "no", "never", "nothing", "none", "neither", "nor", "cannot", "refuse", "refused",
                       "refusal", "refuses", "deny", "denied", "denies"})


def negated(text: str) -> bool:
    """Return True when a clause holds a negation ("not", "never", "refused to", "n't")."""
    return any(w in _NEGATORS or w.endswith("n't") for w in re.findall(r"[a-z]+(?:n't)?", text.lower()))


def statement_support(question: Question, *, statement: Statement | None, said: float, speaker: float,
                      focus: float, constraints: float, typed_match: float) -> float:
    """Return how far a sentence holds the statement the question describes, 0 when it describes
    none or the sentence lacks it. "What did Y say about Z?": a statement by Y, the more so the more
    of Z it holds. "Who said X?": a statement by someone of the kind asked for holding X (a speaker
    left unnamed counts less, and never when a name or a person in some role is asked for); each
    further fit (a title fitting the role asked for, every stated name and place met in the
    sentence) lowers how much of X's wording it must share."""
    if question.speaker:
        if speaker < 0.8 or (question.typed and not typed_match):
            return 0.0
        return 0.5 + 0.5 * said if said >= 0.25 or not question.content else 0.4
    if not question.asks_speaker or statement is None:
        return 0.0
    if not statement.name and (question.focus == "name" or (question.focus and "PERSON" in question.labels)):
        return 0.0
    labels = question.labels | ({"GPE"} if "ORG" in question.labels else set())  # "Russia warned": its government
    if question.labels and statement.label and statement.label not in labels:
        return 0.0
    stated = bool(question.names or question.places)
    support = said + 0.2 * focus + (0.2 if stated and constraints >= 1.0 else 0.0)
    support *= 1.0 if statement.name else 0.9
    return support if support >= 0.5 else 0.0


def names_only(question: Question, text: str, *, weight, notes: SentenceNotes | None = None) -> bool:
    """Return True when the sentence shares the question's names but none of its other content
    words ("Which party does Robert Fico lead?" and a sentence about Fico that names no party). Words
    of saying ("remarks", "comment", "make") count as held by a sentence in which someone the question
    names makes a statement ("When did Kallas make her remarks?")."""
    named = {t for name in [*question.names, *question.mentions] for t in terms(name)}
    rest = [t for t in terms(question.text) if t not in named and t not in _FRAMING_TERMS]
    if notes is not None and speaks(question, notes):
        rest = [t for t in rest if t not in _speech_terms()]
    if not rest or not named:
        return False
    held = set(terms(text))
    return bool(named & held) and not any(t in held for t in rest)


def speaks(question: Question, notes: SentenceNotes) -> bool:
    """Return True when someone the question names is the speaker of one of the sentence's statements."""
    named = [set(terms(name)) for name in question.names if terms(name)]
    speakers = [set(terms(s.name or s.speaker)) for s in notes.statements]
    return any(n <= said or said and said <= n for n in named for said in speakers)


@lru_cache(maxsize=1)
def _speech_terms() -> frozenset[str]:
    """Return the stems of the words of saying, with the light verbs a statement is made with."""
    words_ = [w for phrase in (*speech_verbs(), *speech_nouns()) for w in phrase.split()]
    return frozenset(stem(w) for w in (*words_, "make", "give", "issue", "deliver", "comment", "statement"))


_FRAMING_TERMS = frozenset(stem(w) for w in ("name", "kind", "type", "sort", "exactly", "actually", "specifically",
                                              "next", "then", "else", "later", "afterwards", "also", "more"))


def focus_fit(question: Question, notes: SentenceNotes) -> float:
    """Return 1 when the sentence names a person whose title fits the role the question asks for
    ("Which Slovak leader" and "Slovak Prime Minister Robert Fico"), else 0."""
    if not question.focus or "PERSON" not in question.labels:
        return 0.0
    wanted = {stem(question.focus)} | {stem(w) for w in roles().get(question.focus, ())}
    titles = [m.title for m in notes.mentions if m.label == "PERSON"] + [r.title for r in notes.referents]
    return float(any(wanted & {stem(w.lower()) for w in title.split()} for title in titles))
