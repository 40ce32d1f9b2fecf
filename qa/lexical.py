"""The lexical index: BM25 over every stored chunk, in one SQLite file with an FTS5 table, changed
article by article as the store changes and never rebuilt at start. Every process on a machine
shares the file (WAL: readers never wait for the writer, and see each commit at their next query).

Scores are Lucene's BM25 (k1 1.5, b 0.75, idf ln(1 + (N - df + 0.5) / (df + 0.5))) over qa.terms'
stemmed content terms, as bm25s computed them in memory before: FTS5 finds the candidates with its
own bm25() (k1 1.2 and a slightly different idf, so its order is nearly the same), and the best
CANDIDATE_POOL of them are scored exactly from the terms stored with each chunk.

A derived artefact, always safe to delete: its `meta` table records INDEX_VERSION, the fingerprint of
the tokenisation (TERMS_TAG) and the store it mirrors (`source`, the chunks collection's id); qa.lexsync
rebuilds it from the store when any of them differs, and follows the store's change log after that.
"""

from __future__ import annotations

import hashlib
import math
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import Stemmer

from qa.config import Settings
from qa.terms import STOPWORDS, TOKEN, terms

INDEX_VERSION = 1
K1, B = 1.5, 0.75  # bm25s' defaults, which the in-memory index used
CANDIDATE_POOL = 200  # FTS5 candidates scored exactly per query
TERMS_TAG = hashlib.sha256(
    "\n".join([TOKEN, " ".join(sorted(STOPWORDS)), "snowball-english", Stemmer.version()]).encode()).hexdigest()[:16]
BUSY_SECONDS = 60.0  # a writer waits this long for another process's write to finish

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(
    rowid INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, article_id TEXT NOT NULL,
    paragraph INTEGER NOT NULL, outlet TEXT NOT NULL, date TEXT NOT NULL, date_num INTEGER NOT NULL,
    length INTEGER NOT NULL, terms TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    terms, content='chunks', content_rowid='rowid', tokenize="unicode61 remove_diacritics 0 tokenchars '_'");
CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(fts, 'row');
CREATE TABLE IF NOT EXISTS applied(change_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
"""


def index_path(settings: Settings) -> Path:
    """Return where this machine keeps the lexical index of the store the settings name: beside the
    embedded store, or for a server store in QA_DATA_DIR keyed by the server's URL, its tenant and
    database (when not the defaults) and the collection."""
    folder = settings.data_dir / "lexical"
    if not settings.chroma_url:
        return folder / f"{settings.collection}.sqlite"
    where = settings.chroma_url.split("://", 1)[-1]
    if settings.names_database:
        where += f"-{settings.chroma_tenant}-{settings.chroma_database}"
    server = re.sub(r"[^A-Za-z0-9.]+", "-", where).strip("-")
    return folder / f"{server}-{settings.collection}.sqlite"


@dataclass(frozen=True)
class ChunkRow:
    """One chunk as the index holds it: its address, the fields filters read, and its indexed text
    (the text BM25 reads: the title header and the chunk, as embedded)."""

    chunk_id: str
    article_id: str
    paragraph: int
    outlet: str
    date: str
    date_num: int
    text: str


@dataclass(frozen=True)
class Scope:
    """What a lexical query may return: only these articles, this outlet, dates within a range
    (YYYYMMDD numbers, 0 for no bound; an upper bound leaves undated articles out)."""

    articles: tuple[str, ...] = ()
    outlet: str = ""
    date_from: int = 0
    date_to: int = 0

    def sql(self) -> tuple[str, list]:
        """Return the WHERE clauses on `c` (the chunks table) and their parameters."""
        clauses, params = [], []
        if self.articles:
            clauses.append(f"c.article_id IN ({','.join('?' * len(self.articles))})")
            params += list(self.articles)
        if self.outlet:
            clauses.append("c.outlet = ?")
            params.append(self.outlet)
        if self.date_from:
            clauses.append("c.date_num >= ?")
            params.append(self.date_from)
        if self.date_to:
            clauses.append("c.date_num <= ? AND c.date_num > 0")
            params.append(self.date_to)
        return "".join(f" AND {c}" for c in clauses), params


class LexicalIndex:
    """The BM25 index file of one store; one connection per thread."""

    def __init__(self, path: Path, *, source: str) -> None:
        self.path = Path(path)
        self.source = source
        self._local = threading.local()
        self._cache: dict = {"generation": None}
        self._cache_lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db().executescript(SCHEMA)  # IF NOT EXISTS throughout: any process may be first

    # state -------------------------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        """Return True when the file holds every chunk of its store as of its cursor, indexed by this
        version with this tokenisation: it may be followed, and written through."""
        meta = self._meta()
        return (meta.get("version") == str(INDEX_VERSION) and meta.get("terms") == TERMS_TAG
                and meta.get("source") == self.source and meta.get("complete") == "1")

    @property
    def cursor(self) -> int:
        """Return the time (µs) of the latest store change applied."""
        return int(self._meta().get("cursor", "0"))

    def generation(self) -> int:
        """Return a number that changes with every write to the file (by any process)."""
        row = self._db().execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    @property
    def size(self) -> int:
        """Return the number of chunks indexed."""
        return self._stats()["docs"]

    def applied(self, change_ids: Sequence[str]) -> set[str]:
        """Return those of `change_ids` already applied to the file."""
        found: set[str] = set()
        for first in range(0, len(change_ids), 500):
            batch = list(change_ids[first:first + 500])
            found |= {r[0] for r in self._db().execute(
                f"SELECT change_id FROM applied WHERE change_id IN ({','.join('?' * len(batch))})", batch)}
        return found

    # writes ------------------------------------------------------------------------------------
    def reset(self, *, cursor: int) -> None:
        """Empty the file and mark it as mirroring `source` from `cursor` on, not yet complete."""
        with self._write() as db:
            for table in ("chunks", "applied", "meta"):
                db.execute(f"DELETE FROM {table}")
            db.execute("INSERT INTO fts(fts) VALUES('delete-all')")
            self._set(db, version=INDEX_VERSION, terms=TERMS_TAG, source=self.source, complete=0, cursor=cursor)

    def mark_complete(self) -> None:
        """Record that every chunk of the store is in the file (a rebuild has finished)."""
        with self._write() as db:
            self._set(db, complete=1)
            db.execute("INSERT INTO fts(fts) VALUES('optimize')")

    def replace(self, rows: Iterable[ChunkRow], *, articles: Iterable[str],
                changes: Sequence[tuple[str, int]] = ()) -> None:
        """Replace every chunk of `articles` by `rows` and record `changes` ((id, time µs)) as applied,
        in one transaction."""
        rows = list(rows)
        with self._write() as db:
            self._drop(db, list(dict.fromkeys([*articles, *(r.article_id for r in rows)])))
            self._insert(db, rows)
            self._record(db, changes)

    def add(self, rows: Iterable[ChunkRow]) -> None:
        """Add chunks not indexed yet (a rebuild's pages); one already there is left as it is."""
        with self._write() as db:
            self._insert(db, list(rows))
            self._record(db, ())

    @staticmethod
    def _insert(db: sqlite3.Connection, rows: list[ChunkRow]) -> None:
        for row in rows:
            stems = " ".join(terms(row.text))
            cursor = db.execute(
                "INSERT OR IGNORE INTO chunks(chunk_id, article_id, paragraph, outlet, date, date_num, length, terms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row.chunk_id, row.article_id, row.paragraph, row.outlet, row.date, row.date_num,
                 stems.count(" ") + 1 if stems else 0, stems))
            if cursor.rowcount == 1:
                db.execute("INSERT INTO fts(rowid, terms) VALUES (?, ?)", (cursor.lastrowid, stems))

    def _drop(self, db: sqlite3.Connection, article_ids: list[str]) -> None:
        for first in range(0, len(article_ids), 500):
            batch = article_ids[first:first + 500]
            marks = ",".join("?" * len(batch))
            old = db.execute(f"SELECT rowid, terms FROM chunks WHERE article_id IN ({marks})", batch).fetchall()
            db.executemany("INSERT INTO fts(fts, rowid, terms) VALUES('delete', ?, ?)", old)
            db.execute(f"DELETE FROM chunks WHERE article_id IN ({marks})", batch)

    def _record(self, db: sqlite3.Connection, changes: Sequence[tuple[str, int]]) -> None:
        db.executemany("INSERT OR IGNORE INTO applied(change_id, at) VALUES (?, ?)", changes)
        latest = max((at for _, at in changes), default=0)
        self._set(db, generation=time.time_ns(), cursor=max(latest, int(self._meta(db).get("cursor", "0"))))

    # reads -------------------------------------------------------------------------------------
    def top(self, query_terms: Sequence[str], *, k: int, scope: Scope = Scope()) -> dict[str, float]:
        """Return {chunk id: BM25 score} of the `k` best chunks within `scope` holding a query term."""
        wanted = [t for t in dict.fromkeys(query_terms) if self.doc_freq(t)]
        if not wanted:
            return {}
        where, params = scope.sql()
        match = " OR ".join(f'"{t}"' for t in wanted)
        rows = self._db().execute(
            "SELECT c.chunk_id, c.terms, c.length FROM fts JOIN chunks c ON c.rowid = fts.rowid "
            f"WHERE fts MATCH ?{where} ORDER BY fts.rank LIMIT ?", [match, *params, max(k, CANDIDATE_POOL)]).fetchall()
        scored = self._score(query_terms, rows)
        return dict(sorted(scored.items(), key=lambda item: -item[1])[:k])

    def scores(self, query_terms: Sequence[str], chunk_ids: Sequence[str]) -> dict[str, float]:
        """Return {chunk id: BM25 score} for the given chunks (0 for one holding no query term)."""
        rows = []
        for first in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[first:first + 500])
            rows += self._db().execute(f"SELECT chunk_id, terms, length FROM chunks WHERE chunk_id IN "
                                       f"({','.join('?' * len(batch))})", batch).fetchall()
        return self._score(query_terms, rows)

    def _score(self, query_terms: Sequence[str], rows: list[tuple[str, str, int]]) -> dict[str, float]:
        stats = self._stats()
        weights = {t: self.idf(t) for t in query_terms}
        out = {}
        for chunk_id, text, length in rows:
            counts = Counter(text.split())
            norm = K1 * (1 - B + B * length / stats["avgdl"])
            out[chunk_id] = sum(weights[t] * counts[t] / (counts[t] + norm) for t in query_terms if counts[t])
        return out

    def doc_freq(self, term: str) -> int:
        """Return how many chunks hold `term`."""
        cache = self._fresh_cache()
        if term not in cache["df"]:
            row = self._db().execute("SELECT doc FROM vocab WHERE term = ?", (term,)).fetchone()
            cache["df"][term] = int(row[0]) if row else 0
        return cache["df"][term]

    def idf(self, term: str) -> float:
        """Return the BM25 inverse document frequency of a stemmed term (highest when unseen)."""
        docs = self._stats()["docs"]
        return math.log(1 + (docs - self.doc_freq(term) + 0.5) / (self.doc_freq(term) + 0.5))

    def locate(self, chunk_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        """Return {chunk id: (article id, paragraph)} of the given chunks that are indexed."""
        out = {}
        for first in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[first:first + 500])
            out |= {cid: (a, int(p)) for cid, a, p in self._db().execute(
                f"SELECT chunk_id, article_id, paragraph FROM chunks WHERE chunk_id IN ({','.join('?' * len(batch))})",
                batch)}
        return out

    def holds_article(self, article_id: str) -> bool:
        """Return True when some chunk of `article_id` is indexed."""
        return self._db().execute("SELECT 1 FROM chunks WHERE article_id = ? LIMIT 1", (article_id,)).fetchone() is not None

    def outlets(self) -> list[str]:
        """Return the outlets named by indexed articles, sorted."""
        return self._stats()["outlets"]

    def dates(self) -> tuple[list[str], int]:
        """Return the dates of the dated articles (one each, sorted) and the number of undated ones."""
        return self._stats()["dated"], self._stats()["undated"]

    # plumbing ----------------------------------------------------------------------------------
    def _stats(self) -> dict:
        cache = self._fresh_cache()
        if "docs" not in cache:
            db = self._db()
            docs, total = db.execute("SELECT count(*), coalesce(sum(length), 0) FROM chunks").fetchone()
            dates = [d for (d,) in db.execute("SELECT max(date) FROM chunks GROUP BY article_id")]
            cache.update(docs=docs, avgdl=(total / docs) if docs else 1.0,
                         outlets=[o for (o,) in db.execute("SELECT DISTINCT outlet FROM chunks WHERE outlet != '' "
                                                           "ORDER BY outlet")],
                         dated=sorted(d for d in dates if d), undated=sum(1 for d in dates if not d))
        return cache

    def _fresh_cache(self) -> dict:
        generation = self.generation()
        with self._cache_lock:
            if self._cache["generation"] != generation:
                self._cache = {"generation": generation, "df": {}}
            return self._cache

    def _meta(self, db: sqlite3.Connection | None = None) -> dict[str, str]:
        return dict((db or self._db()).execute("SELECT key, value FROM meta").fetchall())

    @staticmethod
    def _set(db: sqlite3.Connection, **values: object) -> None:
        db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                       [(key, str(value)) for key, value in values.items()])

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def _write(self) -> _Transaction:
        return _Transaction(self._db())


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): one writer at a time, across processes."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, traceback) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")
