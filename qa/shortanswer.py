"""The short answer: the phrase of the chosen sentence that answers a who / when / where / how-many /
which / what question ("Matthew Miller", "February 26", "approximately 20"): the speaker of the
statement a who-said question asks about; else, among its phrases of the kind the question asks
for (any phrase when it names no kind), the one qa.spans scores best; never one the question
itself names. Pure, given a parser for the chosen sentence."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from qa.evidence import Evidence, SentenceScore
from qa.lexicon import roles
from qa.models import Hit, Mention, ShortAnswer
from qa.nlp import Parse, words_of
from qa.question import Question
from qa.spans import best_span
from qa.structure import name_keys
from qa.terms import STOPWORDS, stem, words

# for a who-question, a person before an organisation before a group
_PREFERENCE = {"PERSON": 0, "ORG": 1, "NORP": 2}


class Lookup(Protocol):
    def hit(self, address: str) -> Hit | None: ...


def pick_short_answer(question: Question, item: Evidence, sentence: SentenceScore, lookup: Lookup, *,
                      parse: Callable[[str], Parse] | None = None) -> ShortAnswer | None:
    """Return the short answer within the chosen sentence (or the speaker it quotes; for "Who is Y?",
    Y's office as the sentence gives it), or None for a
    yes-no or why question, one asking what someone did or what happened, or when the sentence holds no phrase of the asked kind it does not name."""
    hit = item.hit
    statement = sentence.statement
    if question.asks_speaker and statement is not None and sentence.support:
        if not statement.name:  # "Western nations", "A senior US official": who said it, unnamed
            return _unnamed(hit, statement)
        return _speaker(hit, sentence, lookup)
    if question.wh in ("yes-no", "why", "") or question.asks_action or question.speaker and not question.labels:
        return None
    asked = set(words(question.text)) - STOPWORDS
    if question.asks_identity:
        described = _description(hit, sentence, asked)
        if described is not None:
            return described
    found = [m for m in sentence.notes.mentions if m.label in question.labels and not _named_by(m, asked)]
    if parse is not None and (found or not question.labels):
        phrase = _scored(question, hit, sentence, parse, asked)
        if phrase is not None:
            return phrase
    if not question.labels:
        return None
    if not found:
        return _referent(question, hit, sentence, lookup) if "PERSON" in question.labels else None
    best = min(found, key=lambda m: (_rank(question, m), _distance(hit.text, sentence, m, asked)))
    if question.shape >= 2:
        return _joined(hit, best, found)
    return _at(hit, best.start, best.end, best.label)


def _scored(question: Question, hit: Hit, sentence: SentenceScore, parse: Callable[[str], Parse],
            asked: set[str]) -> ShortAnswer | None:
    """Return the sentence's phrase qa.spans scores best, of the kind asked for when one is."""
    parsed = parse(hit.text[sentence.start:sentence.end])
    stems = {stem(w) for w in asked}

    def allowed(span) -> bool:
        text = words_of(parsed, span.first, span.last)
        fits = not question.labels or span.label in question.labels
        return fits and not _named_by(Mention(text, span.label, 0, 0), asked)

    span = best_span(question, parsed, 0, len(parsed.tokens), asked=stems, allowed=allowed)
    if span is None:
        return None
    start = sentence.start + parsed.tokens[span.first].start
    end = sentence.start + parsed.tokens[span.last - 1].end
    shape = _joined(hit, Mention(hit.text[start:end], span.label, start, end), [
        m for m in sentence.notes.mentions if m.label == span.label]) if question.shape >= 2 else None
    return shape or _at(hit, start, end, span.label)


def _description(hit: Hit, sentence: SentenceScore, asked: set[str]) -> ShortAnswer | None:
    """Return the office the sentence gives the person a who-is question names, as written beside the
    name: before it ("State Department spokesman Matthew Miller") or after it ("Miller, the spokesman")."""
    for mention in sentence.notes.mentions:
        if mention.label != "PERSON" or not mention.title or not _named_by(mention, asked):
            continue
        before = hit.text.rfind(mention.title, sentence.start, mention.start)
        if before >= 0 and not hit.text[before + len(mention.title):mention.start].strip(" ,"):
            return _at(hit, before, before + len(mention.title), "ROLE")
        after = hit.text.find(mention.title, mention.end, sentence.end)
        if after >= 0 and len(hit.text[mention.end:after].split()) <= 3:
            return _at(hit, after, after + len(mention.title), "ROLE")
    return None


def _named_by(mention: Mention, asked: set[str]) -> bool:
    keys = name_keys(mention.text) or set(words(mention.text))
    return bool(keys) and keys <= asked


def _rank(question: Question, mention: Mention) -> int:
    """Return how well a mention's kind fits: a person whose title fits the role asked for first."""
    rank = _PREFERENCE.get(mention.label, 3) if question.wh == "who" else 0
    if question.focus in roles() and mention.label == "PERSON":
        fits = {stem(w) for w in roles()[question.focus]} | {stem(question.focus)}
        rank -= 5 if fits & {stem(w.lower()) for w in mention.title.split()} else 0
    return rank


def _distance(text: str, sentence: SentenceScore, mention: Mention, asked: set[str]) -> int:
    """Return how far a mention stands from the nearest word the sentence shares with the question."""
    shared = [m.start() for m in re.finditer(r"\w+", text[sentence.start:sentence.end])
              if m.group().lower() in asked]
    if not shared:
        return 0
    at = mention.start - sentence.start
    return min(abs(at - s) for s in shared)


def _joined(hit: Hit, best: Mention, found: list[Mention]) -> ShortAnswer:
    """Return "Gaza and Ukraine" for a question asking for two: the mention and the next one of the
    same kind joined to it by "and" or a comma."""
    after = [m for m in found if m.start > best.start and m.label == best.label]
    if after and re.fullmatch(r"\s*(?:,|and|, and|or)\s*", hit.text[best.end:after[0].start]):
        return _at(hit, best.start, after[0].end, best.label)
    return _at(hit, best.start, best.end, best.label)


def _speaker(hit: Hit, sentence: SentenceScore, lookup: Lookup) -> ShortAnswer | None:
    """Return the quoted statement's speaker: their name in the sentence, or where whom its pronoun
    stands for is named."""
    statement = sentence.statement
    for mention in sentence.notes.mentions:
        if statement.speaker_start <= mention.start < statement.speaker_end and mention.text == statement.name:
            return _at(hit, mention.start, mention.end, mention.label)
    for ref in sentence.notes.referents:
        if statement.speaker_start <= ref.start < statement.speaker_end:
            return _referent_at(hit, ref, lookup)
    text = hit.text[statement.speaker_start:statement.speaker_end]
    at = text.find(statement.name)
    if at >= 0:
        return _at(hit, statement.speaker_start + at, statement.speaker_start + at + len(statement.name), statement.label)
    return None


def _unnamed(hit: Hit, statement) -> ShortAnswer:
    """Return an unnamed speaker's words without a leading article ("senior US official")."""
    text = hit.text[statement.speaker_start:statement.speaker_end]
    lead = re.match(r"(?:the|a|an|some)\s+", text, re.I)
    start = statement.speaker_start + (lead.end() if lead else 0)
    return _at(hit, start, statement.speaker_end, "")


def _referent(question: Question, hit: Hit, sentence: SentenceScore, lookup: Lookup) -> ShortAnswer | None:
    asked = set(words(question.text)) - STOPWORDS
    for ref in sentence.notes.referents:
        if not name_keys(ref.name) <= asked:
            return _referent_at(hit, ref, lookup)
    return None


def _referent_at(hit: Hit, ref, lookup: Lookup) -> ShortAnswer | None:
    named = hit if ref.paragraph == hit.paragraph else lookup.hit(f"{hit.article_id}:{ref.paragraph}")
    if named is None:
        return None
    return _at(named, ref.name_start, ref.name_end, "PERSON")


def _at(hit: Hit, start: int, end: int, label: str) -> ShortAnswer:
    return ShortAnswer(text=hit.text[start:end], article_id=hit.article_id, paragraph=hit.paragraph,
                       start=start, end=end, label=label)
