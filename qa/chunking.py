"""Article -> Chunks. A paragraph is one chunk unless it exceeds the token budget, in which case it
becomes sentence windows that keep the paragraph number and character offsets. Pure."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from qa.models import Article, Chunk
from qa.sentences import split_sentences

# Word pieces of MiniLM-style tokenizers run ahead of cl100k tokens on names and numbers; the budget
# keeps this share of the model window so that no chunk is truncated by the embedder.
WINDOW_SHARE = 0.7
HEADER_TOKENS = 24  # at most this much of the title is embedded with every chunk

TokenCounter = Callable[[str], int]


@lru_cache(maxsize=1)
def _encoding():
    """Return cl100k_base from llama-index-core's bundled cache, so nothing is downloaded."""
    import os
    from pathlib import Path

    import llama_index.core
    import tiktoken

    bundled = Path(llama_index.core.__file__).resolve().parent / "_static" / "tiktoken_cache"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(bundled))
    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """Return the cl100k_base token count of `text`."""
    return len(_encoding().encode(text, disallowed_special=()))


def budget_for_window(window: int) -> int:
    """Return the chunk token budget (header included) for an embedder window of `window` pieces."""
    return max(32, int(window * WINDOW_SHARE) - 2)


def chunk_header(title: str, *, count: TokenCounter = count_tokens) -> str:
    """Return the title as embedded with each chunk, cut to HEADER_TOKENS tokens."""
    if count(title) <= HEADER_TOKENS:
        return title
    words = title.split()
    while words and count(" ".join(words)) > HEADER_TOKENS:
        words.pop()
    return " ".join(words)


def chunk_article(article: Article, *, max_tokens: int, count: TokenCounter = count_tokens) -> list[Chunk]:
    """Return the chunks of `article`, each within `max_tokens` once the title header is added."""
    header = chunk_header(article.title, count=count)
    budget = max(16, max_tokens - count(header) - 1)
    chunks: list[Chunk] = []
    for number, paragraph in enumerate(article.paragraphs, start=1):
        tokens = count(paragraph)
        if tokens <= budget:
            chunks.append(Chunk(f"{article.id}:{number}", article.id, number, 0, len(paragraph), paragraph, tokens))
            continue
        for window, (start, end) in enumerate(split_paragraph(paragraph, budget=budget, count=count), 1):
            text = paragraph[start:end]
            chunks.append(Chunk(f"{article.id}:{number}#{window}", article.id, number, start, end, text, count(text)))
    return chunks


def split_paragraph(text: str, *, budget: int, count: TokenCounter = count_tokens) -> list[tuple[int, int]]:
    """Return (start, end) windows of whole sentences, each within `budget` tokens, overlapping by
    one sentence where it fits; a sentence over budget is cut at word boundaries."""
    pieces = [p for s, e in split_sentences(text) for p in _fit_sentence(text, s, e, budget, count)]
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(pieces):
        j = i + 1
        while j < len(pieces) and count(text[pieces[i][0]:pieces[j][1]]) <= budget:
            j += 1
        windows.append((pieces[i][0], pieces[j - 1][1]))
        if j >= len(pieces):
            break
        # start the next window on the last sentence of this one when that still leaves progress
        i = j - 1 if j - 1 > i and count(text[pieces[j - 1][0]:pieces[j][1]]) <= budget else j
    return windows


def _fit_sentence(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[tuple[int, int]]:
    if count(text[start:end]) <= budget:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    piece_start = start
    last_space = -1
    position = start
    while position < end:
        if text[position].isspace():
            if count(text[piece_start:position]) > budget and last_space > piece_start:
                pieces.append((piece_start, last_space))
                piece_start = last_space + 1
            last_space = position
        position += 1
    if count(text[piece_start:end]) > budget and last_space > piece_start:
        pieces.append((piece_start, last_space))
        piece_start = last_space + 1
    pieces.append((piece_start, end))
    return [cut for a, b in pieces for cut in _fit_characters(text, a, b, budget, count)]


def _fit_characters(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Return cuts of a span with no usable spaces (a long URL, say), each within budget."""
    if count(text[start:end]) <= budget:
        return [(start, end)]
    cuts, a = [], start
    while a < end:
        b = min(end, a + budget)  # a token is at least one character, so this fits
        cuts.append((a, b))
        a = b
    return cuts
