"""Unit tests of citation parsing and lexical support checks."""

from __future__ import annotations

from qa.citations import SUPPORT_THRESHOLD, best_quote, parse_markers, support_score

PASSAGE = (
    "President Emmanuel Macron addressed parliament in Versailles on Monday. "
    "He announced a pension reform that raises the retirement age to 64. "
    "The unions did not support the plan."
)


def test_markers_are_split_per_sentence_and_removed_from_the_text() -> None:
    parsed = parse_markers("Macron spoke in Versailles [1][3]. The unions objected [2].")

    assert parsed == [("Macron spoke in Versailles.", [1, 3]), ("The unions objected.", [2])]


def test_comma_separated_markers_are_read_as_several_markers() -> None:
    assert parse_markers("Macron spoke [1, 2].") == [("Macron spoke.", [1, 2])]
    assert parse_markers("Macron spoke [3,1;2].") == [("Macron spoke.", [3, 1, 2])]


def test_marker_after_the_full_stop_belongs_to_the_sentence_before_it() -> None:
    parsed = parse_markers("Macron spoke. [1] The unions said no. [2] Talks resume in 2024.")

    assert parsed == [
        ("Macron spoke.", [1]),
        ("The unions said no.", [2]),
        ("Talks resume in 2024.", []),
    ]


def test_marker_inside_a_sentence_leaves_clean_spacing() -> None:
    assert parse_markers("Macron [1], the president, spoke [2] today.") == [
        ("Macron, the president, spoke today.", [1, 2])
    ]


def test_repeated_marker_in_a_sentence_is_listed_once() -> None:
    assert parse_markers("Macron spoke [1] twice [1].") == [("Macron spoke twice.", [1])]


def test_brackets_without_numbers_are_not_markers() -> None:
    assert parse_markers("The law [sic] passed [1].") == [("The law [sic] passed.", [1])]


def test_empty_reply_has_no_sentences() -> None:
    assert parse_markers("") == []
    assert parse_markers("   ") == []


def test_claim_restating_the_passage_is_fully_supported() -> None:
    claim = "Macron announced a pension reform that raises the retirement age to 64."

    assert support_score(claim, PASSAGE) == 1.0


def test_paraphrase_sharing_most_terms_is_supported() -> None:
    claim = "Macron unveiled a pension overhaul lifting the retirement age to 64."

    assert SUPPORT_THRESHOLD <= support_score(claim, PASSAGE) < 1.0


def test_claim_about_something_else_is_not_supported() -> None:
    claim = "Germany's chancellor visited Beijing to discuss trade."

    assert support_score(claim, PASSAGE) == 0.0


def test_number_missing_from_the_passage_lowers_support_below_threshold() -> None:
    right = "The reform raises the retirement age to 64."
    wrong = "The reform raises the retirement age to 67."

    assert support_score(right, PASSAGE) == 1.0
    assert support_score(wrong, PASSAGE) < SUPPORT_THRESHOLD


def test_numbers_match_across_thousands_separators() -> None:
    passage = "Police counted 12,500 protesters in Paris."

    assert support_score("Police counted 12500 protesters in Paris.", passage) == 1.0


def test_negated_claim_against_affirmative_passage_is_not_supported() -> None:
    claim = "Macron did not announce a pension reform."

    assert support_score(claim, PASSAGE) < SUPPORT_THRESHOLD


def test_affirmative_claim_against_negated_passage_is_not_supported() -> None:
    claim = "The unions supported the plan."

    assert support_score(claim, PASSAGE) < SUPPORT_THRESHOLD


def test_negated_claim_matching_negated_passage_is_supported() -> None:
    assert support_score("The unions didn't support the plan.", PASSAGE) == 1.0


def test_claim_without_content_terms_has_no_support() -> None:
    assert support_score("Yes.", PASSAGE) == 0.0


def test_best_quote_is_the_sentence_that_supports_the_claim() -> None:
    start, end = best_quote("The retirement age rises to 64.", PASSAGE)

    assert PASSAGE[start:end] == "He announced a pension reform that raises the retirement age to 64."


def test_best_quote_respects_negation() -> None:
    start, end = best_quote("The unions did not back the plan.", PASSAGE)

    assert PASSAGE[start:end] == "The unions did not support the plan."


def test_best_quote_of_an_unrelated_claim_is_the_first_sentence() -> None:
    start, end = best_quote("Germany won the cup.", PASSAGE)

    assert (start, end) == (0, PASSAGE.index(" He announced"))


def test_irregular_contractions_count_as_negation_without_leaving_stray_terms() -> None:
    assert support_score("The unions can't support the plan.", PASSAGE) == 1.0
    assert support_score("The unions won't support the plan.", PASSAGE) == 1.0


def test_negation_in_another_clause_of_the_passage_does_not_count_against_the_claim() -> None:
    passage = "Matthew Miller responded to the report and said he \"doesn't have any reaction.\""

    assert support_score("Matthew Miller responded to the report.", passage) >= SUPPORT_THRESHOLD
    assert support_score("Matthew Miller said he has a reaction.", passage) < SUPPORT_THRESHOLD
