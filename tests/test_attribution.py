"""Who said what, answers that stand on their own, short answers and the question's constraints,
through the whole pipeline over real stores with the real models."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_language

from qa.answer import answer_question, build_pipeline
from qa.chat import answer_conversation
from qa.ingest import ingest_corpus
from qa.question import read_question
from qa.retrieve import build_retriever
from qa.store import open_store

TROOPS = "macron-troops-remark-irks-us"
ANGRY = "us-angry-with-macron"


def cited(answer) -> list[tuple[str, int]]:
    return [(c.article_id, c.paragraph) for c in answer.citations]


def test_who_said_a_quote_leads_with_the_speaker_named_in_the_sentence_before(ingested) -> None:
    answer = answer_question("Who said the United States is not going to send any troops to Ukraine?",
                             pipeline=ingested.pipeline)

    assert answer.answer == ('Matthew Miller, State Department spokesman [1]: "But of course we have made clear that '
                             'the United States is not going to send any troops to Ukraine," he [Matthew Miller] said [2].')
    assert cited(answer) == [(TROOPS, 6), (TROOPS, 7)]
    short = answer.short_answer
    assert (short.text, short.article_id, short.paragraph, short.label) == ("Matthew Miller", TROOPS, 6, "PERSON")
    assert answer.citations[0].text[short.start:short.end] == "Matthew Miller"


@pytest.mark.parametrize(("question", "role"), [
    ("Who is Matthew Miller?", "State Department spokesman"),
    ("Who was Robert Fico?", "Slovak Prime Minister"),
    ("who's kaja kallas", "Estonian Prime Minister"),
    ("Who is Olaf Scholz?", "German Chancellor"),
])
def test_who_a_named_person_is_is_answered_with_the_office_the_source_gives_them(ingested, question, role) -> None:
    answer = answer_question(question, pipeline=ingested.pipeline)

    short = answer.short_answer
    assert (short.text, short.label) == (role, "ROLE")
    cited_text = next(c.text for c in answer.citations if (c.article_id, c.paragraph) == (short.article_id, short.paragraph))
    assert cited_text[short.start:short.end] == role


@pytest.mark.parametrize(("question", "identity"), [
    ("Who is Matthew Miller?", True),
    ("Who was Emmanuel Macron?", True),
    ("Who is the State Department spokesman?", False),  # asks for the name: "Matthew Miller"
    ("Who is Macron meeting in Paris?", False),
    ("Who said the United States would not send troops?", False),
])
def test_a_who_is_question_about_a_name_asks_who_they_are(question, identity) -> None:
    assert read_question(shared_language().parse(question)).asks_identity is identity


def test_who_is_followed_by_a_role_asks_for_the_name(ingested) -> None:
    answer = answer_question("Who is the State Department spokesman?", pipeline=ingested.pipeline)

    assert (answer.short_answer.text, answer.short_answer.label) == ("Matthew Miller", "PERSON")


def test_which_leader_of_a_nationality_is_found_through_title_and_demonym(ingested) -> None:
    slovak = answer_question("Which Slovak leader claimed some countries were weighing deployments?",
                             pipeline=ingested.pipeline)
    baltic = answer_question("Which politician from the Baltics backed keeping the ground-force option on the table?",
                             pipeline=ingested.pipeline)

    assert (slovak.short_answer.text, cited(slovak)[:1]) == ("Robert Fico", [(TROOPS, 10)])
    assert (baltic.short_answer.text, cited(baltic)[:1]) == ("Kaja Kallas", [(TROOPS, 12)])


def test_a_sentence_that_does_so_brings_the_sentence_saying_what_was_done(ingested) -> None:
    answer = answer_question("Which US president was among the leaders who ruled out sending troops?",
                             pipeline=ingested.pipeline)

    assert answer.answer.startswith("Numerous Western leaders publicly ruled out sending troops after Macron’s comments")
    assert "US President Joe Biden was among those to do so" in answer.answer
    assert cited(answer) == [(ANGRY, 5)]
    assert answer.citations[0].quote.startswith("Numerous Western leaders")
    assert answer.short_answer.text == "Joe Biden"


def test_what_someone_did_is_answered_with_the_sentence_and_no_phrase_picked_out_as_the_answer(ingested) -> None:
    answer = answer_question("What did Olaf Scholz do after Macron's remark?", pipeline=ingested.pipeline)

    assert answer.answer == ("In response to Macron's announcement, German Chancellor Olaf Scholz publicly criticized "
                             "the idea of sending troops [1].")
    assert cited(answer) == [(TROOPS, 4)] and answer.short_answer is None


def test_when_a_named_person_spoke_is_answered_from_their_statement_in_other_words(ingested) -> None:
    answer = answer_question("When did Kallas make her remarks?", pipeline=ingested.pipeline)

    assert (answer.answerable, answer.short_answer.text, cited(answer)) == (True, "February 29", [(TROOPS, 12)])


def test_a_country_named_by_its_abbreviation_retrieves_the_paragraph_that_writes_its_name(ingested) -> None:
    answer = answer_question("Did the US plan to send troops to Ukraine?", pipeline=ingested.pipeline)

    assert answer.retrieved[0] == f"{TROOPS}:7"  # "the United States is not going to send any troops"
    assert cited(answer)[:1] == [(TROOPS, 7)] and "the United States is not going to send" in answer.answer


def test_a_sentence_whose_subject_is_a_pronoun_marks_whom_it_means_and_cites_where_he_is_named(ingested) -> None:
    answer = answer_question("How did Matthew Miller describe Macron?", pipeline=ingested.pipeline)

    assert answer.answer.startswith("He [Matthew Miller] added that Macron is “the head of a longtime ally")
    assert answer.answer.endswith("[1][2]")
    assert cited(answer) == [(TROOPS, 8), (TROOPS, 6)]


def test_a_follow_up_pronoun_is_asked_about_the_person_of_the_earlier_answer(ingested) -> None:
    answer = answer_conversation("How did he describe Macron?",
                                 ["Who is the State Department spokesman who responded to Bloomberg's report?"],
                                 pipeline=ingested.pipeline)

    assert answer.query.startswith("How did Matthew Miller describe Macron?")
    assert cited(answer)[:1] == [(TROOPS, 8)]


def test_on_what_date_after_a_quote_gives_the_date_of_that_quote(ingested) -> None:
    answer = answer_conversation("On what date?", ["What did Macron say about French troops?"],
                                 pipeline=ingested.pipeline)

    assert (answer.short_answer.text, cited(answer)) == ("March 4", [(TROOPS, 13)])


def test_who_said_the_opposite_of_what_a_source_says_is_refused(ingested) -> None:
    answer = answer_question("Who said Germany would send long-range missiles to Ukraine?", pipeline=ingested.pipeline)

    assert answer.answerable is False


def test_what_a_named_person_said_is_refused_when_the_archive_quotes_them_saying_nothing(ingested) -> None:
    answer = answer_question("What did Joe Biden say about Macron?", pipeline=ingested.pipeline)

    assert answer.answerable is False
    assert (ANGRY, 5) in [(p.article_id, p.paragraph) for p in answer.nearest]


@pytest.fixture(params=["embedded", "server"])
def finals(request, settings_factory, tmp_path: Path, embedder, memo_embedder):
    """Return a pipeline over a small archive of cup finals, on each kind of store."""
    corpus = tmp_path / "finals"
    corpus.mkdir()
    (corpus / "final-2018.txt").write_text(
        "Cup final report\n\nThe 2018 final was won by Riverside, who beat Hillcrest 2-1 in Lisbon.\n\n"
        "Who will win next year? Nobody knows.\n", encoding="utf-8")
    (corpus / "league.txt").write_text(
        "League table\n\nRiverside, Hillcrest, Oakmont, Westbrook\n\n"
        "Oakmont finished the league season in third place.\n", encoding="utf-8")
    settings = settings_factory(request.param)
    store = open_store(settings)
    ingest_corpus(corpus, store=store, embedder=memo_embedder, language=shared_language())
    return build_pipeline(settings, retriever=build_retriever(settings, store=store, embedder=embedder),
                          language=shared_language())


def test_a_question_about_another_year_is_refused_with_the_near_miss_shown(finals) -> None:
    asked_2018 = answer_question("Who won the 2018 final?", pipeline=finals)
    asked_2019 = answer_question("Who won the 2019 final?", pipeline=finals)

    assert asked_2018.answerable is True and asked_2018.short_answer.text == "Riverside"
    assert asked_2019.answerable is False
    assert asked_2019.nearest[0].quote.startswith("The 2018 final was won by Riverside")


def test_a_question_in_a_document_and_a_list_of_names_are_never_quoted_as_answers(finals) -> None:
    answer = answer_question("Who will win the final next year?", pipeline=finals)
    listed = answer_question("Which teams are in the league table?", pipeline=finals)

    assert "Who will win next year?" not in answer.answer
    assert "Riverside, Hillcrest, Oakmont, Westbrook" not in listed.answer
