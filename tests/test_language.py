"""The language layer with the real spaCy pipeline: names and titles, statements and speakers,
pronouns and role nouns resolved across paragraphs, leaning sentences, question frames, word lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.annotate import annotate_paragraphs
from qa.corpus import load_corpus
from qa.lexicon import answer_kinds, places_named, roles, speech_nouns, speech_verbs
from qa.models import SentenceNotes
from qa.question import read_question

TROOPS = "macron-troops-remark-irks-us"
ANGRY = "us-angry-with-macron"


@pytest.fixture(scope="module")
def seed_notes(language, seed_corpus: Path) -> dict[str, list[list[SentenceNotes]]]:
    """Return the notes of every sentence of both seed articles, by article id."""
    articles, _ = load_corpus(seed_corpus)
    return {a.id: annotate_paragraphs(language.parse_many(list(a.paragraphs))) for a in articles}


@pytest.fixture(scope="module")
def seed_text(seed_corpus: Path) -> dict[str, tuple[str, ...]]:
    articles, _ = load_corpus(seed_corpus)
    return {a.id: a.paragraphs for a in articles}


def sentence(notes: dict, text: dict, article: str, paragraph: int, starting: str) -> SentenceNotes:
    """Return the notes of the sentence of a paragraph that starts with `starting`."""
    return next(n for n in notes[article][paragraph - 1] if text[article][paragraph - 1][n.start:].startswith(starting))


def test_a_quote_whose_speaker_is_named_a_paragraph_earlier_is_his(seed_notes, seed_text) -> None:
    quote = sentence(seed_notes, seed_text, TROOPS, 7, '"But of course')

    [statement] = quote.statements
    assert (statement.verb, statement.speaker, statement.name, statement.label) == ("say", "he", "Matthew Miller", "PERSON")
    [referent] = quote.referents
    assert (referent.name, referent.title, referent.paragraph) == ("Matthew Miller", "State Department spokesman", 6)
    naming = seed_text[TROOPS][5][referent.sentence_start:referent.sentence_end]
    assert naming.startswith("State Department spokesman Matthew Miller responded")
    assert seed_text[TROOPS][5][referent.name_start:referent.name_end] == "Matthew Miller"


def test_a_role_noun_with_a_demonym_means_the_person_whose_title_fits_both(seed_notes, seed_text) -> None:
    notes = sentence(seed_notes, seed_text, ANGRY, 3, "The French leader’s justification")

    assert [(r.name, r.title) for r in notes.referents][:1] == [("Emmanuel Macron", "French President")]


def test_a_person_named_by_surname_only_takes_the_full_name_and_title_used_before(seed_notes, seed_text) -> None:
    notes = sentence(seed_notes, seed_text, TROOPS, 13, "On March 5, he urged")

    assert [(s.verb, s.name) for s in notes.statements] == [("urge", "Emmanuel Macron")]
    assert notes.referents[0].title == "French President"


def test_a_sentence_that_leans_on_the_one_before_says_why(seed_notes, seed_text) -> None:
    do_so = sentence(seed_notes, seed_text, ANGRY, 5, "US President Joe Biden was among those to do so")
    pronoun = sentence(seed_notes, seed_text, TROOPS, 8, "He added")
    plain = sentence(seed_notes, seed_text, TROOPS, 10, "Slovak Prime Minister Robert Fico")

    assert (do_so.leans, pronoun.leans, plain.leans) == ("do so", "pronoun", "")


def test_titles_before_a_name_are_kept_with_it(seed_notes, seed_text) -> None:
    fico = sentence(seed_notes, seed_text, TROOPS, 10, "Slovak Prime Minister Robert Fico")

    assert [(m.text, m.title) for m in fico.mentions if m.label == "PERSON"] == [("Robert Fico", "Slovak Prime Minister")]


def test_a_stance_verb_with_its_particle_and_a_statement_noun_are_statements(seed_notes, seed_text) -> None:
    ruled = sentence(seed_notes, seed_text, ANGRY, 5, "Numerous Western leaders publicly ruled out")
    suggestion = sentence(seed_notes, seed_text, ANGRY, 2, "Sources in the US government")

    assert [(s.verb, s.speaker) for s in ruled.statements] == [("rule out", "Numerous Western leaders"),
                                                            ("comment", "Macron")]  # "Macron’s comments"
    assert ("suggestion", "Emmanuel Macron") in {(s.verb, s.name) for s in suggestion.statements}


def test_notes_survive_the_store_as_json(seed_notes) -> None:
    for paragraph in seed_notes[TROOPS]:
        for notes in paragraph:
            assert SentenceNotes.from_json(notes.to_json()) == notes


@pytest.mark.parametrize(("question", "fields"), [
    ("Who said the United States is not going to send any troops to Ukraine?",
     {"asks_speaker": True, "verb": "say", "content": "the United States is not going to send any troops to Ukraine"}),
    ("According to whom is the Ukraine conflict part of a proxy war?", {"asks_speaker": True, "verb": "according to"}),
    ("What did Macron say about French troops?", {"speaker": "Macron", "content": "about French troops"}),
    ("How did Matthew Miller describe Macron?", {"speaker": "Matthew Miller", "verb": "describe", "content": "Macron"}),
    ("Which Slovak leader claimed some countries were weighing deployments?",
     {"focus": "leader", "labels": frozenset({"PERSON"}), "places": (frozenset({"slovakia"}),)}),
    ("Which politician from the Baltics backed it?",
     {"places": (frozenset({"estonia", "latvia", "lithuania"}),)}),
    ("Who won the 2019 final?", {"years": ("2019",)}),
    ("Which two crises do allies doubt he can handle?", {"shape": 2, "pronouns": ("he",)}),
])
def test_a_question_is_read_into_what_it_asks_and_what_its_answer_must_match(language, question: str,
                                                                            fields: dict) -> None:
    frame = read_question(language.parse(question))

    assert {key: getattr(frame, key) for key in fields} == fields


def test_speech_verbs_are_verbs_of_saying_and_stance_the_parser_finds(language) -> None:
    verbs = speech_verbs()
    # each kind the list covers: saying, its particle form, stance, and report verbs a subject can carry
    assert {"say", "tell", "add", "rule out", "deny", "support", "oppose", "believe", "report", "highlight"} <= verbs
    parse = language.parse("The minister ruled out new taxes.")
    assert " ".join(t.lemma for t in parse.tokens if t.dep in ("ROOT", "prt")) in verbs


def test_speech_nouns_are_statements_when_someone_owns_them() -> None:
    # "Macron's remark", "his suggestion that ...", "her call for ...": each a statement by its owner
    assert {"remark", "suggestion", "call", "statement", "claim", "refusal"} <= speech_nouns()


def test_role_nouns_stand_for_the_titles_a_person_of_that_role_carries() -> None:
    # "the spokesman" -> "State Department spokesman"; "the leader" -> a president or a prime minister
    assert "spokesman" in roles()["spokesman"]
    assert {"president", "prime", "chancellor"} <= roles()["leader"]
    assert "minister" in roles()["politician"]


def test_answer_kinds_map_the_noun_a_question_asks_about_to_entity_labels() -> None:
    kinds = answer_kinds()
    assert (kinds["leader"], kinds["organization"], kinds["country"], kinds["date"]) == (
        frozenset({"PERSON"}), frozenset({"ORG"}), frozenset({"GPE"}), frozenset({"DATE"}))
    assert kinds["place"] == frozenset({"GPE", "LOC"})


@pytest.mark.parametrize(("name", "places"), [
    ("Slovak", {"slovakia"}), ("Estonians", {"estonia"}), ("the U.S.", {"united states"}), ("Kiev", {"ukraine"}),
    ("Kyiv", {"ukraine"}), ("Moscow", {"russia"}), ("Baltic", {"estonia", "latvia", "lithuania"}),
    ("Macron", set()),
])
def test_the_gazetteer_names_places_by_name_demonym_capital_and_region(name: str, places: set[str]) -> None:
    assert places_named(name) == places
