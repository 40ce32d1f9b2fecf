"""SQuAD v1.1 -> a corpus folder (one .txt article per SQuAD article, one paragraph per context) and
an evaluation question set whose gold is the paragraph address, the sentence holding the answer span
and the answer strings. The addresses are read back through the corpus loader, so they are the ones
`qa ingest` gives the written files."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from qa.corpus import load_corpus
from qa.errors import BadRequest
from qa.models import Article
from qa.sentences import split_sentences


def load_squad(path: Path) -> tuple[list[Article], list[dict]]:
    """Return SQuAD's articles (one paragraph per context) and its questions with gold addresses
    and answer spans."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except FileNotFoundError:
        raise BadRequest(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadRequest(f"{path}: not a SQuAD v1.1 file ({type(exc).__name__})") from None
    articles, questions = [], []
    for entry in data:
        article_id = re.sub(r"[^a-z0-9]+", "-", entry["title"].lower()).strip("-")
        paragraphs = []
        for number, para in enumerate(entry["paragraphs"], start=1):
            paragraphs.append(" ".join(para["context"].split()))
            for qa in para["qas"]:
                questions.append({
                    "id": qa["id"], "question": qa["question"], "article_id": article_id,
                    "paragraph": number, "answers": [a["text"] for a in qa["answers"]],
                    "starts": [a["answer_start"] for a in qa["answers"]], "context": para["context"],
                })
        articles.append(Article(id=article_id, title=entry["title"].replace("_", " "), paragraphs=tuple(paragraphs)))
    return articles, questions


def convert_squad(path: Path, out: Path, *, sample: int | None = 500, seed: int = 0) -> tuple[int, int]:
    """Write out/corpus/*.txt (every article) and out/dataset.jsonl (`sample` questions, all when
    None); return the numbers of articles and questions written."""
    articles, questions = load_squad(path)
    corpus = Path(out) / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for article in articles:
        body = "\n\n".join(article.paragraphs)
        (corpus / f"{article.id}.txt").write_text(f"{article.title}\n\n{body}\n", encoding="utf-8")
    addresses = _addresses(corpus)
    if sample is not None and sample < len(questions):
        questions = random.Random(seed).sample(questions, sample)
    with (Path(out) / "dataset.jsonl").open("w", encoding="utf-8") as lines:
        for q in questions:
            context = " ".join(q["context"].split())
            key = addresses.get((q["article_id"], context))
            lines.write(json.dumps({
                "id": q["id"], "question": q["question"], "history": [], "answerable": True,
                "expected_paragraphs": [key] if key else [],
                "expected_quotes": _answer_sentences(q["context"], q["starts"], q["answers"]),
                "expected_answer": sorted(set(q["answers"])),
            }, ensure_ascii=False) + "\n")
    return len(articles), len(questions)


def _addresses(corpus: Path) -> dict[tuple[str, str], str]:
    """Return (article id, paragraph text) -> "article_id:n" as the corpus loader numbers them."""
    articles, _ = load_corpus(corpus)
    return {(a.id, text): f"{a.id}:{n}" for a in articles for n, text in enumerate(a.paragraphs, start=1)}


def _answer_sentences(context: str, starts: list[int], answers: list[str]) -> list[str]:
    """Return the sentences of the context that hold an answer span, white space folded."""
    found = []
    for start, answer in zip(starts, answers):
        for s, e in split_sentences(context):
            if s <= start < e:
                sentence = " ".join(context[s:max(e, start + len(answer))].split())
                if sentence not in found:
                    found.append(sentence)
                break
    return found


def normalize_answer(text: str) -> str:
    """Return SQuAD's official normalisation of an answer: lower case, punctuation and the articles
    a / an / the removed, white space folded."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def exact_match(prediction: str, golds: list[str]) -> float:
    """Return 1 when the normalised prediction equals a normalised gold answer (SQuAD's EM)."""
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: list[str]) -> float:
    """Return the best token F1 of the prediction against the gold answers (SQuAD's F1)."""
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        expected = normalize_answer(gold).split()
        common = sum(min(predicted.count(w), expected.count(w)) for w in set(predicted))
        if not predicted or not expected or not common:
            continue
        precision, recall = common / len(predicted), common / len(expected)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best
