"""The extractive answerer on the seed corpus: answer typing, the answering sentence, refusals."""

from __future__ import annotations

import pytest

from qa.answer import answer_question
from qa.annotate import annotate_paragraphs
from qa.extractive import REFUSAL
from qa.question import read_question
from qa.structure import type_match

TROOPS = "macron-troops-remark-irks-us"
ANGRY = "us-angry-with-macron"


@pytest.mark.parametrize(("question", "labels"), [
    ("When did European leaders meet in Paris?", {"DATE", "TIME"}),
    ("On what date?", {"DATE"}),
    ("What did Miller say when asked to react?", set()),  # only the leading question word counts
    ("How many leaders attended?", {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    ("Who criticized the idea?", {"PERSON", "ORG", "NORP"}),
    ("What is the name of the official?", {"PERSON"}),
    ("Which Slovak leader claimed it?", {"PERSON"}),
    ("Which news organization reported it?", {"ORG"}),
    ("Which countries did Scholz name?", {"GPE"}),
    ("Where?", {"GPE", "LOC", "FAC"}),
    ("Why did Scholz refuse?", set()),
    ("What did Macron urge allies to do?", set()),
])
def test_answer_labels_follow_the_question_word_and_the_noun_it_qualifies(language, question: str,
                                                                         labels: set[str]) -> None:
    assert read_question(language.parse(question)).labels == labels


def notes_of(language, text: str):
    """Return the notes of a one-sentence paragraph."""
    return annotate_paragraphs([language.parse(text)])[0][0]


def test_who_question_needs_a_name_the_question_does_not_already_hold(language) -> None:
    question = read_question(language.parse("Who told Bloomberg that Macron might trigger a clash with Moscow?"))
    unnamed = "A senior US official told Bloomberg that Macron might trigger a clash with Moscow."
    named = "German Chancellor Olaf Scholz publicly criticized the idea."

    assert type_match(question, notes_of(language, unnamed), unnamed) == 0.0
    assert type_match(question, notes_of(language, named), named) == 1.0


def test_may_as_a_verb_is_not_a_date(language) -> None:
    question = read_question(language.parse("When?"))
    verb, date = "The move may not have been smart.", "On March 4, Macron spoke."

    assert type_match(question, notes_of(language, verb), verb) == 0.0
    assert type_match(question, notes_of(language, date), date) == 1.0


@pytest.mark.parametrize(("question", "address", "needle"), [
    ("Who is the State Department spokesman who responded to Bloomberg's report?", (TROOPS, 6), "Matthew Miller"),
    ("How many European leaders met in Paris on February 26?", (TROOPS, 9), "approximately 20"),
    ("When did Estonia's prime minister say Western leaders should keep the troop option open?", (TROOPS, 12),
     "February 29"),
    ("Why has Scholz refused to send long-range missiles to Ukraine?", (ANGRY, 6), "not ready to send its personnel"),
])
def test_answer_quotes_the_sentence_that_holds_the_answer(ingested, question, address, needle) -> None:
    answer = answer_question(question, pipeline=ingested.pipeline)

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
    answer = answer_question(question, pipeline=ingested.pipeline)

    assert (answer.answerable, answer.answer, answer.citations) == (False, REFUSAL, [])
