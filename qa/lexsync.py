"""Keeps a machine's lexical index (qa.lexical) in step with its store: built from the store once,
when the file is missing or stale (another version, another tokenisation, a collection made anew),
then following the store's change log, so a process notices another's writes, on this machine or
any other, with one count call and reads only the articles that changed."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.lexical import LexicalIndex
from qa.store import Change, Store

# Changes are read again this far back (µs) and skipped when seen: writers' clocks differ, and a write
# stamped earlier may land after one stamped later.
MARGIN_US = 120_000_000
REBUILD_PAGE = 2000  # chunks written per transaction while rebuilding


def ensure_index(store: Store) -> tuple[LexicalIndex, bool]:
    """Return the store's lexical index, complete, and whether it had to be built from the store;
    concurrent processes wait on a file lock for one build."""
    index = store.lexical
    if index is None:
        raise ValueError("the store has no lexical index attached (open it with qa.store.open_store)")
    if index.complete:
        return index, False
    with _locked(index.path.with_suffix(".lock")):
        if index.complete:  # another process built it while this one waited
            return index, False
        rebuild(index, store)
    return index, True


def rebuild(index: LexicalIndex, store: Store) -> None:
    """Fill the index with every chunk the store holds; changes made meanwhile are applied after it,
    from the change log (the cursor is set to before the first page was read)."""
    index.reset(cursor=time.time_ns() // 1000 - MARGIN_US)
    page = []
    for row in store.iter_chunk_rows():
        page.append(row)
        if len(page) >= REBUILD_PAGE:
            index.add(page)
            page = []
    index.add(page)
    index.mark_complete()


class Follower:
    """One process's view of the change log: what it has seen, so it notices any write with one call."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.index, self.rebuilt = ensure_index(store)
        self._count: int | None = None
        self._seen: dict[str, int] = {}  # change id -> time, within the margin
        self.catch_up()

    def pending(self) -> bool:
        """Return True when the change log has grown since this process last read it."""
        return self.store.change_count() != self._count

    def catch_up(self) -> set[str]:
        """Apply the changes the index lacks; return the ids of the articles changed since this
        process last looked (written by it, by another process on this machine, or elsewhere)."""
        count = self.store.change_count()
        if count == self._count:
            return set()
        since = min([self.index.cursor, *self._seen.values()]) - MARGIN_US
        fresh = [c for c in self.store.changes_since(since) if c.id not in self._seen]
        missing = set(c.id for c in fresh) - self.index.applied([c.id for c in fresh])
        self._apply([c for c in fresh if c.id in missing])
        self._seen |= {c.id: c.at for c in fresh}
        newest = max(self._seen.values(), default=0)
        self._seen = {cid: at for cid, at in self._seen.items() if at >= newest - 2 * MARGIN_US}
        self._count = count
        return {c.article_id for c in fresh}

    def _apply(self, changes: list[Change]) -> None:
        """Replace the changed articles' chunks by what the store holds now; an article whose latest
        change removed it is dropped without asking (its chunks may not be gone yet)."""
        if not changes:
            return
        latest = {c.article_id: c for c in changes}  # oldest first, so the last one wins
        kept = [a for a, c in latest.items() if c.op != "delete"]
        rows = self.store.chunk_rows(kept) if kept else []
        self.index.replace(rows, articles=list(latest), changes=[(c.id, c.at) for c in changes])


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
