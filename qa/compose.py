"""Composing an extractive answer: quoted sentences with their [n] markers, one marker per cited
paragraph; a sentence that leans on what came before brings it along, and a pronoun resolved to
a person named elsewhere is marked ("he [Matthew Miller] said") with the naming sentence cited."""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.citations import defuse_markers
from qa.evidence import Evidence, SentenceScore
from qa.models import Answer, Citation, Hit, Referent, SentenceNotes, ShortAnswer
from qa.question import Question

Paragraphs = Callable[[list[str]], list[Hit]]


class Composer:
    """Collects the sentences of one answer and the paragraphs they cite."""

    def __init__(self, evidence: list[Evidence], *, paragraphs: Paragraphs | None = None) -> None:
        self._evidence = {e.hit.key: e for e in evidence}
        self._hits = {e.hit.key: e.hit for e in evidence}
        self._paragraphs = paragraphs
        self._spans: dict[str, list[tuple[int, int]]] = {}  # paragraph address -> spans quoted, in marker order
        self._parts: list[str] = []
        self._quoted: set[tuple[str, int]] = set()
        self._entities: list[tuple[str, str, str]] = []

    def hit(self, address: str) -> Hit | None:
        """Return the paragraph at `address`, fetching it when no evidence holds it."""
        if address not in self._hits and self._paragraphs is not None:
            for hit in self._paragraphs([address]):
                self._hits[hit.key] = hit
        return self._hits.get(address)

    def add(self, question: Question, item: Evidence, sentence: SentenceScore) -> None:
        """Quote one chosen sentence, led by what it needs to stand on its own."""
        hit, notes = item.hit, sentence.notes
        if (hit.key, sentence.start) in self._quoted:
            return
        referent = _subject_referent(notes, hit.paragraph)
        statement = sentence.statement
        if question.asks_speaker and statement is not None and statement.name and referent is not None:
            named = self.hit(f"{hit.article_id}:{referent.paragraph}")
            if named is not None:
                lead = f"{referent.name}, {referent.title}" if referent.title else referent.name
                self._parts.append(f"{lead} {self._marker(named, referent.sentence_start, referent.sentence_end)}:")
                self._quote(hit, notes, referent)
                return
        if referent is not None and not notes.leans:
            referent = None  # a pronoun that is not the sentence's subject needs no marking
        if referent is not None:  # "he [Matthew Miller] said [1][2]": [2] cites where he is named
            named = self.hit(f"{hit.article_id}:{referent.paragraph}")
            self._quote(hit, notes, referent, naming=named)
            return
        if notes.leans:
            self._antecedent(item, notes)
        self._quote(hit, notes, None)

    def _antecedent(self, item: Evidence, notes: SentenceNotes) -> None:
        """Quote the sentence a leaning one needs: the one before it in its paragraph, or the last of
        the paragraph before."""
        hit = item.hit
        before = [s for s in item.sentences if s.end <= notes.start]
        if before:
            self._plain(hit, before[-1].start, before[-1].end)
            return
        previous = self.hit(f"{hit.article_id}:{hit.paragraph - 1}") if hit.paragraph > 1 else None
        if previous is not None:
            spans = _sentence_spans(self._evidence.get(previous.key), previous.text)
            if spans:
                self._plain(previous, *spans[-1])

    def _plain(self, hit: Hit, start: int, end: int) -> None:
        if (hit.key, start) in self._quoted:
            return
        self._quoted.add((hit.key, start))
        self._parts.append(with_marker(defuse_markers(hit.text[start:end]), self._marker(hit, start, end)))

    def _quote(self, hit: Hit, notes: SentenceNotes, referent: Referent | None, *, naming: Hit | None = None) -> None:
        """Quote a sentence, its resolved subject pronoun marked with the name it stands for, cited
        with the paragraph that names them when `naming` is given."""
        if (hit.key, notes.start) in self._quoted:
            return
        self._quoted.add((hit.key, notes.start))
        self._entities += [(r.name, "PERSON", r.title) for r in notes.referents]
        self._entities += [(m.text, m.label, m.title) for m in notes.mentions]
        text = hit.text[notes.start:notes.end]
        if referent is not None:
            cut = referent.end - notes.start
            text = f"{text[:cut]} [{referent.name}]{text[cut:]}"
        marker = self._marker(hit, notes.start, notes.end)
        if naming is not None and referent is not None:
            named = self._marker(naming, referent.sentence_start, referent.sentence_end)
            marker += named if named != marker else ""  # named earlier in the same paragraph: one marker
        self._parts.append(with_marker(defuse_markers(text), marker))

    def _marker(self, hit: Hit, start: int, end: int) -> str:
        spans = self._spans.setdefault(hit.key, [])
        self._hits.setdefault(hit.key, hit)
        spans.append((start, end))
        return f"[{list(self._spans).index(hit.key) + 1}]"

    def answer(self, question: Question, *, short_answer: ShortAnswer | None) -> Answer:
        """Return the composed answer: its text and one citation per paragraph, quoting from the first
        to the last sentence used there."""
        citations = []
        for marker, (address, spans) in enumerate(self._spans.items(), start=1):
            hit = self._hits[address]
            start, end = min(s for s, _ in spans), max(e for _, e in spans)
            citations.append(Citation(marker=marker, article_id=hit.article_id, title=hit.title,
                                      paragraph=hit.paragraph, text=hit.text, quote=hit.text[start:end],
                                      start=start, end=end))
        return Answer(answer=" ".join(self._parts), answerable=True, citations=citations, question=question.text,
                      short_answer=short_answer, entities=self._entities)


def _subject_referent(notes: SentenceNotes, paragraph: int) -> Referent | None:
    """Return the referent of the sentence's leading pronoun or role noun (the subject of one of its
    statements, or near its start), when it names someone outside the sentence."""
    outside = [r for r in notes.referents
               if r.paragraph != paragraph or not notes.start <= r.name_start < notes.end]
    speakers = [(s.speaker_start, s.speaker_end) for s in notes.statements]
    for ref in outside:
        if any(a <= ref.start and ref.end <= b for a, b in speakers):
            return ref
    return outside[0] if outside and notes.leans == "pronoun" else None


def _sentence_spans(item: Evidence | None, text: str) -> list[tuple[int, int]]:
    if item is not None and item.sentences:
        return [(s.start, s.end) for s in item.sentences]
    from qa.sentences import split_sentences

    return split_sentences(text)


def with_marker(quote: str, marker: str) -> str:
    """Return the quote with its marker before a final full stop, or after a closing quote mark."""
    match = re.search(r"([.!?…]+)$", quote)
    if match:
        return f"{quote[:match.start()]} {marker}{quote[match.start():]}"
    return f"{quote} {marker}"
