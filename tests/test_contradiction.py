"""Structural verdicts with the real spaCy pipeline: each kind of contradiction is caught with its
reason, each kind of rephrasing is entailed, and the word lists hold what the verdicts need."""

from __future__ import annotations

import pytest

from qa.contradiction import CONTRADICTED, ENTAILED, UNDECIDED, ClaimChecker, fold, truecase
from qa.lexicon import approximations, opposites, qualifiers

SOURCE = [
    "In response to Macron's announcement, German Chancellor Olaf Scholz publicly criticized the idea of "
    "sending troops. Privately, U.S. officials have expressed concerns that Macron's move could risk a "
    "confrontation with Moscow.",
    '"But of course we have made clear that the United States is not going to send any troops to Ukraine," '
    "he said.",
    "On February 26, approximately 20 European leaders gathered in Paris to discuss threats from Russian "
    "President Vladimir Putin.",
    "On February 29, Estonian Prime Minister Kaja Kallas emphasized that Western leaders should keep the "
    "option of sending ground troops to Ukraine open.",
    "On March 4, Macron mentioned that he currently has no plans to deploy French troops to Ukraine.",
    "Latvian Prime Minister Evika Siliņa voiced support for Macron's proposal to send NATO troops to Ukraine "
    "for training.",
]

CONTRADICTIONS = [  # (kind, claim, reason)
    ("number", "On February 26, approximately 30 European leaders gathered in Paris.",
     "the cited sentence has approximately 20 where the claim has approximately 30"),
    ("date", "On February 27, approximately 20 European leaders gathered in Paris.",
     "the cited sentence has February 26 where the claim has February 27"),
    ("name", "In response to Macron's announcement, US President Joe Biden publicly criticized the idea of "
             "sending troops.", "the cited sentence names Olaf Scholz where the claim names Joe Biden"),
    ("place", "On February 26, approximately 20 European leaders gathered in Berlin.",
     "the cited sentence has Paris where the claim has Berlin"),
    ("place", "French Chancellor Olaf Scholz publicly criticized the idea of sending troops.",
     "the cited sentence has German where the claim has French"),
    ("polarity", "The United States is going to send troops to Ukraine.",
     "the cited sentence says “is not going” where the claim says “is going”"),
    ("polarity", "On March 4, Macron mentioned that he currently has plans to deploy French troops to Ukraine.",
     "the cited sentence says “has no plans” where the claim says “has”"),
    ("stance", "German Chancellor Olaf Scholz publicly supported the idea of sending troops.",
     "the cited sentence says “criticized” where the claim says “supported”"),
    ("stance", "Kaja Kallas emphasized that Western leaders should rule out the option of sending ground troops.",
     "the cited sentence says “should keep” where the claim says “should rule out”"),
    ("qualifier", "German Chancellor Olaf Scholz only criticized the idea of sending troops.",
     "the claim adds “only”, which the cited sentence does not say"),
    ("qualifier", "Privately, all U.S. officials have expressed concerns that Macron's move could risk a "
                  "confrontation with Moscow.", "the claim adds “all”, which the cited sentence does not say"),
]

REPHRASINGS = {
    "verbatim": "German Chancellor Olaf Scholz publicly criticized the idea of sending troops.",
    "passive": "The idea of sending troops was publicly criticized by German Chancellor Olaf Scholz.",
    "copula": "Olaf Scholz is Germany's chancellor.",
    "apposition": "Olaf Scholz, the German chancellor, publicly criticized the idea of sending troops.",
    "demonym": "Latvia's Prime Minister Evika Siliņa voiced support for Macron's proposal to send NATO troops "
               "to Ukraine for training.",
    "approximation": "On February 26, about 20 European leaders gathered in Paris.",
    "date_format": "On 26 February, approximately 20 European leaders gathered in Paris.",
    "reporting": "Estonian Prime Minister Kaja Kallas stated that Western leaders should keep the option of "
                 "sending ground troops to Ukraine open.",
}


@pytest.fixture(scope="module")
def checker(language) -> ClaimChecker:
    """Return a checker over the real pipeline."""
    return ClaimChecker(language)


@pytest.mark.parametrize(("kind", "claim", "reason"), CONTRADICTIONS, ids=[c[0] for c in CONTRADICTIONS])
def test_a_claim_changing_what_its_cited_sentence_says_is_contradicted_with_its_reason(
        checker: ClaimChecker, kind: str, claim: str, reason: str) -> None:
    verdict = checker.check(claim, SOURCE)
    assert (verdict.verdict, verdict.kind, verdict.reason) == (CONTRADICTED, kind, reason)
    assert verdict.sentence in " ".join(SOURCE)


@pytest.mark.parametrize("kind", list(REPHRASINGS))
def test_a_claim_saying_its_cited_sentence_another_way_is_entailed(checker: ClaimChecker, kind: str) -> None:
    verdict = checker.check(REPHRASINGS[kind], SOURCE)
    assert verdict.verdict == ENTAILED, verdict


def test_a_claim_swapping_who_did_what_to_whom_is_not_entailed(checker: ClaimChecker) -> None:
    assert checker.check("Olaf Scholz criticized Macron.", SOURCE).verdict != ENTAILED


def test_a_fact_no_cited_sentence_mentions_is_left_to_the_learned_verifier(checker: ClaimChecker) -> None:
    verdict = checker.check("Scholz criticized the idea of sending troops in a speech in Hamburg.", SOURCE)
    assert verdict.verdict == UNDECIDED and verdict.reason == ""


def test_a_claim_resting_on_no_cited_sentence_is_undecided(checker: ClaimChecker) -> None:
    assert checker.check("Scientists found a new species of frog in the Amazon.", SOURCE).verdict == UNDECIDED


def test_folding_puts_contradicted_claims_below_the_threshold_and_entailed_ones_above(checker: ClaimChecker) -> None:
    contradicted = checker.check(CONTRADICTIONS[0][1], SOURCE)
    entailed = checker.check(REPHRASINGS["passive"], SOURCE)
    assert fold(0.99, contradicted, threshold=0.5) < 0.5 <= fold(0.01, entailed, threshold=0.5)
    assert fold(0.3, checker.check("Scientists found a frog.", SOURCE), threshold=0.5) == 0.3


def test_a_lower_cased_summary_is_read_with_its_sources_casing() -> None:
    assert truecase("scholz criticized the idea . he spoke .", ["Olaf Scholz spoke. Then Scholz left."]) == (
        "Scholz criticized the idea . He spoke .")
    assert truecase("Already Cased.", ["already cased"]) == "Already Cased."


def test_opposites_hold_the_stance_pairs_both_ways() -> None:
    reverse = opposites()
    for verb, other in [("support", "oppose"), ("confirm", "deny"), ("acknowledge", "deny"), ("accept", "reject"),
                        ("rule out", "keep open"), ("increase", "decrease"), ("win", "lose")]:
        assert other in reverse[verb] and verb in reverse[other]


def test_qualifiers_group_the_words_that_stand_for_each_other() -> None:
    groups = qualifiers()
    assert ("every", "each", "all") in groups and any("only" in g for g in groups)
    assert {"several thousand", "purely"} <= {w for g in groups for w in g}
    assert {"about", "approximately"} <= approximations()


def test_a_claim_using_another_word_of_a_qualifiers_group_is_not_contradicted(checker: ClaimChecker) -> None:
    source = ["Every bunk is equipped with a personal service unit."]
    assert not checker.check("Each bunk is equipped with a personal service unit.", source).contradicted
