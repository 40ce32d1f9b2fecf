"""Follow-up questions resolved against the earlier turns of a conversation."""

from __future__ import annotations

from qa.chat import answer_conversation, resolve_turn, substitute_referents
from qa.models import Answer, Citation

TROOPS = "macron-troops-remark-irks-us"


def cited(article_id: str, paragraph: int, quote: str) -> Answer:
    citation = Citation(marker=1, article_id=article_id, title="t", paragraph=paragraph, text=quote, quote=quote)
    return Answer(answer=f"{quote} [1]", answerable=True, citations=[citation], query="earlier question")


def test_standalone_question_after_history_is_answered_on_its_own_words() -> None:
    turn = resolve_turn("Which German minister responded to Macron's call?", [("q", cited(TROOPS, 6, "x"))])

    assert (turn.query, turn.steer.prefer, turn.steer.avoid) == ("", {}, {})


def test_what_next_prefers_the_following_paragraphs_and_avoids_repeating() -> None:
    earlier = cited(TROOPS, 6, "Matthew Miller responded.")

    turn = resolve_turn("What did he say next?", [("Who responded?", earlier)])

    assert turn.steer.prefer == {f"{TROOPS}:7": 0.6, f"{TROOPS}:8": 0.3}
    assert turn.steer.avoid == {"Matthew Miller responded.": 1.0}
    assert turn.steer.needs_link is True
    assert "he" in turn.steer.referents
    assert turn.query.startswith("What did he say next? ")


def test_elliptical_question_borrows_the_earlier_question_and_paragraph() -> None:
    turn = resolve_turn("On what date?", [("In what setting did Macron speak?", cited(TROOPS, 16, "x"))])

    assert turn.scoring_query == "On what date? earlier question"
    assert turn.steer.prefer == {f"{TROOPS}:16": 0.5}
    assert (turn.steer.avoid, turn.steer.needs_link) == ({}, False)


def test_what_did_he_say_next_cites_the_next_paragraph(ingested) -> None:
    answer = answer_conversation("What did he say next?",
                                 ["Who is the State Department spokesman who responded to Bloomberg's report?"],
                                 pipeline=ingested.pipeline)

    assert (answer.citations[0].article_id, answer.citations[0].paragraph) == (TROOPS, 7)
    assert answer.query != "What did he say next?"


def test_on_what_date_is_answered_from_the_sentence_of_the_earlier_answer(ingested) -> None:
    answer = answer_conversation(
        "On what date?",
        ["In what setting did Macron express the support for Ukraine that left- and right-wing French parties criticized?"],
        pipeline=ingested.pipeline)

    assert answer.answerable is True
    assert "March 14" in answer.citations[0].quote


def test_follow_up_about_words_the_corpus_never_gives_is_refused(ingested) -> None:
    answer = answer_conversation(
        "What did he say?", ["Which German minister responded to Macron's call for allies to do more for Ukraine?"],
        pipeline=ingested.pipeline)

    assert answer.answerable is False


def test_that_country_means_the_place_of_the_earlier_answer_but_the_state_department_stays() -> None:
    earlier = cited(TROOPS, 9, "Leaders gathered in Paris.")
    earlier.entities = [("Paris", "GPE", "")]

    asked, _ = substitute_referents("What did that country pledge?", [("Where did they meet?", earlier)])
    kept, named = substitute_referents("Who is the State Department spokesman?", [("Where did they meet?", earlier)])

    assert asked == "What did Paris pledge?"
    assert (kept, named) == ("Who is the State Department spokesman?", [])
