"""An archive-sized corpus for the scale benchmarks: SQuAD v1.1 dev's 48 articles (2,067 paragraphs)
first, then distractor articles until the asked number of paragraphs.

A distractor article takes the title of a SQuAD article with a report number, and each of its
paragraphs is 3-5 sentences drawn from that article, shuffled, none of them a gold answer sentence (a
sentence holding the start of any answer span of any question about the article). So a distractor
talks about the same subject in the same words as the paragraphs the questions are about, but never
holds an answer: the gold paragraph stays the only right one, and every question still has one.
Deterministic, and made of whole articles: the archive of N paragraphs is the leading articles of any
larger one (it may hold up to 7 paragraphs more than N), so stores grow by prefixes (10k -> 30k -> 100k)
and no article changes between steps. Pure apart from reading the SQuAD file.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from qa.evaluation.squad import load_squad
from qa.models import Article
from qa.sentences import split_sentences

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"
PARAGRAPHS_PER_DISTRACTOR = 8


def answer_free_sentences(articles: list[Article], questions: list[dict]) -> dict[str, list[str]]:
    """Return, per article id, its sentences that hold no answer span's start, in reading order."""
    starts: dict[tuple[str, int], set[int]] = {}
    for q in questions:
        context = q["context"]
        for start in q["starts"]:
            before = " ".join(context[:start].split())
            offset = len(before) + (1 if before and context[start - 1:start].isspace() else 0)
            starts.setdefault((q["article_id"], q["paragraph"]), set()).add(offset)
    pool: dict[str, list[str]] = {}
    for article in articles:
        for number, text in enumerate(article.paragraphs, start=1):
            gold = starts.get((article.id, number), set())
            pool.setdefault(article.id, []).extend(
                text[s:e] for s, e in split_sentences(text) if not any(s <= g < e for g in gold))
    return pool


def distractors(articles: list[Article], pool: dict[str, list[str]], *, seed: int = 0) -> Iterator[Article]:
    """Yield distractor articles without end, round-robin over the SQuAD articles that have at least
    five answer-free sentences."""
    sources = [a for a in articles if len(pool[a.id]) >= 5]
    number = 0
    while True:
        source = sources[number % len(sources)]
        rng = random.Random(f"{seed}:{number}")
        sentences = pool[source.id]
        paragraphs = tuple(" ".join(rng.sample(sentences, rng.randint(3, 5))) for _ in range(PARAGRAPHS_PER_DISTRACTOR))
        yield Article(id=f"archive-{number:06d}", title=f"{source.title}: report {number}", paragraphs=paragraphs,
                      outlet="Archive", source=f"archive-{number:06d}.txt")
        number += 1


def archive(total: int, *, data: Path = DEFAULT_DATA, seed: int = 0) -> tuple[list[Article], list[dict]]:
    """Return the archive of at least `total` paragraphs (SQuAD dev first, then whole distractors) and
    SQuAD dev's questions."""
    articles, questions = load_squad(data)
    out = list(articles)
    held = sum(len(a.paragraphs) for a in out)
    for extra in distractors(articles, answer_free_sentences(articles, questions), seed=seed):
        if held >= total:
            break
        out.append(extra)
        held += len(extra.paragraphs)
    return out, questions


def prefix(articles: list[Article], paragraphs: int) -> list[Article]:
    """Return the fewest leading articles holding at least `paragraphs` paragraphs in all."""
    out, held = [], 0
    for article in articles:
        if held >= paragraphs:
            break
        out.append(article)
        held += len(article.paragraphs)
    return out
