"""Running `qa` in-process for tests: the click runner, the environment naming a store, and one model
load per module (every invocation reuses the session's real model)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

import qa.embedding
from qa.cli import cli
from qa.config import Settings

Env = dict[str, str]


def run(args: list[str], env: Env, *, input: str | None = None) -> Result:
    """Return the result of `qa ARGS` with `env` on top of the environment."""
    return CliRunner().invoke(cli, args, env=env, input=input, catch_exceptions=False)


def env_for(settings: Settings) -> Env:
    """Return the QA_* variables that make the CLI use the store of `settings`."""
    env = {"QA_DATA_DIR": str(settings.data_dir), "QA_COLLECTION": settings.collection}
    if settings.chroma_url:
        env |= {"QA_CHROMA_URL": settings.chroma_url, "QA_CHROMA_TENANT": settings.chroma_tenant,
                "QA_CHROMA_DATABASE": settings.chroma_database}
    return env


def reuse_model(embedder) -> Iterator[None]:
    """Patch qa.embedding.build_embedder to hand out `embedder` for the default model (a fixture body)."""
    real = qa.embedding.build_embedder

    def build(settings: Settings):
        if settings.embed_model == embedder.model_name and not settings.embed_base_url:
            return embedder
        return real(settings)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(qa.embedding, "build_embedder", build)
        yield
