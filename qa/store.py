"""Chroma, embedded or client/server; the only module that imports chromadb.

Three collections per store:
- `{name}_chunks`: one record per chunk, written and queried through LlamaIndex's ChromaVectorStore;
  each record's `document_id` is its article id, so an article's chunks are deleted in one call.
- `{name}_articles`: one record per article (title embedding, numbered paragraphs as the document,
  content hash in the metadata), the source of truth for `qa show` and for incremental ingest.
- `{name}_sentences`: one record per sentence of every paragraph: its embedding, and in the metadata
  its paragraph's address (`para`, "article_id:n"), its offsets and the language pipeline's notes
  on it (qa.models.SentenceNotes as JSON), so answering ranks sentences without embedding or parsing
  them again in every process.
- `{name}_changes`: the change log, one record per article written or removed (`article_id`, `op`
  "put" or "delete", `at` in µs; a one-dimensional dummy vector, as Chroma wants one): what every
  process's lexical index (qa.lexical, on its own machine) follows instead of re-reading the store.

With a lexical index attached (open_store attaches the machine's own), every write goes through to
it as well, once that index is complete.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import chromadb
import httpx
from chromadb.config import Settings as ChromaSettings
from llama_index.core.schema import MetadataMode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores import MetadataFilters, VectorStoreQuery
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.vector_stores.chroma import ChromaVectorStore

from qa.chunking import chunk_header
from qa.config import Settings
from qa.errors import ArticleNotFound, ConfigError, StoreUnavailable
from qa.lexical import ChunkRow, LexicalIndex, index_path
from qa.models import Article, Chunk, SentenceNotes



@dataclass(frozen=True)
class ArticleWrite:
    """One article as ingest stores it: its chunks and sentences with their vectors, and its title's."""

    article: Article
    chunks: Sequence[Chunk]
    embeddings: Sequence[Sequence[float]]
    title_embedding: Sequence[float]
    sentences: Sequence[tuple[int, SentenceNotes]] = ()  # (paragraph number, notes) for every sentence
    sentence_embeddings: Sequence[Sequence[float]] = ()
    root: str = ""  # the folder it was ingested from (absolute), "" when unknown
    nlp: str = ""  # the language pipeline that wrote the notes (qa.nlp.Language.tag)


@dataclass(frozen=True)
class StoredArticle:
    """What the store remembers of an article's origin: its content hash and the file it came from."""

    hash: str  # "" for one stored without its sentence vectors (by an earlier version)
    root: str  # the folder it was ingested from; "" for articles stored before folders were recorded
    source: str  # its file, relative to root
    nlp: str = ""  # the language pipeline its sentence notes come from; "" for one stored without notes
    starts: bool = True  # False for one stored before its sentences' offsets were recorded with it


@dataclass(frozen=True)
class Change:
    """One entry of the store's change log."""

    id: str
    at: int  # µs since the epoch, by the writer's clock
    article_id: str
    op: str  # "put" or "delete"


PAGE = 1000
_EMBED_KEYS = ("header",)


def open_client(settings: Settings):
    """Return a Chroma client: an HTTP client when QA_CHROMA_URL is set, else an embedded one."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if not settings.chroma_url and settings.names_server_database:
        raise ConfigError("QA_CHROMA_TENANT, QA_CHROMA_DATABASE and QA_CHROMA_API_KEY name a database on a "
                          "Chroma server; set QA_CHROMA_URL too (the embedded store has one database)")
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                headers={"x-chroma-token": settings.chroma_api_key} if settings.chroma_api_key else None,
                tenant=settings.chroma_tenant,
                database=settings.chroma_database,
                settings=chroma_settings,
            )
            _bound_waits(client, settings.store_timeout)
            client.heartbeat()
            return client
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=chroma_settings)
    except Exception as exc:  # chromadb raises many unrelated types for "cannot connect"
        where = settings.chroma_url or settings.data_dir
        raise StoreUnavailable(f"cannot open Chroma at {where}: {_first_line(exc)}") from None


def _bound_waits(client, seconds: float) -> None:
    """Give the HTTP client's session a timeout: chromadb waits forever by default, so a stalled
    server would hold every request (and its worker thread) until it came back."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        raise ConfigError("this chromadb version keeps its HTTP session elsewhere; cannot bound its waits")
    session.timeout = httpx.Timeout(seconds)


NO_CONNECTION = "cannot connect to the Chroma server"
NO_ANSWER = "no answer in time (QA_STORE_TIMEOUT)"


def _first_line(exc: Exception) -> str:
    # chromadb words a refused connection its own way in some calls and passes httpx's on in others
    if isinstance(exc, httpx.TimeoutException):
        return NO_ANSWER
    if isinstance(exc, httpx.ConnectError) or "Could not connect to a Chroma server" in str(exc):
        return NO_CONNECTION
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:200]


class Store:
    """Articles and their chunks in Chroma."""

    def __init__(self, client, *, name: str, model: str, lexical: LexicalIndex | None = None) -> None:
        self.name = name
        self.lexical = lexical  # written through once complete (qa.lexsync builds and follows it)
        self._client = client
        meta = {"hnsw:space": "cosine", "embed_model": model}
        try:
            self._chunks = client.get_or_create_collection(f"{name}_chunks", metadata=meta, embedding_function=None)
            self._articles = client.get_or_create_collection(
                f"{name}_articles", metadata=meta, embedding_function=None
            )
            self._sentences = client.get_or_create_collection(
                f"{name}_sentences", metadata=meta, embedding_function=None
            )
            self._changes = client.get_or_create_collection(f"{name}_changes", embedding_function=None)
        except Exception as exc:
            raise StoreUnavailable(f"cannot open collection {name!r}: {_first_line(exc)}") from None
        built_with = (self._chunks.metadata or {}).get("embed_model")
        if built_with and built_with != model:
            raise ConfigError(
                f"collection {name!r} was embedded with {built_with!r}, not {model!r}; "
                "set QA_COLLECTION to a new name or QA_EMBED_MODEL back"
            )
        self.vector_store = ChromaVectorStore(chroma_collection=self._chunks)

    # reads -----------------------------------------------------------------------------------
    def heartbeat(self) -> None:
        """Return when Chroma answers a heartbeat; raise StoreUnavailable when it does not."""
        self._call(self._client.heartbeat)

    def query_dense(self, embedding: Sequence[float], *, top_k: int,
                    filters: MetadataFilters | None = None) -> dict[str, float]:
        """Return {chunk id: cosine similarity} of the `top_k` chunks nearest `embedding` that pass
        `filters`, nearest first."""
        query = VectorStoreQuery(query_embedding=list(embedding), similarity_top_k=top_k, filters=filters)
        result = self._call(self.vector_store.query, query)
        # ChromaVectorStore reports exp(-cosine distance); convert back to a cosine similarity
        return {node_id: 1.0 + math.log(max(score or 1e-9, 1e-9))
                for node_id, score in zip(result.ids, result.similarities)}

    def article_hashes(self) -> dict[str, str]:
        """Return {article_id: content hash} of every stored article; "" for one stored without its
        sentence vectors (by an earlier version), so the next ingest redoes it."""
        return {rid: record.hash for rid, record in self.article_records().items()}

    def article_records(self) -> dict[str, StoredArticle]:
        """Return every stored article's hash and origin, by id."""
        return {rid: StoredArticle(hash=meta.get("hash", "") if "sentences" in meta else "",
                                   root=meta.get("root", ""), source=meta.get("source", ""), nlp=meta.get("nlp", ""),
                                   starts="starts" in meta)
                for rid, meta in self._page(self._articles, ["metadatas"])}

    def get_article(self, article_id: str) -> Article:
        """Return a stored article, or raise ArticleNotFound."""
        found = self.get_articles([article_id])
        if article_id not in found:
            raise ArticleNotFound(f"no article {article_id!r} in the store (see `qa status` or `qa show`)")
        return found[article_id]

    def get_articles(self, article_ids: list[str]) -> dict[str, Article]:
        """Return the stored articles among `article_ids`, by id."""
        if not article_ids:
            return {}
        result = self._call(self._articles.get, ids=list(dict.fromkeys(article_ids)), include=["metadatas", "documents"])
        return {
            rid: _article_from_record(rid, meta, doc)
            for rid, meta, doc in zip(result["ids"], result["metadatas"], result["documents"])
        }

    def list_articles(self) -> list[dict]:
        """Return the metadata of every stored article, sorted by id."""
        rows = [{"id": rid, **meta} for rid, meta in self._page(self._articles, ["metadatas"])]
        return sorted(rows, key=lambda row: row["id"])

    def iter_nodes(self) -> Iterator[TextNode]:
        """Yield every chunk as a LlamaIndex node."""
        for rid, meta, doc in self._page(self._chunks, ["metadatas", "documents"]):
            yield _stored_node(meta, doc)

    def iter_chunk_rows(self) -> Iterator[ChunkRow]:
        """Yield every chunk as the lexical index holds it (for a rebuild)."""
        for node in self.iter_nodes():
            yield lexical_row(node)

    def chunk_rows(self, article_ids: Sequence[str]) -> list[ChunkRow]:
        """Return the chunks of the given articles as the lexical index holds them."""
        rows: list[ChunkRow] = []
        for first in range(0, len(article_ids), 100):
            found = self._call(self._chunks.get, where={"article_id": {"$in": list(article_ids[first:first + 100])}},
                               include=["metadatas", "documents"])
            rows += [lexical_row(_stored_node(m, d)) for m, d in zip(found["metadatas"], found["documents"])]
        return rows

    @property
    def fingerprint(self) -> str:
        """Return what identifies this store's chunks across processes: the collection's id, new
        whenever the collection is made again."""
        return f"{self.name}:{self._chunks.id}"

    def change_count(self) -> int:
        """Return the length of the change log (one cheap call: what followers poll)."""
        return self._call(self._changes.count)

    def changes_since(self, at: int) -> list[Change]:
        """Return the change log's entries written at `at` (µs) or later, oldest first."""
        found: list[Change] = []
        offset = 0
        while True:
            page = self._call(self._changes.get, where={"at": {"$gte": at}}, include=["metadatas"],
                              limit=PAGE, offset=offset)
            found += [Change(rid, int(m["at"]), m["article_id"], m["op"]) for rid, m in zip(page["ids"], page["metadatas"])]
            if len(page["ids"]) < PAGE:
                return sorted(found, key=lambda c: (c.at, c.id))
            offset += PAGE

    def _log(self, article_ids: Sequence[str], *, op: str) -> list[tuple[str, int]]:
        """Append one change per article to the log; return the (id, time) entries written."""
        at = time.time_ns() // 1000
        entries = [(f"{at:017d}-{uuid.uuid4().hex[:12]}", at) for _ in article_ids]
        for first in range(0, len(entries), PAGE):
            batch = list(zip(entries, article_ids))[first:first + PAGE]
            self._call(self._changes.add, ids=[e[0] for e, _ in batch], embeddings=[[0.0] for _ in batch],
                       metadatas=[{"at": e[1], "article_id": a, "op": op} for e, a in batch])
        return entries

    def _write_through(self, rows: list[ChunkRow], *, articles: Sequence[str], entries: list[tuple[str, int]]) -> None:
        if self.lexical is not None and self.lexical.complete:
            self.lexical.replace(rows, articles=articles, changes=entries)

    def get_embeddings(self, chunk_ids: list[str]) -> dict[str, list[float]]:
        """Return the stored embeddings of the given chunks, by id."""
        result = self._call(self._chunks.get, ids=chunk_ids, include=["embeddings"])
        return dict(zip(result["ids"], result["embeddings"]))

    def get_sentences(self, addresses: list[str], *, starts: Mapping[str, Sequence[int]] | None = None
                      ) -> dict[str, list[tuple[SentenceNotes, list[float]]]]:
        """Return {paragraph address: its sentences' notes and vectors, in order} for the addresses
        ("article_id:n") whose sentences are stored. A paragraph whose sentence offsets are given in
        `starts` (as its article's record holds them) is read by id; the others by a metadata filter,
        which Chroma answers more slowly the more sentences it holds."""
        if not addresses:
            return {}
        starts = starts or {}
        wanted = list(dict.fromkeys(addresses))
        ids = [_sentence_id(address, start) for address in wanted for start in starts.get(address, ())]
        rest = [address for address in wanted if not starts.get(address)]
        queries = ([{"ids": ids}] if ids else []) + ([{"where": {"para": {"$in": rest}}}] if rest else [])
        rows: dict[str, list] = {}
        for query in queries:
            result = self._call(self._sentences.get, **query, include=["metadatas", "embeddings"])
            for meta, vector in zip(result["metadatas"], result["embeddings"]):
                if "notes" in meta:
                    rows.setdefault(meta["para"], []).append((SentenceNotes.from_json(meta["notes"]), vector))
        return {address: sorted(found, key=lambda row: row[0].start) for address, found in rows.items()}

    def counts(self) -> dict[str, int]:
        """Return articles, paragraphs and chunks held."""
        paragraphs = sum(int(meta.get("paragraphs", 0)) for _, meta in self._page(self._articles, ["metadatas"]))
        return {
            "articles": self._call(self._articles.count),
            "paragraphs": paragraphs,
            "chunks": self._call(self._chunks.count),
            "sentences": self._call(self._sentences.count),
        }

    # writes ----------------------------------------------------------------------------------
    def put_articles(self, writes: Sequence[ArticleWrite]) -> None:
        """Replace articles, their chunks and their sentences, a whole group in a few calls: what the
        store held for them goes first, the article records come last, so an interrupted write leaves
        old or missing hashes and the next ingest redoes those articles."""
        if not writes:
            return
        ids = [w.article.id for w in writes]
        self._call(self._chunks.delete, where={"article_id": {"$in": ids}})
        self._call(self._sentences.delete, where={"article_id": {"$in": ids}})
        nodes = [chunk_node(w.article, chunk, vector) for w in writes for chunk, vector in zip(w.chunks, w.embeddings)]
        for first in range(0, len(nodes), PAGE):
            self._call(self.vector_store.add, nodes[first:first + PAGE])
        rows = [(w.article.id, number, notes, vector) for w in writes
                for (number, notes), vector in zip(w.sentences, w.sentence_embeddings)]
        for first in range(0, len(rows), PAGE):
            batch = rows[first:first + PAGE]
            self._call(
                self._sentences.add,
                ids=[_sentence_id(f"{article_id}:{n}", notes.start) for article_id, n, notes, _ in batch],
                embeddings=[list(vector) for *_, vector in batch],
                metadatas=[{"article_id": article_id, "para": f"{article_id}:{n}", "paragraph": n,
                            "start": notes.start, "end": notes.end, "notes": notes.to_json()}
                           for article_id, n, notes, _ in batch],
            )
        entries = self._log(ids, op="put")  # before the article records: those mark the write as done
        for first in range(0, len(writes), PAGE):
            batch = writes[first:first + PAGE]
            self._call(
                self._articles.upsert,
                ids=[w.article.id for w in batch],
                embeddings=[list(w.title_embedding) for w in batch],
                documents=[json.dumps({"paragraphs": w.article.paragraphs, "sections": w.article.sections},
                                      ensure_ascii=False) for w in batch],
                metadatas=[_article_metadata(w.article, chunks=len(w.chunks), sentences=len(w.sentences))
                           | {"root": w.root, "nlp": w.nlp,
                              "starts": _starts_json(len(w.article.paragraphs), [(n, notes.start) for n, notes in w.sentences])}
                           for w in batch],
            )
        self._write_through([lexical_row(node) for node in nodes], articles=ids, entries=entries)

    def set_origin(self, article_ids: Sequence[str], *, root: str, sources: Sequence[str]) -> None:
        """Record the folder and file unchanged articles were ingested from (stores written before
        folders were recorded lack them), leaving everything else of their records as it is."""
        for first in range(0, len(article_ids), PAGE):
            self._call(self._articles.update, ids=list(article_ids[first:first + PAGE]),
                       metadatas=[{"root": root, "source": source} for source in sources[first:first + PAGE]])

    def record_sentence_starts(self, article_ids: Sequence[str]) -> None:
        """Record in each article's record where its stored sentences start, read from their ids
        (articles stored before the offsets were kept with them), leaving the rest of the record."""
        for first in range(0, len(article_ids), PAGE):
            batch = list(article_ids[first:first + PAGE])
            result = self._call(self._sentences.get, where={"article_id": {"$in": batch}}, include=[])
            found: dict[str, list[tuple[int, int]]] = {}
            for sentence_id in result["ids"]:  # "article_id:paragraph:start" (_sentence_id)
                article_id, number, start = sentence_id.rsplit(":", 2)
                found.setdefault(article_id, []).append((int(number), int(start)))
            records = self._call(self._articles.get, ids=batch, include=["metadatas"])
            paragraphs = {rid: int(meta.get("paragraphs", 0)) for rid, meta in zip(records["ids"], records["metadatas"])}
            held = [rid for rid in batch if rid in paragraphs]
            if held:
                self._call(self._articles.update, ids=held,
                           metadatas=[{"starts": _starts_json(paragraphs[rid], found.get(rid, []))} for rid in held])

    def delete_article(self, article_id: str) -> None:
        """Delete an article's chunks and sentences, then its record (logged first, so a follower
        never keeps chunks the store no longer has)."""
        entries = self._log([article_id], op="delete")
        self._call(self._chunks.delete, where={"article_id": article_id})
        self._call(self._sentences.delete, where={"article_id": article_id})
        self._call(self._articles.delete, ids=[article_id])
        self._write_through([], articles=[article_id], entries=entries)

    # helpers ---------------------------------------------------------------------------------
    def _page(self, collection, include: list[str]) -> Iterator[tuple]:
        offset = 0
        while True:
            result = self._call(collection.get, include=include, limit=PAGE, offset=offset)
            columns = [result[key] for key in include]
            yield from zip(result["ids"], *columns)
            if len(result["ids"]) < PAGE:
                return
            offset += PAGE

    @staticmethod
    def _call(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ConfigError, ArticleNotFound):
            raise
        except Exception as exc:
            raise StoreUnavailable(f"Chroma call failed: {_first_line(exc)}") from None


def open_store(settings: Settings) -> Store:
    """Return the store the settings name (embedded or server), with this machine's lexical index of it."""
    store = Store(open_client(settings), name=settings.collection, model=settings.embed_model)
    store.lexical = LexicalIndex(index_path(settings), source=store.fingerprint)
    return store


def chunk_node(article: Article, chunk: Chunk, embedding: list[float] | None = None) -> TextNode:
    """Return the LlamaIndex node stored for a chunk; only the title header joins the embedded text."""
    node = TextNode(
        id_=chunk.id,
        text=chunk.text,
        embedding=embedding,
        metadata={
            "article_id": article.id,
            "header": chunk_header(article.title),
            "title": article.title,
            "paragraph": chunk.paragraph,
            "start": chunk.start,
            "end": chunk.end,
            "outlet": article.outlet,
            "date": article.date,
            "date_num": _date_num(article.date),
        },
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=article.id)},
    )
    _mark_embed_keys(node)
    return node


def lexical_row(node: TextNode) -> ChunkRow:
    """Return a chunk's node as the lexical index holds it: BM25 reads the text that is embedded."""
    meta = node.metadata
    return ChunkRow(chunk_id=node.node_id, article_id=meta["article_id"], paragraph=int(meta["paragraph"]),
                    outlet=meta.get("outlet", ""), date=meta.get("date", ""), date_num=int(meta.get("date_num") or 0),
                    text=node.get_content(metadata_mode=MetadataMode.EMBED))


def _stored_node(meta: dict, document: str) -> TextNode:
    node = metadata_dict_to_node(meta, text=document)
    _mark_embed_keys(node)
    return node


def _mark_embed_keys(node: TextNode) -> None:
    keys = [k for k in node.metadata if k not in _EMBED_KEYS]
    node.excluded_embed_metadata_keys = keys
    node.excluded_llm_metadata_keys = list(node.metadata)
    node.metadata_template = "{value}"
    node.text_template = "{metadata_str}\n{content}"


def _date_num(iso: str) -> int:
    return int(iso.replace("-", "")) if iso else 0


def _article_metadata(article: Article, *, chunks: int, sentences: int) -> dict:
    return {
        "title": article.title,
        "outlet": article.outlet,
        "date": article.date,
        "date_num": _date_num(article.date),
        "url": article.url,
        "source": article.source,
        "hash": article.content_hash,
        "paragraphs": len(article.paragraphs),
        "chunks": chunks,
        "sentences": sentences,
    }


def _sentence_id(address: str, start: int) -> str:
    """Return a stored sentence's id: its paragraph address ("article_id:n") and where it starts."""
    return f"{address}:{start}"


def _starts_json(paragraphs: int, starts: Sequence[tuple[int, int]]) -> str:
    """Return the JSON list, per paragraph, of where its sentences start."""
    out: list[list[int]] = [[] for _ in range(paragraphs)]
    for number, start in starts:
        if 1 <= number <= paragraphs:
            out[number - 1].append(start)
    return json.dumps([sorted(own) for own in out], separators=(",", ":"))


def _article_from_record(article_id: str, meta: dict, document: str) -> Article:
    body = json.loads(document)
    return Article(
        id=article_id,
        title=meta.get("title", ""),
        paragraphs=tuple(body["paragraphs"]),
        outlet=meta.get("outlet", ""),
        date=meta.get("date", ""),
        url=meta.get("url", ""),
        source=meta.get("source", ""),
        sections=tuple(body.get("sections", ())),
        sentence_starts=tuple(tuple(own) for own in json.loads(meta["starts"])) if "starts" in meta else (),
    )
