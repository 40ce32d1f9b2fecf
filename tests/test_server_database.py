"""A store in a tenant and database of its own on a `chroma run` server (QA_CHROMA_TENANT,
QA_CHROMA_DATABASE), and the key a Chroma deployment asks for (QA_CHROMA_API_KEY) sent with every call."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from cli_runner import env_for, run
from conftest import free_port, unique_collection
from test_lexical import NEW, QUESTION, seeded, top_article

from qa.config import get_settings
from qa.errors import ConfigError, StoreUnavailable
from qa.ingest import ingest_articles
from qa.lexical import index_path
from qa.retrieve import build_retriever
from qa.store import open_store


def make_database(url: str) -> tuple[str, str]:
    """Create a tenant and a database in it through Chroma's REST API; return their names."""
    tenant, database = f"desk{uuid.uuid4().hex[:8]}", "archive"
    httpx.post(f"{url}/api/v2/tenants", json={"name": tenant}).raise_for_status()
    httpx.post(f"{url}/api/v2/tenants/{tenant}/databases", json={"name": database}).raise_for_status()
    return tenant, database


def collections(url: str, tenant: str, database: str) -> set[str]:
    """Return the names of the collections in one database, read over REST."""
    response = httpx.get(f"{url}/api/v2/tenants/{tenant}/databases/{database}/collections")
    response.raise_for_status()
    return {c["name"] for c in response.json()}


def test_a_store_in_its_own_tenant_and_database_is_written_and_answered_there(
        chroma_server, tmp_path, embedder, memo_embedder, language, seed_corpus) -> None:
    tenant, database = make_database(chroma_server)
    settings = get_settings(chroma_url=chroma_server, chroma_tenant=tenant, chroma_database=database,
                            collection=unique_collection(), data_dir=tmp_path / "data")

    seeded(settings, memo_embedder=memo_embedder, language=language, seed_corpus=seed_corpus)

    names = {f"{settings.collection}_{part}" for part in ("chunks", "articles", "sentences", "changes")}
    assert collections(chroma_server, tenant, database) == names
    assert not names & collections(chroma_server, "default_tenant", "default_database")
    retriever = build_retriever(settings, store=open_store(settings), embedder=embedder)
    assert "Matthew Miller" in retriever.retrieve_hits("Who is the State Department spokesman?", k=1)[0].text
    # this machine's lexical index of that database is a file of its own, not the default database's
    default = settings.model_copy(update={"chroma_tenant": "default_tenant", "chroma_database": "default_database"})
    assert index_path(settings) != index_path(default) and index_path(settings).is_file()
    assert not index_path(default).exists()
    status = run(["status", "--json"], env_for(settings))
    assert status.exit_code == 0, status.output
    info = json.loads(status.output)
    assert (info["articles"], info["store"]) == (2, f"{chroma_server} ({tenant}/{database})")


def test_the_same_collection_name_in_two_databases_is_two_stores(
        chroma_server, tmp_path, embedder, memo_embedder, language, seed_corpus) -> None:
    collection = unique_collection()
    first = get_settings(chroma_url=chroma_server, collection=collection, data_dir=tmp_path / "data",
                         **dict(zip(("chroma_tenant", "chroma_database"), make_database(chroma_server))))
    second = get_settings(chroma_url=chroma_server, collection=collection, data_dir=tmp_path / "data",
                          **dict(zip(("chroma_tenant", "chroma_database"), make_database(chroma_server))))
    seeded(first, memo_embedder=memo_embedder, language=language, seed_corpus=seed_corpus)
    ingest_articles([NEW], store=open_store(second), embedder=memo_embedder, language=language)

    assert open_store(first).counts()["articles"] == 2
    assert open_store(second).counts()["articles"] == 1
    retriever = build_retriever(second, store=open_store(second), embedder=embedder)
    assert top_article(retriever, QUESTION) == NEW.id
    assert {h.article_id for h in retriever.retrieve_hits("State Department spokesman", k=5)} == {NEW.id}


@pytest.mark.parametrize(("what", "message"), [
    ("tenant", "Tenant [{tenant}] not found"),
    ("database", "Database [{database}] not found"),
])
def test_a_tenant_or_database_the_server_lacks_is_an_error_that_creates_nothing(
        chroma_server, tmp_path, what: str, message: str) -> None:
    tenant, database = make_database(chroma_server)
    missing = {"tenant": (f"gone{uuid.uuid4().hex[:6]}", database), "database": (tenant, "nowhere")}[what]
    settings = get_settings(chroma_url=chroma_server, chroma_tenant=missing[0], chroma_database=missing[1],
                            collection=unique_collection(), data_dir=tmp_path / "data")

    with pytest.raises(StoreUnavailable) as caught:
        open_store(settings)

    assert message.format(tenant=missing[0], database=missing[1]) in str(caught.value)
    assert str(caught.value).startswith(f"cannot open Chroma at {chroma_server}: ")
    assert collections(chroma_server, tenant, database) == set()
    status = run(["status"], env_for(settings))
    assert status.exit_code == 1
    assert status.output.strip() == f"error: {caught.value}"
    if what == "tenant":
        assert httpx.get(f"{chroma_server}/api/v2/tenants/{missing[0]}").status_code == 404


@pytest.mark.parametrize("field", ["chroma_tenant", "chroma_database", "chroma_api_key"])
def test_server_options_without_a_server_url_are_refused(tmp_path, field: str) -> None:
    settings = get_settings(data_dir=tmp_path / "data", **{field: "acme-newsroom"})

    with pytest.raises(ConfigError, match="set QA_CHROMA_URL too"):
        open_store(settings)

    assert not (tmp_path / "data").exists()


class Recorder(BaseHTTPRequestHandler):
    """Forwards every request to the Chroma server and records the x-chroma-token header it carried."""

    upstream = ""
    tokens: list[str | None] = []

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        type(self).tokens.append(self.headers.get("x-chroma-token"))
        reply = httpx.request(self.command, f"{self.upstream}{self.path}", content=body,
                              headers={"content-type": self.headers.get("content-type", "application/json")})
        self.send_response(reply.status_code)
        self.send_header("content-type", reply.headers.get("content-type", "application/json"))
        self.send_header("content-length", str(len(reply.content)))
        self.end_headers()
        self.wfile.write(reply.content)

    do_GET = do_POST = do_PUT = do_DELETE = _forward

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def recording_proxy(chroma_server) -> Iterator[type[Recorder]]:
    handler = type("Recording", (Recorder,), {"upstream": chroma_server, "tokens": []})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield handler
    server.shutdown()
    server.server_close()


def test_the_api_key_goes_with_every_call_to_the_server(recording_proxy, tmp_path, memo_embedder, language,
                                                        seed_corpus) -> None:
    settings = get_settings(chroma_url=recording_proxy.url, chroma_api_key="ck-7f3a9c2e", collection=unique_collection(),
                            data_dir=tmp_path / "data", store_timeout=60.0)

    seeded(settings, memo_embedder=memo_embedder, language=language, seed_corpus=seed_corpus)

    assert len(recording_proxy.tokens) > 10
    assert set(recording_proxy.tokens) == {"ck-7f3a9c2e"}
