"""Runs a question set through a system and scores the answers into a report dict.

`run_questions` asks each question (in-process or over HTTP, through an `Asker`), `score_supplied`
takes answers any system produced; both return per-question items that `build_report` turns into
the report written by qa.evaluation.report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from qa.errors import QAError
from qa.evaluation.dataset import Question, SuppliedAnswer
from qa.evaluation.metrics import answer_correct, refusal_correct, summarize
from qa.evaluation.scoring import Judge, is_refusal, score_answer

Asker = Callable[[str, list[str]], dict]  # (question, earlier user questions) -> the `qa ask --json` object
ParagraphText = Callable[[str], "str | None"]  # "article_id:n" -> the paragraph's text, None when unknown


@dataclass
class Gold:
    """What a correct citation or retrieved paragraph looks like for one question."""

    paragraphs: frozenset[str]
    quotes: tuple[str, ...]

    @classmethod
    def of(cls, question: Question) -> Gold:
        """Return the question's gold addresses and quotes."""
        return cls(frozenset(question.expected_paragraphs), tuple(q for q in question.expected_quotes if q.strip()))

    def known(self) -> bool:
        """Return True when there is a gold paragraph or quote to check against."""
        return bool(self.paragraphs or self.quotes)

    def holds(self, key: str, text: str | None) -> bool:
        """Return True when the paragraph at `key` with `text` is a gold one."""
        if key in self.paragraphs:
            return True
        folded = " ".join((text or "").split())
        return any(" ".join(q.split()) in folded for q in self.quotes)


def run_questions(questions: Iterable[Question], *, ask: Asker, judge: Judge, k: int,
                  paragraph_text: ParagraphText, progress: Callable[[int], object] = lambda n: None) -> list[dict]:
    """Return the scored item of each question as answered by `ask`."""
    items = []
    for question in questions:
        try:
            answer = ask(question.question, list(question.history))
        except QAError as exc:
            items.append(_error_item(question, str(exc)))
        else:
            items.append(_run_item(question, answer, judge=judge, k=k, paragraph_text=paragraph_text))
        progress(1)
    return items


def score_supplied(answers: Iterable[SuppliedAnswer], *, judge: Judge, k: int,
                   progress: Callable[[int], object] = lambda n: None) -> list[dict]:
    """Return the scored item of each answer produced by any system."""
    items = []
    for supplied in answers:
        expected = supplied.expected
        answered = supplied.answerable if supplied.answerable is not None else not is_refusal(supplied.answer)
        passages = dict(enumerate(supplied.contexts, start=1))
        score = score_answer(supplied.answer, passages, judge=judge) if answered else None
        gold = Gold.of(expected)
        retrieval = (any(gold.holds("", text) for text in supplied.contexts[:k])
                     if gold.quotes and supplied.contexts else None)
        citations = [{"marker": n, "article_id": "", "paragraph": n, "title": f"context {n}", "quote": "",
                      "text": text} for n, text in passages.items()]
        items.append(_item(expected, answer=supplied.answer, answered=answered, citations=citations,
                           score=score, retrieval_hit=retrieval, first_citation=None))
        progress(1)
    return items


def build_report(kind: str, items: list[dict], *, dataset: str, system: dict, judge: Judge, k: int) -> dict:
    """Return the report: what ran, the metrics with intervals, and every item."""
    return {
        "kind": kind,
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dataset": dataset,
        "system": system,
        "verifier": {"name": judge.name, "threshold": judge.threshold},
        "metrics": summarize(items, k=k),
        "items": items,
    }


def _run_item(question: Question, answer: dict, *, judge: Judge, k: int, paragraph_text: ParagraphText) -> dict:
    answered = bool(answer.get("answerable"))
    citations = answer.get("citations") or []
    passages = {c["marker"]: c.get("text", "") for c in citations}
    score = score_answer(answer.get("answer", ""), passages, judge=judge) if answered else None
    gold = Gold.of(question)
    retrieval = first = None
    if gold.known() and question.answerable is not False:
        retrieval = any(gold.holds(key, None if gold.paragraphs else paragraph_text(key))
                        for key in (answer.get("retrieved") or [])[:k])
        head = citations[0] if citations and answered else None
        first = bool(head) and gold.holds(f"{head['article_id']}:{head['paragraph']}", head.get("text"))
    nearest = [] if answered else [_nearest(p, gold) for p in answer.get("nearest") or []]
    return _item(question, answer=answer.get("answer", ""), answered=answered, citations=citations,
                 score=score, retrieval_hit=retrieval, first_citation=first, nearest=nearest)


def _nearest(passage: dict, gold: Gold) -> dict:
    """Return a refusal's closest passage, and whether it holds the answer (None when unknown)."""
    kept = {key: passage.get(key) for key in ("article_id", "paragraph", "title", "quote", "text")}
    address = f"{kept['article_id']}:{kept['paragraph']}"
    return {**kept, "holds_answer": gold.holds(address, kept["text"]) if gold.known() else None}


def _item(question: Question, *, answer: str, answered: bool, citations: list[dict], score,
          retrieval_hit: bool | None, first_citation: bool | None, nearest: list[dict] | None = None) -> dict:
    keep = ("marker", "article_id", "paragraph", "title", "quote", "text")
    return {
        "id": question.id, "question": question.question, "history": list(question.history),
        "answer": answer, "answerable": answered, "expected_answerable": question.answerable,
        "citations": [{key: c.get(key) for key in keep} for c in citations],
        "claims": score.to_dict()["claims"] if score else [],
        "faithfulness": score.faithfulness if score else None,
        "citation_recall": score.citation_recall if score else None,
        "citation_precision": score.citation_precision if score else None,
        "retrieval_hit": retrieval_hit,
        "answer_correct": answer_correct(answer=answer, answered=answered, expected_answer=question.expected_answer,
                                         expected_answerable=question.answerable),
        "refusal_correct": refusal_correct(answered=answered, expected_answerable=question.answerable),
        "first_citation_correct": first_citation,
        "nearest": nearest or [],  # a refusal's closest passages
        "error": None,
    }


def _error_item(question: Question, reason: str) -> dict:
    item = _item(question, answer="", answered=False, citations=[], score=None, retrieval_hit=None,
                 first_citation=None)
    item.update(refusal_correct=None, answer_correct=None, error=reason)
    return item
