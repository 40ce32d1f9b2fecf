"""The chat-model client: any OpenAI-compatible endpoint through LlamaIndex's OpenAILike, with its
failures translated into one-line LLMErrors. The only module that talks to an LLM."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qa.config import Settings
from qa.errors import ConfigError, LLMError

if TYPE_CHECKING:  # openai and its LlamaIndex client take about a second to import: only when asked for
    import openai
    from llama_index.core.llms import ChatMessage


class ChatModel:
    """A chat model at an OpenAI-compatible endpoint."""

    def __init__(self, *, base_url: str, model: str, api_key: str, timeout: float) -> None:
        from llama_index.llms.openai_like import OpenAILike

        self.endpoint = base_url
        self._timeout = timeout
        self._llm = OpenAILike(
            model=model,
            api_base=base_url,
            api_key=api_key or "unused",  # local servers ignore it, the client requires one
            is_chat_model=True,
            timeout=timeout,
            max_retries=1,
            temperature=0.0,  # replies are checked against passages; keep them reproducible
        )

    def chat(self, messages: list[ChatMessage]) -> str:
        """Return the model's reply text; raise LLMError with a one-line reason when the call fails."""
        import openai

        try:
            response = self._llm.chat(messages)
        except openai.APITimeoutError:
            raise LLMError(f"LLM endpoint {self.endpoint} timed out after {self._timeout:g}s") from None
        except openai.APIConnectionError as exc:
            reason = one_line(str(exc.__cause__ or exc))
            raise LLMError(f"LLM endpoint {self.endpoint} could not be reached: {reason}") from None
        except openai.APIStatusError as exc:
            raise LLMError(
                f"LLM endpoint {self.endpoint} answered HTTP {exc.status_code}: {_status_reason(exc)}"
            ) from None
        except openai.OpenAIError as exc:
            raise LLMError(f"LLM endpoint {self.endpoint} failed: {one_line(str(exc))}") from None
        except Exception as exc:  # noqa: BLE001 -- a reply the client cannot read (no choices, wrong types)
            raise LLMError(f"LLM endpoint {self.endpoint} sent a malformed reply ({type(exc).__name__})") from None
        content = response.message.content
        if not isinstance(content, str) or not content.strip():
            raise LLMError(f"LLM endpoint {self.endpoint} sent an empty reply")
        return content


def answerer_model(settings: Settings) -> ChatModel:
    """Return the answering model (QA_LLM_BASE_URL, QA_LLM_MODEL, QA_LLM_API_KEY, QA_LLM_TIMEOUT)."""
    if not settings.llm_base_url:
        raise ConfigError("QA_LLM_BASE_URL: required by the LLM answerer")
    if not settings.llm_model:
        raise ConfigError("QA_LLM_MODEL: required by the LLM answerer")
    return ChatModel(base_url=settings.llm_base_url, model=settings.llm_model, api_key=settings.llm_api_key,
                     timeout=settings.llm_timeout)


def judge_model(settings: Settings) -> ChatModel:
    """Return the judging model: QA_JUDGE_BASE_URL/MODEL/API_KEY, each defaulting to its QA_LLM_ one."""
    base_url = settings.judge_base_url or settings.llm_base_url
    model = settings.judge_model or settings.llm_model
    if not base_url:
        raise ConfigError("QA_JUDGE_BASE_URL (or QA_LLM_BASE_URL): required by the LLM judge")
    if not model:
        raise ConfigError("QA_JUDGE_MODEL (or QA_LLM_MODEL): required by the LLM judge")
    api_key = settings.judge_api_key or (settings.llm_api_key if not settings.judge_base_url else "")
    return ChatModel(base_url=base_url, model=model, api_key=api_key, timeout=settings.llm_timeout)


def read_template(path: Path) -> str:
    """Return a prompt template's text; raise ConfigError naming the file when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"QA_PROMPTS_DIR: cannot read {path}: {exc.strerror}") from None


def one_line(text: str, limit: int = 200) -> str:
    """Return text on one line, cut to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _status_reason(exc: openai.APIStatusError) -> str:
    """Return the server's own error message when the body carries one (OpenAI or FastAPI shape)."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body.get("detail"))
        if isinstance(error, dict):
            error = error.get("message")
        if isinstance(error, str) and error:
            return one_line(error)
    return one_line(exc.message)


# LlamaIndex's own parts (synthesizers, evaluators) take an LLM object rather than this module's client
if TYPE_CHECKING:
    from llama_index.core.llms import LLM


def llama_index_llm(settings: Settings, *, judge: bool = False) -> LLM:
    """Return the answering endpoint (QA_LLM_*), or with `judge` the judging one (QA_JUDGE_*), as a
    LlamaIndex LLM object (OpenAILike), e.g. for FaithfulnessEvaluator(llm=...); its failures are
    LlamaIndex's and openai's exceptions, not LLMErrors."""
    model = judge_model(settings) if judge else answerer_model(settings)
    return model._llm


def no_llm() -> LLM:
    """Return LlamaIndex's MockLLM, for a LlamaIndex part that wants an LLM object it never calls, so
    nothing falls back to the global Settings.llm (which reaches for OpenAI)."""
    from llama_index.core.llms import MockLLM

    return MockLLM()
