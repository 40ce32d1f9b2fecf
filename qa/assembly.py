"""The collaborators of one set of settings, built in one place and each only when first used: the
store, the embedding model, the language pipeline and the answering pipeline over them. The CLI's
App, `qa.open_engine` and `qa.ingest_path` all build through an Assembly, so `qa status` never
loads a model and every entry point answers with the same stages."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.config import Settings

if TYPE_CHECKING:  # each of these imports chromadb, torch or spacy: only when built
    from qa.answer import Pipeline
    from qa.errors import UnreadableFile
    from qa.ingest import IngestReport
    from qa.nlp import Language
    from qa.retrieve import Retriever
    from qa.store import Store


class Assembly:
    """Builds the store, the embedder, the language pipeline and the answering pipeline on first use;
    any of the first three may be handed in ready-made (a test's shared model, a server's store)."""

    def __init__(self, settings: Settings, *, store: Store | None = None, embedder: Any = None,
                 language: Language | None = None) -> None:
        self.settings = settings
        # cached_property reads the instance dict first: what is handed in is never built
        for name, given in (("store", store), ("embedder", embedder), ("language", language)):
            if given is not None:
                self.__dict__[name] = given

    @cached_property
    def store(self) -> Store:
        """Return the store the settings name (embedded, or a Chroma server)."""
        from qa.store import open_store

        return open_store(self.settings)

    @cached_property
    def embedder(self) -> Any:
        """Return the embedding model (local, or an OpenAI-compatible endpoint)."""
        from qa import embedding  # looked up at call time, so tests can hand out the session's model

        return embedding.build_embedder(self.settings)

    @cached_property
    def language(self) -> Language:
        """Return the spaCy pipeline QA_NLP_MODEL names (it loads on first parse)."""
        from qa.nlp import Language

        return Language(self.settings.nlp_model, processes=self.settings.nlp_processes)

    @cached_property
    def retriever(self) -> Retriever:
        """Return the hybrid retriever over the store (builds the BM25 index)."""
        from qa.retrieve import build_retriever

        return build_retriever(self.settings, store=self.store, embedder=self.embedder)

    @cached_property
    def pipeline(self) -> Pipeline:
        """Return the answering stages over the retriever."""
        from qa.answer import build_pipeline

        return build_pipeline(self.settings, retriever=self.retriever, language=self.language)

    def ingest(self, root: Path, *, prune: bool = False, progress: Callable[[int], object] | None = None,
               skipped: Callable[[UnreadableFile], None] | None = None, shard: str = "") -> IngestReport:
        """Return what ingesting the folder or file `root` into the store did (QA_CHUNK_TOKENS and
        QA_MAX_FILE_MB apply); `shard` ("i/n") takes only that shard of its files (qa.shard)."""
        from qa.ingest import check_shard, ingest_corpus
        from qa.shard import parse_shard

        # a bad spec fails before the store or a model is opened
        part = check_shard(parse_shard(shard), prune=prune) if shard else None
        return ingest_corpus(Path(root), store=self.store, embedder=self.embedder, language=self.language,
                             chunk_tokens=self.settings.chunk_tokens, prune=prune,
                             max_bytes=self.settings.max_file_bytes, progress=progress, skipped=skipped, shard=part)
