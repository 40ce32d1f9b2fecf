"""What a streamed answer sends, stage by stage, and the cutting of text into its sentences; pure.

    Retrieved   retrieval is done: the addresses of the paragraphs being read, best first
    Delta       a piece of the answer text, a sentence with its markers, as the answerer composes it
    Done        the final Answer: citations complete, flags, short answer

The Delta texts of one answer join to the Done answer's text (qa.answer.answer_events)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from qa.models import Answer
from qa.sentences import split_sentences

_LEADING_MARKERS = re.compile(r"\s*\[\d+\](?:\s*\[\d+\])*[.!?]*")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass
class Retrieved:
    """Retrieval is done; these paragraphs are being read."""

    paragraphs: list[str]


@dataclass
class Delta:
    """The next piece of the answer text."""

    text: str


@dataclass
class Done:
    """The answer, complete."""

    answer: Answer


Event = Retrieved | Delta | Done


def text_pieces(text: str) -> list[str]:
    """Return `text` cut after each sentence and its citation markers; the pieces join back to `text`."""
    ends = [end for _, end in split_sentences(text)][:-1]
    bounds = [0, *ends, len(text)]
    pieces: list[str] = []
    for piece in (text[a:b] for a, b in zip(bounds, bounds[1:])):
        markers = _LEADING_MARKERS.match(piece)
        if pieces and markers:  # '... reaction." [1] He' splits before the marker: it belongs to the left
            pieces[-1] += markers.group(0)
            piece = piece[markers.end():]
        if piece:
            pieces.append(piece)
    return pieces


def answer_deltas(answer: Answer) -> Iterator[Delta]:
    """Yield a composed answer's text sentence by sentence."""
    for piece in text_pieces(answer.answer):
        yield Delta(piece)


def finished_count(sentences: list[str]) -> int:
    """Return how many of the sentences parsed so far from a reply still arriving are finished: all but
    the last, once the last holds a letter (before it, a marker of the one before may still be arriving)."""
    if not sentences:
        return 0
    return len(sentences) - (1 if _LETTER.search(sentences[-1]) else 2) if len(sentences) > 1 else 0
