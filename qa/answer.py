"""Question -> cited Answer, stage by stage: read the question (qa.question), retrieve paragraphs
(qa.retrieve), score their sentences and re-rank (qa.evidence), compose the answer (qa.extractive, or
qa.generative when an LLM endpoint is configured). Follow-ups are resolved by qa.chat first."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from qa.config import Settings
from qa.errors import BadRequest, LLMError
from qa.evidence import Evidence, EvidenceScorer
from qa.extractive import ExtractiveAnswerer, Steer
from qa.generative import FELL_BACK, LLMAnswerer
from qa.models import Answer, Flag, Hit, Passage
from qa.nlp import Language
from qa.question import Question, read_question
from qa.retrieve import Filters, Retriever
from qa.streaming import Delta, Done, Event, Retrieved, answer_deltas
from qa.terms import terms

MAX_QUESTION_CHARS = 4000

log = logging.getLogger("qa.answer")


@dataclass
class Turn:
    """What a follow-up needs from the conversation so far."""

    query: str = ""  # standalone retrieval query
    asked: str = ""  # the question with its pronouns replaced by whom they mean (default: the question)
    scoring_query: str = ""  # what answer sentences are matched against (default: the asked question)
    steer: Steer = field(default_factory=Steer)  # what the earlier turns point the answerer at
    history: Sequence[tuple[str, str]] = ()  # (question, answer) pairs, for the LLM


@dataclass
class Pipeline:
    """The stages of answering over one store, built once (qa.api.runtime, the CLI) and shared."""

    language: Language
    retriever: Retriever
    evidence: EvidenceScorer
    answerer: ExtractiveAnswerer | LLMAnswerer
    replayer: ExtractiveAnswerer  # answers earlier turns of a conversation (deterministic, no LLM)
    fallback: bool = False  # QA_LLM_FALLBACK: answer extractively, flagged, when the LLM fails


def build_pipeline(settings: Settings, *, retriever: Retriever, language: Language) -> Pipeline:
    """Return the stages over `retriever`'s store: the LLM answerer when QA_LLM_BASE_URL is set, else
    the extractive one."""
    evidence = EvidenceScorer(retriever.embedder, retriever.idf, stored=retriever.store.get_sentences,
                              language=language, sentence_weight=settings.sentence_weight)
    extractive = ExtractiveAnswerer(paragraphs=retriever.fetch_hits, parse=language.parse,
                                    min_confidence=settings.min_confidence)
    answerer = LLMAnswerer(settings, language=language) if settings.llm_base_url else extractive
    return Pipeline(language=language, retriever=retriever, evidence=evidence, answerer=answerer,
                    replayer=extractive, fallback=settings.llm_fallback)


def check_question(question: str) -> str:
    """Return the question stripped, or raise BadRequest when it is empty or too long."""
    question = (question or "").strip()
    if not question:
        raise BadRequest("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadRequest(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    return question


def read(pipeline: Pipeline, text: str) -> Question:
    """Return the frame of a question's text."""
    return read_question(pipeline.language.parse(text))


@dataclass
class Reading:
    """A question read, with the evidence gathered for it: what the answerers take."""

    question: str
    asked: Question
    query: str
    scoring: str  # what answer sentences are matched against
    turn: Turn
    ranked: list[Evidence] = field(default_factory=list)


def answer_question(question: str, *, pipeline: Pipeline, k: int = 5, filters: Filters = Filters(),
                    turn: Turn | None = None, answerer: ExtractiveAnswerer | LLMAnswerer | None = None) -> Answer:
    """Return the cited answer to one question (a follow-up carries its resolved `turn`); `answerer`
    replaces the pipeline's own (earlier turns are replayed extractively)."""
    reading, hits = retrieve_paragraphs(question, pipeline=pipeline, filters=filters, turn=turn)
    rank_evidence(reading, hits, pipeline=pipeline, k=k)
    return finish_answer(reading, compose_answer(reading, pipeline=pipeline, answerer=answerer or pipeline.answerer),
                         pipeline=pipeline)


def answer_events(question: str, *, pipeline: Pipeline, k: int = 5, filters: Filters = Filters(),
                  turn: Turn | None = None) -> Iterator[Event]:
    """Yield the answer to one question as its stages finish: Retrieved, the answer text as Deltas while
    it is composed (the LLM's sentences as its reply arrives), then Done with the cited answer. An
    LLMError after text was sent propagates; before, QA_LLM_FALLBACK answers extractively."""
    reading, hits = retrieve_paragraphs(question, pipeline=pipeline, filters=filters, turn=turn)
    yield Retrieved([hit.key for hit in hits])
    rank_evidence(reading, hits, pipeline=pipeline, k=k)
    for item in composed_pieces(reading, pipeline=pipeline, answerer=pipeline.answerer):
        yield Done(finish_answer(reading, item, pipeline=pipeline)) if isinstance(item, Answer) else item


def retrieve_paragraphs(question: str, *, pipeline: Pipeline, filters: Filters = Filters(),
                        turn: Turn | None = None) -> tuple[Reading, list[Hit]]:
    """Return the question read and the paragraphs retrieved for it; raise BadRequest for an empty or
    overlong question."""
    question = check_question(question)
    filters = pipeline.retriever.resolve_filters(filters)
    turn = turn or Turn()
    asked = read(pipeline, turn.asked or question)
    query = turn.query or asked.text
    reading = Reading(question=question, asked=asked, query=query,
                      scoring=with_place_names(turn.scoring_query or asked.text, asked), turn=turn)
    search = with_place_names(query, asked)
    hits = pipeline.retriever.retrieve_hits(search, filters=filters, vector=pipeline.evidence.query_vector(search))
    return reading, hits


def with_place_names(query: str, asked: Question) -> str:
    """Return the retrieval query with the gazetteer's name of each place the question names another
    way appended ("Did the US plan ...?" also searches "united states"), so an alias, a demonym or a
    capital finds a paragraph that writes the country's name (and "US" is no longer a stop word)."""
    said = set(terms(query))
    extra = [place for places in asked.places if len(places) == 1 for place in places
             if not set(terms(place)) <= said]
    return f"{query} {' '.join(extra)}" if extra else query


def rank_evidence(reading: Reading, hits: list[Hit], *, pipeline: Pipeline, k: int) -> list[Evidence]:
    """Return (and keep on `reading`) the best `k` paragraphs with their sentences scored, and the ones
    a follow-up points at."""
    asked, query = reading.asked, reading.query
    ranked = pipeline.evidence.rank(asked, query, hits, k=k)
    known = {e.hit.key for e in ranked}
    extra = [key for key in reading.turn.steer.prefer if key not in known]
    if extra:  # the paragraphs a follow-up points at, scored though retrieval did not bring them
        floor = min((e.hit.score for e in ranked), default=0.0)
        ranked += pipeline.evidence.score(asked, query, pipeline.retriever.fetch_hits(extra, score=floor))
    if reading.scoring != query:
        ranked = pipeline.evidence.score(asked, reading.scoring, [e.hit for e in ranked])
    reading.ranked = ranked
    return ranked


def compose_answer(reading: Reading, *, pipeline: Pipeline, answerer: ExtractiveAnswerer | LLMAnswerer) -> Answer:
    """Return the answerer's answer from the ranked evidence (the extractive one, flagged, when the LLM
    fails and QA_LLM_FALLBACK is set)."""
    if not isinstance(answerer, LLMAnswerer):
        return answerer.answer(reading.asked, reading.ranked, steer=reading.turn.steer)
    try:
        return answerer.answer(reading.question, [e.hit for e in reading.ranked], history=reading.turn.history)
    except LLMError as exc:
        if not pipeline.fallback:
            raise
        return fallback_answer(reading, exc, pipeline=pipeline)


def composed_pieces(reading: Reading, *, pipeline: Pipeline,
                    answerer: ExtractiveAnswerer | LLMAnswerer) -> Iterator[Delta | Answer]:
    """Yield the answer text as Deltas while it is composed, then the Answer; the Deltas join to its text."""
    sent = 0
    try:
        if isinstance(answerer, LLMAnswerer):
            pieces = answerer.stream(reading.question, [e.hit for e in reading.ranked], history=reading.turn.history)
        else:
            pieces = iter([answerer.answer(reading.asked, reading.ranked, steer=reading.turn.steer)])
        for piece in pieces:
            if isinstance(piece, Answer):
                if not sent:  # composed in one step, or a refusal
                    yield from answer_deltas(piece)
                yield piece
                return
            yield Delta(f" {piece}" if sent else piece)
            sent += 1
    except LLMError as exc:
        if sent or not pipeline.fallback:
            raise
        answer = fallback_answer(reading, exc, pipeline=pipeline)
        yield from answer_deltas(answer)
        yield answer


def fallback_answer(reading: Reading, exc: LLMError, *, pipeline: Pipeline) -> Answer:
    """Return the extractive answer, flagged with why the LLM's is missing."""
    log.warning("answering extractively: %s", exc)
    answer = pipeline.replayer.answer(reading.asked, reading.ranked, steer=reading.turn.steer)
    answer.flags.append(Flag(sentence="", marker=0, reason=f"{FELL_BACK} ({exc})"))
    return answer


def finish_answer(reading: Reading, answer: Answer, *, pipeline: Pipeline) -> Answer:
    """Return the answer with its question, query and evidence addresses, and a refusal's closest passages."""
    answer.question = reading.question
    answer.query = reading.query
    answer.retrieved = [e.hit.key for e in reading.ranked]
    if not answer.answerable:
        closest = pipeline.evidence.closest(reading.asked, reading.scoring, [e.hit for e in reading.ranked])
        answer.nearest = [Passage(h.article_id, h.title, h.paragraph, h.text, h.text[s.start:s.end])
                          for h, s in closest]
    return answer
