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

    def to_dict(self) -> dict:
        """Return the JSON-ready form of the answer."""
        return asdict(self)
