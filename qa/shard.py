"""Which part of a corpus one of several ingest processes takes: `--shard i/n`. Pure.

Shards are numbered from 1 to n. A file belongs to shard 1 + (h mod n), h being the first 8 bytes of
the SHA-256 of its path relative to the folder ingested (with '/' between folders), so every machine
splits one folder the same way whatever its own path to it, and the n shards together hold each file
exactly once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from qa.errors import BadRequest

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
MAX_SHARDS = 10_000


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based): the files of a folder whose path hashes to it."""

    index: int
    count: int

    def holds(self, source: str) -> bool:
        """Return whether the file at `source` (relative to the folder ingested) is this shard's."""
        return shard_of(source, count=self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(source: str, *, count: int) -> int:
    """Return the shard (1 to `count`) the file at `source` (relative to the folder ingested) belongs to."""
    digest = hashlib.sha256(source.replace("\\", "/").encode("utf-8")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


def parse_shard(spec: str) -> Shard:
    """Return the Shard that `spec` ("i/n", 1 <= i <= n) names; raise BadRequest saying what is wrong."""
    match = _SPEC.fullmatch(spec)
    if not match:
        raise BadRequest(f"shard {spec!r} is not i/n (e.g. 1/2 and 2/2 for two processes)")
    index, count = int(match[1]), int(match[2])
    if not 1 <= count <= MAX_SHARDS:
        raise BadRequest(f"shard {spec!r}: the number of shards must be 1 to {MAX_SHARDS}")
    if not 1 <= index <= count:
        raise BadRequest(f"shard {spec!r}: shards are numbered 1 to {count}")
    return Shard(index, count)
