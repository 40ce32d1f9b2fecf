"""The chat page in a real headless browser: Debian's chromium driven by Playwright, against a real
uvicorn server over the ingested seed corpus. A missing browser fails the tests; they are never skipped,
and Playwright never downloads a browser of its own (.ci/browser installs the system one)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Ingested
from headless import launch_chromium
from live_server import serving
from playwright.sync_api import Browser, Locator, Page, Request, Response, expect

REVIEW_SCREENSHOT = Path("/tmp/qa_page.png")
VIEWPORT = {"width": 1280, "height": 1000}
ANSWER_TIMEOUT_MS = 60_000
API_KEY = "browser-test-key"

FIRST = "Who is the State Department spokesman who responded to Bloomberg's report?"
FOLLOW_UP = "What did he say next?"
OFF_TOPIC = "Which team won the 2024 Super Bowl?"
NEAR_MISS = "Which political party does Slovak Prime Minister Robert Fico lead?"


@pytest.fixture(scope="module")
def live_server(ingested: Ingested) -> Iterator[str]:
    """Yield the URL of the app with no API key."""
    with serving(ingested) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_server(ingested: Ingested) -> Iterator[str]:
    """Yield the URL of the app with QA_API_KEY set."""
    with serving(ingested, api_key=API_KEY) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Yield headless system chromium."""
    yield from launch_chromium()


@dataclass
class Tab:
    """A page on the chat UI, with the script errors it raised and the /v1/chat requests it made."""

    page: Page
    errors: list[str] = field(default_factory=list)
    chats: list[Request] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # what the Content-Security-Policy blocked


@contextmanager
def open_tab(browser: Browser, base_url: str) -> Iterator[Tab]:
    """Yield a fresh tab (own storage) on `base_url`/, recording errors and chat requests."""
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    tab = Tab(page)
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    page.on("request", lambda r: tab.chats.append(r) if r.url.endswith("/v1/chat") else None)
    page.on("console", lambda m: tab.refused.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        page.goto("/")
        expect(page).to_have_title("Ask the archive")
        yield tab
    finally:
        context.close()


def ask(page: Page, question: str) -> Locator:
    """Type `question`, press Enter, and return its answer once the final one is shown."""
    answers = page.locator(".turn.assistant")
    before = answers.count()
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    expect(answers).to_have_count(before + 1, timeout=5_000)
    answer = answers.nth(before)
    expect(answer).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#status")).to_have_text("")  # no error line
    return answer


def sent(request: Request) -> dict:
    """Return the JSON body of a request the page made."""
    return json.loads(request.post_data)


def content_type(response: Response | None) -> str:
    """Return the media type of a response, without parameters."""
    return response.headers.get("content-type", "").split(";")[0] if response else ""


def test_chat_page_answers_follows_up_opens_citations_and_shows_refusals(browser: Browser, live_server: str,
                                                                         tmp_path: Path) -> None:
    with open_tab(browser, live_server) as tab:
        page = tab.page
        source = page.get_by_role("complementary")
        expect(source).to_be_hidden()

        first = ask(page, FIRST)
        expect(first.locator(".short-answer")).to_have_text("Matthew Miller")  # the answer leads
        expect(first).to_contain_text("Matthew Miller")
        marker = first.locator(".text").get_by_role("button", name="Source 1:")
        expect(marker).to_have_text("[1]")
        marker.click()
        expect(source).to_be_visible()
        expect(source).to_contain_text("paragraph 6")
        expect(source.locator("mark")).to_contain_text("Matthew Miller responded to Bloomberg's publication")

        follow_up = ask(page, FOLLOW_UP)
        expect(follow_up).to_contain_text("troops")
        follow_up.locator(".text").get_by_role("button", name="Source 1:").click()
        expect(source).to_contain_text("paragraph 7")
        expect(source.locator("mark")).to_contain_text("not going to send any troops to Ukraine")

        refusal = ask(page, OFF_TOPIC)
        expect(refusal).to_have_class("turn assistant refusal")
        expect(refusal).to_contain_text("Not in the archive")
        expect(refusal.get_by_role("button")).to_have_count(0)

        page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
        shutil.copyfile(tmp_path / "chat.png", REVIEW_SCREENSHOT)

        # streamed, not the non-stream fallback; each request carried the whole conversation
        assert [content_type(r.response()) for r in tab.chats] == ["text/event-stream"] * 3
        bodies = [sent(r) for r in tab.chats]
        assert [b["stream"] for b in bodies] == [True, True, True]
        assert [[m["role"] for m in b["messages"]] for b in bodies] == [
            ["user"], ["user", "assistant", "user"], ["user", "assistant", "user", "assistant", "user"],
        ]
        assert [m["content"] for m in bodies[2]["messages"] if m["role"] == "user"] == [FIRST, FOLLOW_UP, OFF_TOPIC]
        assert "Matthew Miller" in bodies[1]["messages"][1]["content"]
        assert tab.errors == []
        assert tab.refused == []  # the page runs under its policy: no inline script or style to block


def test_chat_page_is_served_with_a_policy_that_forbids_inline_script(browser: Browser, live_server: str) -> None:
    with open_tab(browser, live_server) as tab:
        page = tab.page
        response = page.goto("/")
        policy = response.headers["content-security-policy"]
        injected = page.evaluate("""() => {
            const s = document.createElement("script"); s.textContent = "window.ran = true";
            document.body.append(s); return window.ran === true; }""")

    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert (response.headers["x-content-type-options"], response.headers["referrer-policy"]) == ("nosniff", "no-referrer")
    assert injected is False  # an inline script, as hostile markup would add, does not run
    assert any("script-src" in line for line in tab.refused)


def test_chat_page_refusal_lists_the_closest_passages_and_opens_them(browser: Browser, live_server: str) -> None:
    with open_tab(browser, live_server) as tab:
        page = tab.page
        refusal = ask(page, NEAR_MISS)
        expect(refusal).to_have_class("turn assistant refusal")
        expect(refusal).to_contain_text("Closest passages (none clearly answers the question):")
        closest = refusal.get_by_role("list", name="Closest passages").get_by_role("listitem")
        expect(closest.first).to_contain_text("Slovak Prime Minister Robert Fico stated")
        expect(refusal.locator(".text").get_by_role("button")).to_have_count(0)  # the refusal cites nothing

        closest.first.get_by_role("button", name="Closest passage:").click()
        source = page.get_by_role("complementary")
        expect(source).to_be_visible()
        expect(source).to_contain_text("Closest passage")
        expect(source).to_contain_text("paragraph 10")
        expect(source.locator("mark")).to_contain_text("Slovak Prime Minister Robert Fico stated")
        assert tab.errors == []


def test_chat_page_asks_again_without_streaming_when_the_stream_fails(browser: Browser, live_server: str) -> None:
    with open_tab(browser, live_server) as tab:
        tab.page.route("**/v1/chat", lambda route: route.abort() if sent(route.request)["stream"]
                       else route.continue_())
        answer = ask(tab.page, FIRST)
        expect(answer).to_contain_text("Matthew Miller")
        expect(answer.locator(".text").get_by_role("button", name="Source 1:")).to_be_visible()
        assert [sent(r)["stream"] for r in tab.chats] == [True, False]
        assert content_type(tab.chats[1].response()) == "application/json"
        assert tab.errors == []


def test_chat_page_asks_for_the_api_key_and_keeps_it(browser: Browser, keyed_server: str) -> None:
    with open_tab(browser, keyed_server) as tab:
        page = tab.page
        box = page.get_by_label("Your question")
        box.fill(FIRST)
        box.press("Enter")
        expect(page.locator("#status")).to_contain_text("The server needs an API key")
        key_field = page.get_by_label("API key")
        expect(key_field).to_be_focused()
        expect(box).to_have_value(FIRST)  # given back, to be sent again
        expect(page.locator(".turn")).to_have_count(0)

        key_field.fill(API_KEY)
        box.press("Enter")
        answer = page.locator(".turn.assistant")
        expect(answer).not_to_have_attribute("aria-busy", "true")
        expect(answer).to_contain_text("Matthew Miller")
        assert [r.all_headers().get("authorization") for r in tab.chats] == [None, f"Bearer {API_KEY}"]
        # the second request carried no failed turn
        assert [m["role"] for m in sent(tab.chats[1])["messages"]] == ["user"]

        page.reload()
        expect(page.get_by_label("API key")).to_have_value(API_KEY)
        assert tab.errors == []
