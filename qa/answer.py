"""Question -> cited Answer, stage by stage: read the question (qa.question), retrieve paragraphs
(qa.retrieve), score their sentences and re-rank (qa.evidence), compose the answer (qa.extractive, or
qa.generative when an LLM endpoint is configured). Follow-ups are resolved by qa.chat first."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.config import Settings
from qa.errors import BadRequest, LLMError
from qa.evidence import EvidenceScorer
from qa.extractive import ExtractiveAnswerer, Steer
from qa.generative import FELL_BACK, LLMAnswerer
from qa.models import Answer, Flag, Passage
from qa.nlp import Language
from qa.question import Question, read_question
from qa.retrieve import Filters, Retriever

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


def answer_question(question: str, *, pipeline: Pipeline, k: int = 5, filters: Filters = Filters(),
                    turn: Turn | None = None, answerer: ExtractiveAnswerer | LLMAnswerer | None = None) -> Answer:
    """Return the cited answer to one question (a follow-up carries its resolved `turn`); `answerer`
    replaces the pipeline's own (earlier turns are replayed extractively)."""
    question = check_question(question)
    answerer = answerer or pipeline.answerer
    filters = pipeline.retriever.resolve_filters(filters)
    turn = turn or Turn()
    asked = read(pipeline, turn.asked or question)
    query = turn.query or asked.text
    scoring = turn.scoring_query or asked.text
    hits = pipeline.retriever.retrieve_hits(query, filters=filters, vector=pipeline.evidence.query_vector(query))
    ranked = pipeline.evidence.rank(asked, query, hits, k=k)
    known = {e.hit.key for e in ranked}
    extra = [key for key in turn.steer.prefer if key not in known]
    if extra:  # the paragraphs a follow-up points at, scored though retrieval did not bring them
        floor = min((e.hit.score for e in ranked), default=0.0)
        ranked += pipeline.evidence.score(asked, query, pipeline.retriever.fetch_hits(extra, score=floor))
    if scoring != query:
        ranked = pipeline.evidence.score(asked, scoring, [e.hit for e in ranked])
    if isinstance(answerer, LLMAnswerer):
        try:
            answer = answerer.answer(question, [e.hit for e in ranked], history=turn.history)
        except LLMError as exc:
            if not pipeline.fallback:
                raise
            log.warning("answering extractively: %s", exc)
            answer = pipeline.replayer.answer(asked, ranked, steer=turn.steer)
            answer.flags.append(Flag(sentence="", marker=0, reason=f"{FELL_BACK} ({exc})"))
    else:
        answer = answerer.answer(asked, ranked, steer=turn.steer)
    answer.question = question
    answer.query = query
    answer.retrieved = [e.hit.key for e in ranked]
    if not answer.answerable:
        closest = pipeline.evidence.closest(asked, scoring, [e.hit for e in ranked])
        answer.nearest = [Passage(h.article_id, h.title, h.paragraph, h.text, h.text[s.start:s.end])
                          for h, s in closest]
    return answer
