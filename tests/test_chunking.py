"""Chunking: paragraphs as chunks, sentence windows for long ones, measured with the real model's tokenizer."""

from __future__ import annotations

import itertools

import pytest
from llama_index.core.schema import MetadataMode

from qa.chunking import budget_for_window, chunk_article, count_tokens
from qa.models import Article, Chunk
from qa.sentences import split_sentences
from qa.store import chunk_node

# long enough that the title header is cut, as it is for the seed corpus's first article
TITLE = (
    "Macron's remark on deployment of foreign troops in Ukraine irks U.S. officials, reports Bloomberg. "
    "US State Department reacts"
)
SPEAKERS = (
    "Ukrainian Foreign Minister Dmytro Kuleba", "Latvian Prime Minister Evika Siliņa",
    "NATO Secretary General Jens Stoltenberg", "German Defense Minister Boris Pistorius",
    "Slovak Prime Minister Robert Fico", "Estonian Prime Minister Kaja Kallas",
    "State Department spokesman Matthew Miller", "French President Emmanuel Macron",
)
SETTINGS = (
    "told reporters in Brussels", "wrote on X on 29 February", "said in an interview broadcast on 14 March",
    "argued during a 45-minute press conference", "insisted at the Paris summit attended by roughly 20 leaders",
    "warned lawmakers in Kyiv",
)
CLAIMS = (
    "that €5,000,000,000 in aid would arrive before 2025", "that 1,200 instructors could be deployed within 6 weeks",
    "that the alliance had no plans to send ground troops", "that Moscow's reaction, while predictable, changed nothing",
    "that the debate would help Europe realise the need for further action",
    "that long-range missiles such as the Taurus KEPD-350 stayed off the table",
    "that the 2% spending target was a floor, not a ceiling",
)


def long_paragraph(words: int = 1500) -> str:
    """Return one paragraph of at least `words` words of varied news sentences (names, numbers, symbols)."""
    combinations = itertools.cycle(itertools.product(SPEAKERS, SETTINGS, CLAIMS))
    sentences: list[str] = []
    count = 0
    for speaker, setting, claim in itertools.islice(combinations, 0, None, 7):
        sentences.append(f"{speaker} {setting} {claim}.")
        count += len(sentences[-1].split())
        if count >= words:
            return " ".join(sentences)
    raise AssertionError("unreachable")


@pytest.fixture
def budget(embedder) -> int:
    """Return the chunk budget ingest uses for the real model (QA_CHUNK_TOKENS=0)."""
    return budget_for_window(embedder.window)


def embedded_text(article: Article, chunk: Chunk) -> str:
    """Return exactly what ingest hands the embedder for a chunk: title header, then the chunk text."""
    return chunk_node(article, chunk).get_content(metadata_mode=MetadataMode.EMBED)


def test_short_paragraphs_are_one_chunk_each_addressed_article_and_paragraph(budget: int) -> None:
    paragraphs = ("Macron spoke in Paris.", "Scholz rejected the idea.", "Miller had no reaction.")
    article = Article(id="summit", title="Summit", paragraphs=paragraphs)

    chunks = chunk_article(article, max_tokens=budget)

    assert [c.id for c in chunks] == ["summit:1", "summit:2", "summit:3"]
    assert [(c.article_id, c.paragraph, c.start, c.end, c.text) for c in chunks] == [
        ("summit", n, 0, len(text), text) for n, text in enumerate(paragraphs, start=1)
    ]
    assert [c.tokens for c in chunks] == [count_tokens(text) for text in paragraphs]


def test_long_paragraph_becomes_windows_that_keep_its_number_and_slice_it_exactly(budget: int) -> None:
    paragraph = long_paragraph()
    article = Article(id="debate", title=TITLE, paragraphs=("A short opening paragraph.", paragraph))

    chunks = chunk_article(article, max_tokens=budget)

    assert len(paragraph.split()) >= 1500
    assert chunks[0].id == "debate:1"
    windows = chunks[1:]
    assert len(windows) > 5
    assert [c.id for c in windows] == [f"debate:2#{n}" for n in range(1, len(windows) + 1)]
    assert {c.paragraph for c in windows} == {2}
    for window in windows:
        assert window.text == paragraph[window.start:window.end]
        assert window.tokens == count_tokens(window.text)
    assert windows[0].start == 0
    assert windows[-1].end == len(paragraph)
    for before, after in itertools.pairwise(windows):
        assert before.start < after.start <= before.end  # each window starts inside or right after the last


def test_long_paragraph_windows_together_cover_every_sentence(budget: int) -> None:
    paragraph = long_paragraph()
    article = Article(id="debate", title=TITLE, paragraphs=(paragraph,))

    windows = chunk_article(article, max_tokens=budget)

    sentences = split_sentences(paragraph)
    assert len(sentences) > 50
    for start, end in sentences:
        assert any(w.start <= start and end <= w.end for w in windows), paragraph[start:end]


def test_every_window_with_its_title_header_fits_the_real_model_window(embedder, budget: int) -> None:
    paragraph = long_paragraph()
    article = Article(id="debate", title=TITLE, paragraphs=(paragraph,))

    windows = chunk_article(article, max_tokens=budget)

    assert len(windows) > 5
    for window in windows:
        text = embedded_text(article, window)
        assert text.startswith("Macron's remark on deployment")
        assert text.endswith(window.text)
        assert embedder.count_pieces(text) <= embedder.window, window.id


def test_single_sentence_longer_than_the_budget_is_still_split_at_word_boundaries(embedder, budget: int) -> None:
    words = [f"delegation{n} from Kyiv met envoys in Brussels and Warsaw" for n in range(80)]
    sentence = " ".join(words) + "."
    article = Article(id="run-on", title="Run-on sentence", paragraphs=(sentence,))

    windows = chunk_article(article, max_tokens=budget)

    assert len(split_sentences(sentence)) == 1
    assert count_tokens(sentence) > budget
    assert len(windows) > 1
    for window in windows:
        assert window.text == sentence[window.start:window.end]
        assert window.text == window.text.strip()
        assert embedder.count_pieces(embedded_text(article, window)) <= embedder.window, window.id
        assert window.start == 0 or sentence[window.start - 1] == " "  # cut between words
        assert window.end == len(sentence) or sentence[window.end] == " "
    assert windows[0].start == 0
    assert windows[-1].end == len(sentence)
    for before, after in itertools.pairwise(windows):
        assert before.start < after.start <= before.end + 1  # no word is left out between windows
