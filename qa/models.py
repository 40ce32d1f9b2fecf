"""Plain data passed between the modules: articles, chunks, hits, citations, answers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Article:
    """One news article: metadata and its numbered paragraphs (paragraph n is paragraphs[n-1])."""

    id: str
    title: str
    paragraphs: tuple[str, ...]
    outlet: str = ""
    date: str = ""  # ISO yyyy-mm-dd, or "" when the article does not state it
    url: str = ""
    source: str = ""  # file path relative to the corpus root
    sections: tuple[str, ...] = ()  # heading in force for each paragraph ("" before the first)
    # where each paragraph's sentences start, as the store recorded them at ingest (so their stored
    # notes and vectors are fetched by id); () when read from a file, or stored without them
    sentence_starts: tuple[tuple[int, ...], ...] = field(default=(), compare=False, repr=False)

    @property
    def content_hash(self) -> str:
        """Return a digest of everything that ingest stores, so a change re-embeds the article."""
        payload = json.dumps(
            [self.title, self.paragraphs, self.outlet, self.date, self.url, self.sections],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def paragraph(self, number: int) -> str:
        """Return paragraph `number` (1-based)."""
        return self.paragraphs[number - 1]

    def section(self, number: int) -> str:
        """Return the heading in force for paragraph `number`, or ''."""
        return self.sections[number - 1] if number <= len(self.sections) else ""


@dataclass(frozen=True)
class Chunk:
    """A retrieval unit: a whole paragraph, or a sentence window of a long one."""

    id: str  # "{article_id}:{paragraph}" or "{article_id}:{paragraph}#{window}"
    article_id: str
    paragraph: int
    start: int  # character offsets of the chunk inside its paragraph
    end: int
    text: str
    tokens: int


@dataclass(frozen=True)
class Mention:
    """A name in a sentence: a named entity, or a run of proper nouns the entity tagger missed."""

    text: str
    label: str  # PERSON, ORG, GPE, NORP, DATE, CARDINAL... ("" for an untyped proper-noun run)
    start: int  # offsets in the paragraph
    end: int
    title: str = ""  # for a person, the words naming their office ("State Department spokesman")


@dataclass(frozen=True)
class Referent:
    """Whom a pronoun or role noun ("he", "the spokesman") stands for: a person named earlier."""

    start: int  # offsets of the pronoun or role noun in its paragraph
    end: int
    name: str  # "Matthew Miller"
    title: str  # "State Department spokesman"
    paragraph: int  # the paragraph that names them (its own number when the name is in the same one)
    name_start: int  # offsets of the name in that paragraph
    name_end: int
    sentence_start: int  # offsets of the sentence that names them, in that paragraph
    sentence_end: int


@dataclass(frozen=True)
class Statement:
    """Someone saying something or taking a stance: speaker, verb, what was said, and its polarity."""

    verb: str  # lemma, with its particle: "say", "rule out"
    verb_start: int  # offsets in the paragraph
    verb_end: int
    speaker: str  # as written: "he", "State Department spokesman Matthew Miller", "A senior US official"
    speaker_start: int
    speaker_end: int
    content_start: int  # what was said: the quote or the complement clause
    content_end: int
    negated: bool = False  # "did not say", "has not ruled out"
    name: str = ""  # the speaker's name when it is known (in place or through a Referent), else ""
    label: str = ""  # that name's entity label (PERSON, ORG, GPE...), "" when unknown


@dataclass(frozen=True)
class SentenceNotes:
    """What the language pipeline found in one sentence of a paragraph, stored with it at ingest."""

    start: int
    end: int
    mentions: tuple[Mention, ...] = ()
    statements: tuple[Statement, ...] = ()
    referents: tuple[Referent, ...] = ()
    leans: str = ""  # why it needs the sentence before: "pronoun", "do so", "this"; "" when it stands alone
    kind: str = ""  # "question", "fragment" (no verb: a headline or a list of names), "" for a plain sentence
    lemmas: str = ""  # its content words' lemmas, space-separated

    def to_json(self) -> str:
        """Return the notes as compact JSON (how the store keeps them)."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SentenceNotes:
        """Return notes stored by to_json()."""
        raw = json.loads(text)
        return cls(start=raw["start"], end=raw["end"], leans=raw.get("leans", ""), kind=raw.get("kind", ""),
                   lemmas=raw.get("lemmas", ""),
                   mentions=tuple(Mention(**m) for m in raw.get("mentions", ())),
                   statements=tuple(Statement(**m) for m in raw.get("statements", ())),
                   referents=tuple(Referent(**m) for m in raw.get("referents", ())))


@dataclass
class Hit:
    """A retrieved paragraph with its fused score."""

    article_id: str
    title: str
    paragraph: int
    text: str
    score: float
    outlet: str = ""
    date: str = ""
    section: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    sentence_starts: tuple[int, ...] = ()  # its stored sentences' offsets, when the store recorded them

    @property
    def key(self) -> str:
        """Return the paragraph address `article_id:paragraph`."""
        return f"{self.article_id}:{self.paragraph}"


@dataclass
class Citation:
    """What one [marker] in an answer points at."""

    marker: int
    article_id: str
    title: str
    paragraph: int
    text: str  # the whole cited paragraph
    quote: str  # the sentence(s) of the paragraph the answer rests on
    start: int = -1  # offsets of the quote inside the paragraph
    end: int = -1


@dataclass
class Flag:
    """A citation the answerer dropped, and why."""

    sentence: str
    marker: int
    reason: str


@dataclass
class Passage:
    """A sentence a refusal points the reader to: near the question, though not judged to answer it."""

    article_id: str
    title: str
    paragraph: int
    text: str  # the whole paragraph
    quote: str  # its sentence nearest the question


@dataclass
class ShortAnswer:
    """The phrase that answers a who / when / where / how-many / which question, where it stands."""

    text: str
    article_id: str
    paragraph: int
    start: int  # offsets in the paragraph
    end: int
    label: str = ""  # its entity label: PERSON, DATE, GPE, CARDINAL...


@dataclass
class Answer:
    """The response contract shared by the CLI, the API and the eval harness."""

    answer: str
    answerable: bool
    citations: list[Citation] = field(default_factory=list)
    question: str = ""
    query: str = ""  # the standalone query used for retrieval (differs for follow-ups)
    answerer: str = "extractive"
    confidence: float = 0.0
    flags: list[Flag] = field(default_factory=list)
    retrieved: list[str] = field(default_factory=list)  # addresses of the paragraphs considered, best first
    nearest: list[Passage] = field(default_factory=list)  # when refused: where to look, best first
    short_answer: ShortAnswer | None = None  # the phrase that answers, when the question asks for one
    # who and what the cited sentences name, (text, label, title), for the follow-ups of a conversation
    entities: list[tuple[str, str, str]] = field(default_factory=list, repr=False, compare=False)

    def to_dict(self) -> dict:
        """Return the JSON-ready form of the answer."""
        out = asdict(self)
        del out["entities"]
        return out
