"""The extractive answerer on the seed corpus: answer typing, the answering sentence, refusals."""

from __future__ import annotations

import pytest

from qa.answer import answer_question
from qa.extractive import REFUSAL, answer_type, type_match

TROOPS = "macron-troops-remark-irks-us"
ANGRY = "us-angry-with-macron"


@pytest.mark.parametrize(("question", "kind"), [
    ("When did European leaders meet in Paris?", "when"),
    ("On what date?", "when"),
    ("What did Miller say when asked to react?", "other"),  # only the leading question word counts
    ("How many leaders attended?", "number"),
    ("Who criticized the idea?", "who"),
    ("What is the name of the official?", "who"),
    ("Where?", "where"),
    ("Why did Scholz refuse?", "why"),
    ("What did Macron urge allies to do?", "other"),
])
def test_answer_type_follows_the_leading_question_word(question: str, kind: str) -> None:
    assert answer_type(question) == kind


def test_who_question_needs_a_name_the_question_does_not_already_hold() -> None:
    question = "Who told Bloomberg that Macron might trigger a clash with Moscow?"

    assert type_match("who", "A senior US official told Bloomberg that Macron might trigger a clash with Moscow.",
                      question) == 0.0
    assert type_match("who", "German Chancellor Olaf Scholz publicly criticized the idea.", question) == 1.0
    assert type_match("who", "Bloomberg cites its own sources.", "Who reported it?") == 1.0


def test_may_as_a_verb_is_not_a_date() -> None:
    assert type_match("when", "The move may not have been smart.", "When?") == 0.0
    assert type_match("when", "On March 4, Macron spoke.", "When?") == 1.0


@pytest.mark.parametrize(("question", "address", "needle"), [
    ("Who is the State Department spokesman who responded to Bloomberg's report?", (TROOPS, 6), "Matthew Miller"),
    ("How many European leaders met in Paris on February 26?", (TROOPS, 9), "approximately 20"),
    ("When did Estonia's prime minister say Western leaders should keep the troop option open?", (TROOPS, 12),
     "February 29"),
    ("Why has Scholz refused to send long-range missiles to Ukraine?", (ANGRY, 6), "not ready to send its personnel"),
])
def test_answer_quotes_the_sentence_that_holds_the_answer(ingested, question, address, needle) -> None:
    answer = answer_question(question, retriever=ingested.retriever, answerer=ingested.answerer)

    assert answer.answerable is True
    first = answer.citations[0]
    assert (first.article_id, first.paragraph) == address
    assert needle in first.quote
    assert first.quote == first.text[first.start:first.end]
    assert answer.answer.startswith(first.quote.rstrip(".")) and "[1]" in answer.answer


@pytest.mark.parametrize("question", [
    "Which team won the 2024 Super Bowl?",
    "On what date did Joe Biden publicly rule out sending U.S. troops to Ukraine?",
    "How many long-range missiles has the UK supplied to Ukraine?",
])
def test_question_the_corpus_does_not_answer_is_refused_without_citations(ingested, question) -> None:
    answer = answer_question(question, retriever=ingested.retriever, answerer=ingested.answerer)

    assert (answer.answerable, answer.answer, answer.citations) == (False, REFUSAL, [])
