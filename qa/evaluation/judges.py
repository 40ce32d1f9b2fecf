"""The judges that decide whether passages support a claim: the offline verifier (the default; no
model download, no network) or an LLM judge that splits sentences into claims and verifies each,
with its prompts in prompts/judge_claims.txt and prompts/judge_verify.txt."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from llama_index.core.llms import ChatMessage, MessageRole

from qa.config import Settings
from qa.errors import ConfigError
from qa.llm import judge_model, read_template

from qa.contradiction import ClaimChecker, Verdict, fold
from qa.nlp import Language

if TYPE_CHECKING:
    from qa.evaluation.verifier import SupportVerifier

CLAIMS_TEMPLATE = "judge_claims.txt"
VERIFY_TEMPLATE = "judge_verify.txt"
JUDGES = ("offline", "llm")
_VERDICT = re.compile(r"\b(NOT[_ ]SUPPORTED|SUPPORTED)\b", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


class OfflineJudge:
    """Answer sentences are the claims; the offline support verifier scores them."""

    name = "offline"

    def __init__(self, verifier: SupportVerifier) -> None:
        self.verifier = verifier
        self.threshold = verifier.threshold

    def claims(self, sentence: str) -> list[str]:
        """Return the sentence as its one claim."""
        return [sentence]

    def support_many(self, pairs: Sequence[tuple[str, Sequence[str]]]) -> list[float]:
        """Return the verifier's support probability of each (claim, passages)."""
        return self.verifier.support_many(pairs)

    def assess_many(self, pairs: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[float, Verdict]]:
        """Return the verifier's support of each (claim, passages) and its structural verdict."""
        return self.verifier.assess_many(pairs)


class LLMJudge:
    """An LLM splits each sentence into claims and says of each whether the passages support it."""

    name = "llm"
    threshold = 0.5  # verdicts are 0 or 1

    def __init__(self, settings: Settings, *, checker: ClaimChecker) -> None:
        self._model = judge_model(settings)
        self.checker = checker
        self._claims_template = read_template(settings.prompts_dir / CLAIMS_TEMPLATE)
        self._verify_template = read_template(settings.prompts_dir / VERIFY_TEMPLATE)

    def claims(self, sentence: str) -> list[str]:
        """Return the claims the model finds in the sentence (the sentence itself if it finds none)."""
        reply = self._ask(self._claims_template.format(sentence=sentence))
        found = [_BULLET.sub("", line).strip() for line in reply.splitlines()]
        return [claim for claim in found if claim] or [sentence]

    def support_many(self, pairs: Sequence[tuple[str, Sequence[str]]]) -> list[float]:
        """Return 1.0 for each (claim, passages) the model judges supported, else 0.0."""
        return [self._support(claim, passages) for claim, passages in pairs]

    def assess_many(self, pairs: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[float, Verdict]]:
        """Return the model's verdict on each (claim, passages), 0.0 where structure finds a
        contradiction, and the structural verdict."""
        verdicts = self.checker.check_many(pairs)
        return [(fold(self._support(claim, passages), verdict, threshold=self.threshold) if not verdict.contradicted
                 else 0.0, verdict) for (claim, passages), verdict in zip(pairs, verdicts)]

    def _support(self, claim: str, passages: Sequence[str]) -> float:
        if not passages:
            return 0.0  # nothing cited, nothing to support it
        numbered = "\n\n".join(f"[{n}] {text}" for n, text in enumerate(passages, start=1))
        verdict = _VERDICT.search(self._ask(self._verify_template.format(passages=numbered, claim=claim)))
        return 1.0 if verdict and verdict.group(1).upper() == "SUPPORTED" else 0.0

    def _ask(self, prompt: str) -> str:
        return self._model.chat([ChatMessage(role=MessageRole.USER, content=prompt)])


def build_judge(name: str, *, settings: Settings, embedder: Callable[[], object],
                language: Language) -> OfflineJudge | LLMJudge:
    """Return the judge called `name`: "offline" (the verifier, with the embedding model its weights
    were fitted with: `embedder()` when the settings name that model) or "llm" (needs QA_LLM_*); both
    with the structural verdicts of qa.contradiction over `language`."""
    checker = ClaimChecker(language)
    if name == "offline":
        from qa.evaluation.verifier import SupportVerifier, load_weights, verifier_embedder

        weights = load_weights()
        return OfflineJudge(SupportVerifier(verifier_embedder(weights, settings=settings, embedder=embedder),
                                            checker=checker, weights=weights))
    if name == "llm":
        return LLMJudge(settings, checker=checker)
    raise ConfigError(f"unknown judge {name!r}: choose one of {', '.join(JUDGES)}")
