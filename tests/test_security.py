"""Security of what is served: headers on every response, API keys that look like placeholders refused
at start, and every /v1 route of the schema refusing a missing or wrong key in every form tried."""

from __future__ import annotations

import base64
import re

import pytest
from click.testing import CliRunner
from conftest import Ingested
from fastapi.testclient import TestClient

from qa.api import Components, create_app
from qa.api.headers import API_POLICY, PAGE_POLICY
from qa.cli import cli
from qa.config import KEY_HINT, check_api_key
from qa.errors import ConfigError

KEY = "Zt8q-3vLw_kP0xNc2mRb7yHd"
ANGRY = "us-angry-with-macron"
MISSING = "missing API key: send Authorization: Bearer <key>"
INVALID = "invalid API key"


def client_of(ingested: Ingested, **overrides: object) -> TestClient:
    """Return a client of an app over the seed corpus, with settings overridden."""
    parts = Components(store=ingested.store, pipeline=ingested.pipeline)
    return TestClient(create_app(ingested.settings.model_copy(update=overrides), components=parts))


@pytest.fixture(scope="module")
def keyed(ingested: Ingested) -> TestClient:
    """Return a client of the app requiring KEY."""
    return client_of(ingested, api_key=KEY)


# headers ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "policy"), [
    ("GET", "/", PAGE_POLICY), ("GET", "/static/app.js", PAGE_POLICY), ("GET", "/static/app.css", PAGE_POLICY),
    ("GET", "/healthz", API_POLICY), ("GET", "/v1/articles", API_POLICY), ("GET", "/v1/nope", API_POLICY),
    ("POST", "/v1/ask", API_POLICY),
])
def test_every_response_carries_the_security_headers(ingested: Ingested, method: str, path: str, policy: str) -> None:
    response = client_of(ingested).request(method, path, json={"question": "Who is Matthew Miller?"})

    assert response.headers["content-security-policy"] == policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


def test_the_page_has_no_inline_script_or_style_for_its_policy_to_block(ingested: Ingested) -> None:
    page = client_of(ingested).get("/").text

    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert re.findall(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", page) == []
    assert "'unsafe-inline'" not in PAGE_POLICY and "script-src 'self'" in PAGE_POLICY


# keys ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "reason"), [
    ("changeme", "is 8 characters long, shorter than 16"),
    ("secret", "is 6 characters long, shorter than 16"),
    ("xxx", "is 3 characters long, shorter than 16"),
    ("s3cret-key", "is 10 characters long, shorter than 16"),
    ("changeme-changeme", "holds the placeholder 'changeme'"),
    ("my-Super-Secret-Key-2024", "holds the placeholder 'secret'"),
    ("PASSWORD1234567890", "holds the placeholder 'password'"),
    ("xxxxxxxxxxxxxxxxxxxx", "holds the placeholder 'xxx'"),
    ("your-api-key-goes-here", "holds the placeholder 'yourapikey'"),
    ("abababababababababab", "has only 2 distinct characters"),
])
def test_a_placeholder_api_key_is_refused_at_start_with_a_clear_error(ingested: Ingested, key: str,
                                                                    reason: str) -> None:
    with pytest.raises(ConfigError) as raised:
        client_of(ingested, api_key=key)

    assert str(raised.value) == f"QA_API_KEY {reason}; {KEY_HINT}"


def test_qa_serve_with_a_placeholder_key_prints_one_red_line_and_exits_1(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["serve"], env={"QA_API_KEY": "changeme", "QA_DATA_DIR": str(tmp_path)})

    assert result.exit_code == 1
    assert result.output == f"error: QA_API_KEY is 8 characters long, shorter than 16; {KEY_HINT}\n"


@pytest.mark.parametrize("key", ["", KEY, "browser-test-key", "4f9c2e7a1b8d3f6e0a5c9b2d"])
def test_a_random_looking_key_or_none_is_accepted(key: str) -> None:
    check_api_key(key)


# auth, every route of the schema --------------------------------------------------------------------------

def v1_operations(client: TestClient) -> list[tuple[str, str]]:
    """Return (method, path) of every /v1 operation in the app's schema, path parameters filled in."""
    filled = {"article_id": ANGRY, "number": "1"}
    spec = client.get("/openapi.json").json()
    return [(method.upper(), re.sub(r"\{(\w+)\}", lambda m: filled[m.group(1)], path))
            for path, item in spec["paths"].items() if path.startswith("/v1/") for method in item]


WITHOUT_KEY = [
    {}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Bearer "},
    {"Authorization": f"Basic {base64.b64encode(f'qa:{KEY}'.encode()).decode()}"}, {"Authorization": f"Token {KEY}"},
    {"Authorization": KEY}, {"X-API-Key": KEY}, {"Api-Key": KEY}, {"Cookie": f"api_key={KEY}"},
]
WRONG_KEY = [
    f"Bearer {KEY}x", f"Bearer {KEY[:-1]}", f"Bearer {KEY.upper()}", f"Bearer {KEY.lower()}", f"Bearer {KEY},{KEY}",
    f"Bearer {KEY}\t{KEY}", f"Bearer x{KEY}", "Bearer null", "Bearer undefined", "Bearer ' OR '1'='1",
    f"Bearer {KEY[:8]}", f"Bearer {base64.b64encode(KEY.encode()).decode()}",
]


def test_every_v1_route_of_the_schema_refuses_every_form_of_a_missing_or_wrong_key(keyed: TestClient) -> None:
    operations = v1_operations(keyed)
    refused = []
    for method, path in operations:
        for headers in WITHOUT_KEY:
            response = keyed.request(method, path, headers=headers, json={"question": "Who is Matthew Miller?"})
            refused.append((method, path, response.status_code, response.json()["detail"]) == (method, path, 401, MISSING))
        for header in WRONG_KEY:
            response = keyed.request(method, path, headers={"Authorization": header}, json={"question": "Who?"})
            refused.append((method, path, response.status_code, response.json()["detail"]) == (method, path, 401, INVALID))
        response = keyed.request(method, f"{path}?api_key={KEY}&key={KEY}", json={"question": "Who?"})
        refused.append((response.status_code, response.json()["detail"]) == (401, MISSING))

    print(f"\nauth: {len(operations)} /v1 operations x {len(WITHOUT_KEY) + len(WRONG_KEY) + 1} forms, "
          f"{refused.count(False)} let through")
    assert len(operations) == 7
    assert refused.count(False) == 0


@pytest.mark.parametrize("path", ["/V1/articles", "/v1//articles", "/v1/articles/", "/v1/./articles", "/v1/%61rticles",
                                  "/v1/articles;x", "/v1/articles%2F", "/static/../v1/articles"])
def test_a_path_spelled_another_way_serves_no_article_without_the_key(keyed: TestClient, path: str) -> None:
    response = keyed.get(path, follow_redirects=False)

    assert response.status_code in (307, 401, 404)
    assert "articles" not in response.json() if response.status_code != 307 else True
    if response.status_code == 307:  # a redirect to the real route, which wants the key
        assert keyed.get(response.headers["location"]).status_code == 401


@pytest.mark.parametrize("header", [f"Bearer {KEY}", f"bearer {KEY}", f"Bearer  {KEY}", f"Bearer {KEY} "])
def test_the_right_key_is_let_through_whatever_the_schemes_case_or_the_spaces_around_it(keyed: TestClient,
                                                                                        header: str) -> None:
    assert keyed.get("/v1/articles", headers={"Authorization": header}).status_code == 200


# rate limit --------------------------------------------------------------------------------------------

def test_without_a_key_a_client_over_its_rate_limit_gets_429_with_when_to_retry(ingested: Ingested) -> None:
    client = client_of(ingested, rate_limit=3)

    statuses = [client.get("/v1/articles").status_code for _ in range(3)]
    refused = client.get("/v1/articles")

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json() == {"detail": "too many requests from testclient: at most 3 a minute; try again in 20s"}
    assert refused.headers["retry-after"] == "20"
    assert client.get("/healthz").status_code == 200  # health and the page are not limited
    assert client.get("/").status_code == 200


def test_with_a_key_the_rate_limit_does_not_apply(ingested: Ingested) -> None:
    client = client_of(ingested, rate_limit=1, api_key=KEY)
    headers = {"Authorization": f"Bearer {KEY}"}

    assert [client.get("/v1/articles", headers=headers).status_code for _ in range(3)] == [200, 200, 200]


def test_a_bucket_refills_at_the_limit_a_minute_and_each_client_has_its_own() -> None:
    from qa.api.limits import Buckets

    buckets = Buckets(60)  # one a second
    assert [buckets.take("a", now=0.0) for _ in range(60)] == [0.0] * 60
    assert buckets.take("a", now=0.0) == pytest.approx(1.0)
    assert buckets.take("b", now=0.0) == 0.0
    assert buckets.take("a", now=1.5) == 0.0
    assert buckets.take("a", now=1.5) == pytest.approx(0.5)
