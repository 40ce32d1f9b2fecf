"""The bundled model under ONNX Runtime: the same vectors as the torch model, one pass for a text and
its sentences, an export cached once and rebuilt when its source or exporter changes, and a query path
that imports neither torch nor sentence-transformers."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import qa.onnx_export
from qa.config import BUNDLED_INT8, BUNDLED_MODEL, get_settings
from qa.corpus import load_corpus
from qa.embedding import LocalEmbedding, OnnxEmbedding, onnx_embedder, resolve_model_path
from qa.onnx_export import cached_onnx, is_fresh, read_json, slug, source_digest
from qa.sentences import split_sentences

SOURCE = Path(resolve_model_path(BUNDLED_MODEL))
HEAVY = ("torch", "sentence_transformers", "transformers", "sklearn", "openai")
NON_ASCII = (
    "Café au lait, naïve façade, Zürich's Größe and São Paulo's coração.",
    "Łódź, Kraków and Gdańsk voted; Evika Siliņa spoke in Rīga.",
    "Москва заявила, что переговоры продолжатся в понедельник.",
    "東京は日本の首都で、人口は約1400万人です。",
    "北京时间周三上午，国务院召开常务会议。",
    "서울에서 열린 회의에 20개국 정상이 참석했다.",
    "القاهرة أعلنت عن خطة جديدة للنقل العام.",
    "Ελλάδα και Κύπρος υπέγραψαν νέα συμφωνία.",
    "The CEO 🤝 the union — “a deal,” she said… 100 % done!",
    "Ṭhe dïäcrïtïcs ŏf ẗhis šentence ǎre ṁany.",
)


@pytest.fixture(scope="module")
def torch_model() -> LocalEmbedding:
    """Return the bundled model on sentence-transformers and torch, the reference."""
    return LocalEmbedding(BUNDLED_MODEL)


def varied_texts() -> list[str]:
    """Return a few hundred texts: sentences, paragraphs, prefixes, questions, non-ASCII, and texts
    past the 256-piece window."""
    articles, _ = load_corpus(Path(__file__).resolve().parent.parent / "corpus")
    paragraphs = [p for a in articles for p in a.paragraphs]
    sentences = [p[a:b] for p in paragraphs for a, b in split_sentences(p)]
    words = " ".join(paragraphs).split()
    texts = [*paragraphs, *sentences, *(a.title for a in articles), *NON_ASCII]
    texts += [" ".join(words[i:i + n]) for n in (1, 2, 5, 12, 40, 90) for i in range(0, 700, 23)]
    texts += [s.upper() for s in sentences[:20]] + [f"Who said that {s[:60].lower()}?" for s in sentences[:40]]
    texts += [" ".join((words * 2)[i:i + 300]) for i in range(0, 1200, 97)]  # cut at 256 pieces
    texts += [" ".join(NON_ASCII) * 4, "a", "?", "   spaced   out   "]
    return texts


def cosines(a: list[list[float]], b: list[list[float]]) -> np.ndarray:
    return np.sum(np.asarray(a) * np.asarray(b), axis=1)


def test_onnx_vectors_match_the_torch_model_within_1e4_cosine(embedder, torch_model) -> None:
    texts = varied_texts()
    assert len(texts) >= 300 and sum(embedder.count_pieces(t) > embedder.window for t in texts) >= 10
    agreement = cosines(embedder.get_text_embedding_batch(texts), torch_model.get_text_embedding_batch(texts))
    assert agreement.min() >= 1 - 1e-4, texts[int(agreement.argmin())]
    query = "Who is Matthew Miller?"
    assert np.dot(embedder.get_query_embedding(query), torch_model.get_query_embedding(query)) >= 1 - 1e-4


def test_onnx_model_counts_word_pieces_and_window_as_the_torch_model(embedder, torch_model) -> None:
    assert isinstance(embedder, OnnxEmbedding) and embedder.window == torch_model.window == 256
    for text in varied_texts()[::7]:
        assert embedder.count_pieces(text) == torch_model.count_pieces(text), text


def test_spans_are_pooled_from_the_texts_own_pass(embedder) -> None:
    text = "The council met on Monday. It approved the budget for 2025 after a long debate."
    spans = split_sentences(text)
    vectors, pooled = embedder.embed_with_spans([text, "Second text."], [spans, []])
    assert cosines(vectors, embedder.get_text_embedding_batch([text, "Second text."])).min() >= 1 - 1e-6
    assert len(pooled[0]) == len(spans) and pooled[1] == []
    assert np.allclose(np.linalg.norm(pooled[0], axis=1), 1.0, atol=1e-5)
    alone = embedder.get_text_embedding_batch([text[a:b] for a, b in spans])
    # pooled in context, not embedded alone: close to its own sentence, nearer it than to the other one
    own, other = cosines(pooled[0], alone), cosines(pooled[0], alone[::-1])
    assert (own > 0.6).all() and (own > other).all()


def test_spans_past_the_window_are_embedded_on_their_own(embedder) -> None:
    text = " ".join(["The mayor spoke about the new bridge and the old harbour."] * 40)
    tail = (len(text) - 58, len(text))
    _, pooled = embedder.embed_with_spans([text], [[(0, 58), tail]])
    alone = embedder.get_text_embedding_batch([text[tail[0]:tail[1]]])
    assert np.dot(pooled[0][1], alone[0]) >= 1 - 1e-6 and np.dot(pooled[0][0], alone[0]) < 1 - 1e-3


@pytest.fixture
def cache(tmp_path: Path, embedder) -> Path:
    """Return a private copy of the session's model cache (export, manifest and source stamps)."""
    shared = get_settings().model_cache
    for path in shared.glob(f"{slug(BUNDLED_MODEL)}.*"):
        if path.suffix != ".lock":
            shutil.copy2(path, tmp_path / path.name)
    return tmp_path


def exports(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("exporting ")]


def test_fresh_export_is_used_without_exporting_again(cache: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="qa.embedding")
    before = (cache / "all-MiniLM-L6-v2.onnx").stat().st_mtime_ns
    path = cached_onnx(SOURCE, cache_dir=cache, name=BUNDLED_MODEL)
    assert path.stat().st_mtime_ns == before and exports(caplog) == []


def test_export_is_rebuilt_when_the_manifest_names_another_source_hash(cache: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="qa.embedding")
    manifest = cache / "all-MiniLM-L6-v2.json"
    manifest.write_text(json.dumps(read_json(manifest) | {"source_sha256": "0" * 64}), encoding="utf-8")
    digest = source_digest(SOURCE, stamps=cache / "all-MiniLM-L6-v2.source.json")
    assert not is_fresh(cache / "all-MiniLM-L6-v2.onnx", digest=digest)
    cached_onnx(SOURCE, cache_dir=cache, name=BUNDLED_MODEL)
    assert exports(caplog) == ["exporting all-MiniLM-L6-v2 to ONNX once (about 30 s)…"]
    assert read_json(manifest)["source_sha256"] == digest and is_fresh(cache / "all-MiniLM-L6-v2.onnx", digest=digest)
    assert sorted(p.name for p in cache.iterdir() if ".tmp" in p.name) == []


def test_export_is_stale_when_the_exporter_version_changes(cache: Path, monkeypatch) -> None:
    digest = source_digest(SOURCE, stamps=cache / "all-MiniLM-L6-v2.source.json")
    assert is_fresh(cache / "all-MiniLM-L6-v2.onnx", digest=digest)
    monkeypatch.setattr(qa.onnx_export, "EXPORTER", "qa.onnx_export/999")
    assert not is_fresh(cache / "all-MiniLM-L6-v2.onnx", digest=digest)


def test_corrupt_cached_export_is_exported_again(cache: Path, caplog, embedder) -> None:
    caplog.set_level(logging.INFO, logger="qa.embedding")
    path = cache / "all-MiniLM-L6-v2.onnx"
    path.write_bytes(b"\0garbage" * (path.stat().st_size // 8) + b"\0" * (path.stat().st_size % 8))  # same size
    model = onnx_embedder(BUNDLED_MODEL, cache_dir=cache)
    assert len(exports(caplog)) == 1 and any("exporting it again" in r.getMessage() for r in caplog.records)
    texts = ["The council approved the budget.", "Who is Matthew Miller?"]
    assert cosines(model.get_text_embedding_batch(texts), embedder.get_text_embedding_batch(texts)).min() >= 1 - 1e-6


def test_cut_short_export_is_stale(cache: Path) -> None:
    path = cache / "all-MiniLM-L6-v2.onnx"
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    assert not is_fresh(path, digest=source_digest(SOURCE, stamps=cache / "all-MiniLM-L6-v2.source.json"))


def test_concurrent_exports_into_one_cache_export_once(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="qa.embedding")
    paths, errors = [], []

    def export() -> None:
        try:
            paths.append(cached_onnx(SOURCE, cache_dir=tmp_path, name=BUNDLED_MODEL))
        except Exception as exc:  # noqa: BLE001 -- reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=export) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(paths)) == 1 and len(exports(caplog)) == 1
    model = OnnxEmbedding(BUNDLED_MODEL, model_path=paths[0], source=SOURCE)
    assert len(model.get_query_embedding("a question")) == 384


def test_source_digest_changes_with_a_file_and_reuses_its_stamps(tmp_path: Path) -> None:
    source, stamps = tmp_path / "model", tmp_path / "stamps.json"
    source.mkdir()
    (source / "weights.bin").write_bytes(b"1234")
    first = source_digest(source, stamps=stamps)
    assert source_digest(source, stamps=stamps) == first and read_json(stamps)["sha256"] == first
    (source / "weights.bin").write_bytes(b"1235")
    os.utime(source / "weights.bin", ns=(1, 1))
    assert source_digest(source, stamps=stamps) != first


def imported_heavy(code: str, settings, *, stdin: str = "") -> tuple[subprocess.CompletedProcess, list[str]]:
    """Return the result of running `code` in a fresh interpreter over the store of `settings`, and the
    HEAVY modules it imported by the end."""
    script = (f"import json, sys\ntry:\n    {code}\nfinally:\n"
              f"    print('\\n' + json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))")
    env = {**os.environ, "QA_DATA_DIR": str(settings.data_dir), "QA_COLLECTION": settings.collection}
    result = subprocess.run([sys.executable, "-c", script], env=env, input=stdin, capture_output=True, text=True,
                            timeout=300, cwd=settings.data_dir.parent)
    assert result.returncode == 0, result.stderr
    return result, json.loads(result.stdout.splitlines()[-1])


CLI = "from qa.cli import cli; cli({args!r}, standalone_mode=False)"
# what `qa serve` runs before it listens: the app, then (in its build thread) the store, model and index
SERVE = ("from qa.api import create_app; from qa.api.runtime import build_components; from qa.config import "
         "get_settings; create_app(get_settings()); build_components(get_settings()).retriever.retrieve_hits('x', k=1)")


@pytest.mark.parametrize("args", [["status"], ["show", "us-angry-with-macron:1"], ["ask", "Who is Matthew Miller?"],
                                  ["chat"]])
def test_query_commands_import_neither_torch_nor_sentence_transformers(args, ingested) -> None:
    result, heavy = imported_heavy(CLI.format(args=args), ingested.settings, stdin="Who is Matthew Miller?\n")
    assert heavy == []
    if args[0] in ("ask", "chat"):
        assert "Matthew Miller" in result.stdout
        assert sorted(result.stderr.splitlines()) == ["loading the embedding model…", "loading the language model…"]


def test_server_start_imports_neither_torch_nor_sentence_transformers(ingested) -> None:
    assert imported_heavy(SERVE, ingested.settings)[1] == []


def test_the_int8_model_is_the_bundled_weights_quantized_once_close_to_the_float_one(
        embedder, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="qa.embedding.export")
    int8 = onnx_embedder(BUNDLED_INT8, cache_dir=tmp_path)
    again = onnx_embedder(BUNDLED_INT8, cache_dir=tmp_path)

    assert exports(caplog) == ["exporting all-MiniLM-L6-v2-int8 to ONNX once (about 30 s)…"]  # once
    texts = varied_texts()
    agreement = cosines(int8.get_text_embedding_batch(texts), embedder.get_text_embedding_batch(texts))
    assert agreement.mean() > 0.93 and agreement.min() > 0.8  # close, not equal: bench/int8.py measures recall
    assert np.allclose(again.get_text_embedding_batch(texts[:3]), int8.get_text_embedding_batch(texts[:3]), atol=1e-6)
    float_file = get_settings().model_cache / f"{BUNDLED_MODEL}.onnx"
    assert (tmp_path / f"{BUNDLED_INT8}.onnx").stat().st_size < float_file.stat().st_size / 3


def test_a_store_embedded_with_the_float_model_refuses_the_int8_one(tmp_path: Path) -> None:
    from qa.errors import ConfigError
    from qa.store import open_store

    open_store(get_settings(data_dir=tmp_path / "data"))

    with pytest.raises(ConfigError, match="was embedded with 'all-MiniLM-L6-v2', not 'all-MiniLM-L6-v2-int8'"):
        open_store(get_settings(data_dir=tmp_path / "data", embed_model=BUNDLED_INT8))
