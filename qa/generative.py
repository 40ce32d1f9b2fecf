"""LLMAnswerer: answers from retrieved passages with an OpenAI-compatible chat model (qa.llm), then
keeps only the citations that the cited passages support and do not contradict (qa.contradiction)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from llama_index.core.llms import ChatMessage, MessageRole

from qa.citations import SUPPORT_THRESHOLD, best_quote, defuse_markers, parse_markers, support_score
from qa.config import Settings
from qa.contradiction import ClaimChecker
from qa.llm import answerer_model, read_template
from qa.models import Answer, Citation, Flag, Hit
from qa.nlp import Language

NOT_IN_CORPUS = "NOT_IN_CORPUS"
REFUSAL = "The corpus does not contain an answer to this question."
NO_SUCH_PASSAGE = "no such passage"
UNSUPPORTED = "passage does not support the sentence"
CONTRADICTED = "passage contradicts the sentence"  # followed by the reason (qa.contradiction)
UNCITED = "sentence cites no passage"  # Flag.marker is 0: there was no marker to drop
FELL_BACK = "the LLM failed, so this is the extractive answer"  # Flag.marker is 0 too
SYSTEM_TEMPLATE = "answer_system.txt"
USER_TEMPLATE = "answer_user.txt"
# layout of one numbered passage inside answer_user.txt's {passages}; the wording lives in the templates.
# Each passage is fenced, so the prompt tells the model where document text (never an instruction) is.
_PASSAGE = "[{number}] {title}, paragraph {paragraph}\n<passage>\n{text}\n</passage>"
_FENCE = re.compile(r"<(\s*/?\s*passage)", re.IGNORECASE)
_FINAL_PUNCTUATION = re.compile(r"[.!?…]+$")


class LLMAnswerer:
    """Answers a question from retrieved hits with an LLM, citing paragraphs as [n]."""

    name = "llm"

    def __init__(self, settings: Settings, *, language: Language | None = None) -> None:
        self._model = answerer_model(settings)
        self._checker = ClaimChecker(language or Language(settings.nlp_model))
        self._system_template = read_template(settings.prompts_dir / SYSTEM_TEMPLATE)
        self._user_template = read_template(settings.prompts_dir / USER_TEMPLATE)

    def answer(
        self, question: str, hits: list[Hit], *, history: Sequence[tuple[str, str]] = ()
    ) -> Answer:
        """Return the LLM's answer with verified citations, or a refusal when the passages do not answer."""
        if not hits:
            return _refusal(question)  # nothing to cite, so no answer could pass the checks
        messages = render_messages(
            question,
            hits,
            history=history,
            system_template=self._system_template,
            user_template=self._user_template,
        )
        # an LLMError propagates: qa.answer falls back to the extractive answer when QA_LLM_FALLBACK says so
        return build_answer(question, hits, self._model.chat(messages), checker=self._checker)


def render_messages(
    question: str,
    hits: list[Hit],
    *,
    history: Sequence[tuple[str, str]],
    system_template: str,
    user_template: str,
) -> list[ChatMessage]:
    """Return the chat messages: system rules, earlier turns, then the numbered passages and question."""
    passages = "\n\n".join(
        _PASSAGE.format(number=n, title=fenced(hit.title), paragraph=hit.paragraph, text=fenced(hit.text))
        for n, hit in enumerate(hits, start=1)
    )
    messages = [ChatMessage(role=MessageRole.SYSTEM, content=system_template)]
    for asked, answered in history:
        messages.append(ChatMessage(role=MessageRole.USER, content=asked))
        messages.append(ChatMessage(role=MessageRole.ASSISTANT, content=answered))
    user = user_template.format(passages=passages, question=question)
    messages.append(ChatMessage(role=MessageRole.USER, content=user))
    return messages


def fenced(text: str) -> str:
    """Return document text as the prompt quotes it: its bracketed numbers defused, so they cannot pass
    for passage numbers, and anything like the fence's own tags broken, so it cannot close the fence."""
    return _FENCE.sub(lambda match: f"‹{match.group(1)}", defuse_markers(text))


def build_answer(question: str, hits: list[Hit], reply: str, *, checker: ClaimChecker | None = None) -> Answer:
    """Return the Answer for an LLM `reply`: checked markers renumbered 1..m, dropped ones as flags
    (with `checker`, also those whose passage contradicts the sentence)."""
    # the model was told to reply exactly NOT_IN_CORPUS; any reply containing it is a refusal
    if NOT_IN_CORPUS in reply:
        return _refusal(question)
    flags: list[Flag] = []
    numbers: dict[str, int] = {}  # paragraph key -> new marker, in order of first use
    cited: dict[str, Hit] = {}
    quotes: dict[str, list[tuple[int, int]]] = {}
    sentences: list[str] = []
    supported = 0
    for sentence, markers in parse_markers(reply):
        kept = _checked_hits(sentence, markers, hits, flags, checker=checker)
        new: list[int] = []
        for hit in kept:
            number = numbers.setdefault(hit.key, len(numbers) + 1)
            if number not in new:
                new.append(number)
            cited.setdefault(hit.key, hit)
            quotes.setdefault(hit.key, []).append(best_quote(sentence, hit.text))
        sentences.append(_with_markers(sentence, new))
        supported += bool(new)
    if not numbers:
        return _refusal(question, flags=flags)
    citations = [_citation(number, cited[key], quotes[key]) for key, number in numbers.items()]
    return Answer(
        answer=" ".join(sentences),
        answerable=True,
        citations=citations,
        question=question,
        answerer="llm",
        confidence=supported / len(sentences),  # share of sentences that kept a citation
        flags=flags,
    )


def _checked_hits(sentence: str, markers: list[int], hits: list[Hit], flags: list[Flag], *,
                  checker: ClaimChecker | None = None) -> list[Hit]:
    """Return the hits behind the markers that pass the checks; append a Flag for each that does not."""
    if not markers:
        flags.append(Flag(sentence=sentence, marker=0, reason=UNCITED))
    kept: list[Hit] = []
    for marker in markers:
        if not 1 <= marker <= len(hits):
            flags.append(Flag(sentence=sentence, marker=marker, reason=NO_SUCH_PASSAGE))
        elif support_score(sentence, hits[marker - 1].text) < SUPPORT_THRESHOLD:
            flags.append(Flag(sentence=sentence, marker=marker, reason=UNSUPPORTED))
        elif checker is not None and (verdict := checker.check(sentence, [hits[marker - 1].text])).contradicted:
            flags.append(Flag(sentence=sentence, marker=marker, reason=f"{CONTRADICTED}: {verdict.reason}"))
        else:
            kept.append(hits[marker - 1])
    return kept


def _citation(marker: int, hit: Hit, spans: list[tuple[int, int]]) -> Citation:
    """Return the citation of one paragraph, quoting from the first to the last sentence relied on."""
    start = min(s for s, _ in spans)
    end = max(e for _, e in spans)
    return Citation(
        marker=marker,
        article_id=hit.article_id,
        title=hit.title,
        paragraph=hit.paragraph,
        text=hit.text,
        quote=hit.text[start:end],
        start=start,
        end=end,
    )


def _with_markers(sentence: str, numbers: list[int]) -> str:
    """Return `sentence` with its markers before the final punctuation: Sentence [1][2]."""
    if not numbers:
        return sentence
    tags = "".join(f"[{n}]" for n in numbers)
    end = _FINAL_PUNCTUATION.search(sentence)
    if end is None:
        return f"{sentence} {tags}"
    return f"{sentence[:end.start()]} {tags}{end.group()}"


def _refusal(question: str, *, flags: list[Flag] | None = None) -> Answer:
    return Answer(
        answer=REFUSAL,
        answerable=False,
        citations=[],
        question=question,
        answerer="llm",
        flags=flags or [],
    )
