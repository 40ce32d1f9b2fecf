"""qa: questions over a news archive, answered with citations of article and paragraph.

The public Python surface, kept stable:

    from qa import ingest_path, open_engine
    ingest_path("corpus")                      # once: the folder (or file) into the QA_* store
    engine = open_engine()                     # a LlamaIndex query engine (qa.engine.CitedQueryEngine)
    response = engine.query("Who is Matthew Miller?")
    chat = engine.as_chat_engine()             # a LlamaIndex chat engine; follow-ups are resolved

Settings come from QA_* variables (and .env) as everywhere; keyword arguments override them
(`open_engine(data_dir="/tmp/news", top_k=3)`). `Answer` (with `Citation`, `ShortAnswer`, `Passage`,
`Flag`) is the contract `qa ask --json`, the HTTP API, `qa eval` and each response's metadata share.
Importing qa loads no model and no database client; open_engine and ingest_path do, when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.models import Answer, Citation, Flag, Passage, ShortAnswer

if TYPE_CHECKING:
    from qa.engine import CitedQueryEngine
    from qa.ingest import IngestReport

__all__ = ["Answer", "Citation", "Flag", "Passage", "ShortAnswer", "ingest_path", "open_engine"]


def open_engine(*, streaming: bool = False, **overrides: Any) -> CitedQueryEngine:
    """Return the LlamaIndex query engine over the store the QA_* settings (with `overrides` on top)
    name; `streaming=True` makes query() return a StreamingResponse."""
    from qa.engine import open_engine as build

    return build(streaming=streaming, **overrides)


def ingest_path(path: str | Path, *, prune: bool = False, **overrides: Any) -> IngestReport:
    """Return what ingesting the folder or file `path` into the store did, as `qa ingest PATH [--prune]`."""
    from qa.assembly import Assembly
    from qa.config import get_settings

    return Assembly(get_settings(**overrides)).ingest(Path(path), prune=prune)
