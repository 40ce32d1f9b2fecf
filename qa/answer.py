"""Question -> cited Answer: retrieval, then the extractive answerer or, when an LLM endpoint is
configured, the LLM answerer. Follow-ups are resolved by qa.chat before they get here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.config import Settings
from qa.errors import BadRequest
from qa.extractive import ExtractiveAnswerer
from qa.generative import LLMAnswerer
from qa.models import Answer, Passage
from qa.retrieve import Filters, Retriever

MAX_QUESTION_CHARS = 4000


@dataclass
class Turn:
    """What a follow-up needs from the conversation so far."""

    query: str = ""  # standalone retrieval query
    scoring_query: str = ""  # what answer sentences are matched against (default: the question)
    referents: frozenset[str] = frozenset()  # words a sentence must hold to continue the last answer
    needs_link: bool = False  # no topic of its own ("What did he say?"): only a continuation answers
    prefer: dict[str, float] = field(default_factory=dict)  # paragraph key -> score bonus
    avoid: dict[str, float] = field(default_factory=dict)  # quotes already given -> score penalty
    history: Sequence[tuple[str, str]] = ()  # (question, answer) pairs, for the LLM


def build_answerer(settings: Settings, *, retriever: Retriever) -> ExtractiveAnswerer | LLMAnswerer:
    """Return the LLM answerer when QA_LLM_BASE_URL is set, else the extractive one."""
    extractive = ExtractiveAnswerer(retriever.evidence, min_confidence=settings.min_confidence)
    if settings.llm_base_url:
        return LLMAnswerer(settings, fallback=extractive if settings.llm_fallback else None)
    return extractive


def check_question(question: str) -> str:
    """Return the question stripped, or raise BadRequest when it is empty or too long."""
    question = (question or "").strip()
    if not question:
        raise BadRequest("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadRequest(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    return question


def answer_question(question: str, *, retriever: Retriever, answerer: ExtractiveAnswerer | LLMAnswerer,
                    k: int = 5, filters: Filters = Filters(), turn: Turn | None = None) -> Answer:
    """Return the cited answer to one question (a follow-up carries its resolved `turn`)."""
    question = check_question(question)
    filters = retriever.resolve_filters(filters)
    turn = turn or Turn()
    query = turn.query or question
    hits = retriever.retrieve_hits(query, k=k, filters=filters)
    known = {h.key for h in hits}
    extra = [key for key in turn.prefer if key not in known]
    if extra:
        hits += retriever.fetch_hits(extra, score=min((h.score for h in hits), default=0.0))
    if isinstance(answerer, LLMAnswerer):
        answer = answerer.answer(question, hits, history=turn.history)
    else:
        answer = answerer.answer(question, hits, query=turn.scoring_query or question, avoid=turn.avoid,
                                 prefer=turn.prefer, referents=turn.referents, needs_link=turn.needs_link)
    answer.query = query
    answer.retrieved = [h.key for h in hits]
    if not answer.answerable:
        closest = retriever.evidence.closest(turn.scoring_query or question, hits)
        answer.nearest = [Passage(h.article_id, h.title, h.paragraph, h.text, h.text[s.start:s.end])
                          for h, s in closest]
    return answer
