"""LLMAnswerer end to end: the real LlamaIndex/openai client over HTTP against a fake endpoint."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import openai
import pytest
from fastapi import HTTPException

from fake_llm import FAKE_MODEL, running_fake_llm, free_port
from qa.config import Settings
from qa.errors import LLMError
from qa.generative import (
    CONTRADICTED,
    NO_SUCH_PASSAGE,
    NOT_IN_CORPUS,
    REFUSAL,
    UNCITED,
    UNSUPPORTED,
    LLMAnswerer,
)
from qa.models import Answer, Flag, Hit

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
QUESTION = "What does the French pension reform change?"

PENSION = (
    "President Emmanuel Macron unveiled the pension reform on Tuesday. "
    "The reform raises the legal retirement age from 62 to 64 by 2030. "
    "Prime Minister Elisabeth Borne defended the plan in parliament."
)
STRIKES = (
    "Unions called a nationwide strike against the reform. "
    "More than 1,200,000 people marched across France on 7 March, according to the interior ministry."
)
COUNCIL = (
    "The Constitutional Council approved the core of the reform on 14 April. "
    "It struck down six secondary measures."
)
HITS = [
    Hit(article_id="lemonde-2023-01-10", title="Macron unveils pension reform", paragraph=2,
        text=PENSION, score=0.9),
    Hit(article_id="bbc-2023-03-07", title="Millions strike over pensions", paragraph=4,
        text=STRIKES, score=0.8),
    Hit(article_id="reuters-2023-04-14", title="Council backs pension law", paragraph=1,
        text=COUNCIL, score=0.7),
]


def settings_for(base_url: str, **overrides: object) -> Settings:
    """Return settings pointing at `base_url`, independent of the caller's QA_* environment."""
    return Settings(
        _env_file=None,
        llm_base_url=base_url,
        llm_model=FAKE_MODEL,
        prompts_dir=PROMPTS,
        **overrides,
    )


def ask(
    reply: str,
    *,
    question: str = QUESTION,
    hits: list[Hit] = HITS,
    history: Sequence[tuple[str, str]] = (),
) -> tuple[Answer, list[dict]]:
    """Return the answer to `question` when the model replies `reply`, and the requests it received."""
    with running_fake_llm(lambda messages: reply) as llm:
        answer = LLMAnswerer(settings_for(llm.base_url)).answer(question, hits, history=history)
    return answer, llm.requests


def test_cited_answer_maps_markers_to_article_paragraph_and_quote() -> None:
    answer, _ = ask(
        "The reform raises the retirement age from 62 to 64 [1]. "
        "More than 1,200,000 people marched against it on 7 March [2]."
    )

    assert answer.answerable is True
    assert answer.answerer == "llm"
    assert answer.question == QUESTION
    assert answer.answer == (
        "The reform raises the retirement age from 62 to 64 [1]. "
        "More than 1,200,000 people marched against it on 7 March [2]."
    )
    assert answer.flags == []
    assert answer.confidence == 1.0
    first, second = answer.citations
    assert (first.marker, first.article_id, first.paragraph) == (1, "lemonde-2023-01-10", 2)
    assert first.title == "Macron unveils pension reform"
    assert first.text == PENSION
    assert first.quote == "The reform raises the legal retirement age from 62 to 64 by 2030."
    assert PENSION[first.start:first.end] == first.quote
    assert (second.marker, second.article_id, second.paragraph) == (2, "bbc-2023-03-07", 4)
    assert second.quote == (
        "More than 1,200,000 people marched across France on 7 March, according to the interior ministry."
    )
    assert STRIKES[second.start:second.end] == second.quote


def test_prompt_contains_numbered_passages_and_the_question() -> None:
    _, requests = ask("The reform raises the retirement age to 64 [1].")

    (request,) = requests
    assert request["model"] == FAKE_MODEL
    assert request.get("stream") in (None, False)
    system, user = request["messages"]
    assert system["role"] == "system"
    assert NOT_IN_CORPUS in system["content"]
    assert "[n]" in user["content"] or "[n]" in system["content"]
    assert user["role"] == "user"
    assert f"[1] Macron unveils pension reform, paragraph 2\n<passage>\n{PENSION}\n</passage>" in user["content"]
    assert f"[2] Millions strike over pensions, paragraph 4\n<passage>\n{STRIKES}\n</passage>" in user["content"]
    assert f"[3] Council backs pension law, paragraph 1\n<passage>\n{COUNCIL}\n</passage>" in user["content"]
    assert "[4]" not in user["content"]
    assert QUESTION in user["content"]


def test_history_is_sent_as_earlier_chat_turns_before_the_question() -> None:
    history = [("Who unveiled the reform?", "President Emmanuel Macron unveiled it [1].")]

    _, requests = ask("The reform raises the retirement age to 64 [1].", history=history)

    roles = [(m["role"], m["content"]) for m in requests[0]["messages"]]
    assert [role for role, _ in roles] == ["system", "user", "assistant", "user"]
    assert roles[1][1] == "Who unveiled the reform?"
    assert roles[2][1] == "President Emmanuel Macron unveiled it [1]."
    assert QUESTION in roles[3][1]


def test_citation_to_missing_passage_is_dropped_and_flagged() -> None:
    answer, _ = ask("The reform raises the retirement age to 64 [1][9].")

    assert answer.answer == "The reform raises the retirement age to 64 [1]."
    assert [c.marker for c in answer.citations] == [1]
    assert answer.flags == [
        Flag(sentence="The reform raises the retirement age to 64.", marker=9, reason=NO_SUCH_PASSAGE)
    ]


def test_citation_to_passage_that_does_not_support_the_sentence_is_dropped_and_flagged() -> None:
    answer, _ = ask("The reform raises the retirement age to 64 [1][3].")

    assert answer.answer == "The reform raises the retirement age to 64 [1]."
    assert [c.article_id for c in answer.citations] == ["lemonde-2023-01-10"]
    assert answer.flags == [
        Flag(sentence="The reform raises the retirement age to 64.", marker=3, reason=UNSUPPORTED)
    ]


def test_citation_with_a_wrong_number_is_dropped_and_flagged() -> None:
    answer, _ = ask("The reform raises the retirement age to 64 [1]. The age rises to 67 [1].")

    assert answer.answer == "The reform raises the retirement age to 64 [1]. The age rises to 67."
    assert answer.flags == [Flag(sentence="The age rises to 67.", marker=1, reason=UNSUPPORTED)]
    assert answer.confidence == 0.5


def test_citation_whose_passage_contradicts_a_swapped_number_is_dropped_with_the_reason() -> None:
    answer, _ = ask("The reform raises the retirement age to 64 [1]. The Council struck down 14 secondary measures [3].")

    assert answer.answer == ("The reform raises the retirement age to 64 [1]. "
                             "The Council struck down 14 secondary measures.")
    assert answer.flags == [Flag(sentence="The Council struck down 14 secondary measures.", marker=3,
                                 reason=f"{CONTRADICTED}: the cited sentence has six where the claim has 14")]


def test_sentence_without_any_marker_stays_in_the_text_and_is_flagged() -> None:
    answer, _ = ask("The reform raises the retirement age to 64 [1]. It was unpopular.")

    assert answer.answerable is True
    assert answer.answer == "The reform raises the retirement age to 64 [1]. It was unpopular."
    assert answer.flags == [Flag(sentence="It was unpopular.", marker=0, reason=UNCITED)]


def test_markers_are_renumbered_in_order_of_first_use() -> None:
    answer, _ = ask(
        "The Constitutional Council approved the reform on 14 April [3]. "
        "The reform raises the retirement age to 64 [1]. "
        "The council struck down six measures [3]."
    )

    assert answer.answer == (
        "The Constitutional Council approved the reform on 14 April [1]. "
        "The reform raises the retirement age to 64 [2]. "
        "The council struck down six measures [1]."
    )
    assert [(c.marker, c.article_id) for c in answer.citations] == [
        (1, "reuters-2023-04-14"),
        (2, "lemonde-2023-01-10"),
    ]
    # one citation per paragraph, quoting every sentence the answer relied on
    assert answer.citations[0].quote == COUNCIL


def test_two_markers_for_the_same_paragraph_become_one_citation() -> None:
    window = Hit(article_id="lemonde-2023-01-10", title="Macron unveils pension reform", paragraph=2,
                 text=PENSION, score=0.5)

    answer, _ = ask("The reform raises the retirement age to 64 [1][4].", hits=[*HITS, window])

    assert answer.answer == "The reform raises the retirement age to 64 [1]."
    assert len(answer.citations) == 1


def test_not_in_corpus_reply_is_not_answerable() -> None:
    answer, _ = ask(NOT_IN_CORPUS, question="Who won the 2022 World Cup?")

    assert answer == Answer(
        answer=REFUSAL,
        answerable=False,
        citations=[],
        question="Who won the 2022 World Cup?",
        answerer="llm",
    )


def test_reply_whose_every_citation_fails_is_not_answerable() -> None:
    answer, _ = ask("Germany won the World Cup [2]. Argentina lost [7].")

    assert answer.answerable is False
    assert answer.answer == REFUSAL
    assert answer.citations == []
    assert [(f.marker, f.reason) for f in answer.flags] == [(2, UNSUPPORTED), (7, NO_SUCH_PASSAGE)]


def test_no_hits_refuses_without_calling_the_llm() -> None:
    answer, requests = ask("The reform raises the retirement age to 64 [1].", hits=[])

    assert answer.answerable is False
    assert requests == []


def test_unreachable_endpoint_raises_one_line_llm_error() -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    answerer = LLMAnswerer(settings_for(base_url))

    with pytest.raises(LLMError) as raised:
        answerer.answer(QUESTION, HITS)

    message = str(raised.value)
    assert message.startswith(f"LLM endpoint {base_url} could not be reached")
    assert "\n" not in message
    assert raised.value.__suppress_context__


def test_endpoint_answering_an_http_error_raises_llm_error_with_the_status() -> None:
    def refuse(messages: list[dict]) -> str:
        raise HTTPException(status_code=401, detail="invalid api key")

    with running_fake_llm(refuse) as llm:
        answerer = LLMAnswerer(settings_for(llm.base_url))
        with pytest.raises(LLMError) as raised:
            answerer.answer(QUESTION, HITS)

    message = str(raised.value)
    assert message.startswith(f"LLM endpoint {llm.base_url} answered HTTP 401")
    assert message.endswith(": invalid api key")
    assert "\n" not in message


def test_slow_endpoint_raises_llm_error_after_the_timeout() -> None:
    def slow(messages: list[dict]) -> str:
        time.sleep(0.6)
        return NOT_IN_CORPUS

    with running_fake_llm(slow) as llm:
        answerer = LLMAnswerer(settings_for(llm.base_url, llm_timeout=0.2))
        with pytest.raises(LLMError) as raised:
            answerer.answer(QUESTION, HITS)

    assert str(raised.value) == f"LLM endpoint {llm.base_url} timed out after 0.2s"


def test_fake_llm_serves_models_and_streams_chunks_the_openai_client_reassembles() -> None:
    reply = "The reform raises the retirement age to 64 [1]."

    with running_fake_llm(lambda messages: reply) as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key="unused", max_retries=0)
        models = [model.id for model in client.models.list()]
        stream = client.chat.completions.create(
            model=FAKE_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)

    assert models == [FAKE_MODEL]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == reply
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert llm.requests[0]["messages"] == [{"role": "user", "content": "hi"}]
