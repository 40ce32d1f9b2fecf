"""A sentence-transformers model's transformer as an ONNX file, derived once from its weights and cached.

The cache folder (QA_CACHE_DIR/models, default ~/.cache/qa/models) holds, per model:

    {slug}.onnx          input_ids, attention_mask, token_type_ids -> token vectors (pooling is done by the caller)
    {slug}.json          manifest: EXPORTER, the sha256 of the source folder, the file's size, tool versions
    {slug}.source.json   the source folder's file stamps and their hash, so an unchanged folder is not
                         read again at every start (hashing 90 MB of weights costs about 0.15 s)

The file is used when its manifest names this EXPORTER and the source folder's current hash, and it has
the size recorded; otherwise it is exported again (that needs torch and onnx, which the query path never
imports). Exports run under a file lock and land by rename, so concurrent processes wait for one export
and never see half a file. Deleting the folder is always safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from importlib import metadata
from pathlib import Path

from qa.errors import EmbeddingError

EXPORTER = "qa.onnx_export/2"  # bump when the export changes what the file computes
OPSET = 17
EXPORT_SECONDS = 30  # what the first export takes on a 2-core machine, torch's import included
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
TOLERANCE = 1e-4  # largest token-vector difference to torch accepted when checking a fresh export

log = logging.getLogger("qa.embedding.export")


def cached_onnx(source: Path, *, cache_dir: Path, name: str, force: bool = False, int8: bool = False) -> Path:
    """Return the path of an ONNX export of the model folder `source` that matches its current weights
    (int8-quantized when asked), exporting it first when it is missing, stale or `force`d (e.g. after
    it failed to load)."""
    target = cache_dir / f"{slug(name)}.onnx"
    digest = source_digest(source, stamps=target.with_suffix(".source.json"))
    if not force and is_fresh(target, digest=digest):
        return target
    refused = _identity(target) if force else None
    from filelock import FileLock

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target.with_suffix(".lock")), timeout=900):
            # another process may have exported it (again) while this one waited for the lock
            if (not force or _identity(target) != refused) and is_fresh(target, digest=digest):
                return target
            log.info("exporting %s to ONNX once (about %d s)…", name, EXPORT_SECONDS)
            started = time.perf_counter()
            (quantize_onnx if int8 else export_onnx)(source, target)
            write_json(target.with_suffix(".json"), manifest_for(target, digest=digest))
    except OSError as exc:
        raise EmbeddingError(f"cannot write the ONNX export to {cache_dir} ({exc.strerror or exc}); "
                             "set QA_CACHE_DIR to a writable folder") from None
    log.info("exported %s in %.0f s to %s", name, time.perf_counter() - started, target)
    return target


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def slug(name: str) -> str:
    """Return a file-name-safe form of a model name or path."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name.strip("/")).strip("-.") or "model"


def is_fresh(target: Path, *, digest: str) -> bool:
    """Return True when `target` exists with the size its manifest records, exported by this EXPORTER
    from the source whose hash is `digest`."""
    manifest = read_json(target.with_suffix(".json"))
    try:
        size = target.stat().st_size
    except OSError:
        return False
    return (manifest.get("exporter") == EXPORTER and manifest.get("source_sha256") == digest
            and manifest.get("size") == size)


def manifest_for(target: Path, *, digest: str) -> dict:
    """Return the manifest of a fresh export: what made it, from what, and its size."""
    return {"exporter": EXPORTER, "source_sha256": digest, "size": target.stat().st_size, "opset": OPSET,
            "torch": _version("torch"), "onnx": _version("onnx"), "onnxruntime": _version("onnxruntime"),
            "exported": time.strftime("%Y-%m-%dT%H:%M:%S")}


def source_digest(source: Path, *, stamps: Path) -> str:
    """Return the sha256 of every file under `source` (relative path and content), read again only when
    a file's size or modification time differs from the stamps saved beside the export."""
    files = sorted(p for p in source.rglob("*") if p.is_file())
    if not files:
        raise EmbeddingError(f"the embedding model folder {source} holds no files")
    current = [[str(p.relative_to(source)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    saved = read_json(stamps)
    if saved.get("files") == current and isinstance(saved.get("sha256"), str):
        return saved["sha256"]
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(source)}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    try:
        stamps.parent.mkdir(parents=True, exist_ok=True)
        write_json(stamps, {"files": current, "sha256": digest.hexdigest()})
    except OSError:  # a read-only cache still works; the folder is hashed again next time
        pass
    return digest.hexdigest()


def quantize_onnx(source: Path, target: Path) -> None:
    """Write an int8 dynamically quantized export of the model folder `source` to `target`: exported
    without graph optimizations (quantization needs plain ONNX ops), pre-processed, weights quantized
    to int8 with ONNX Runtime's quantize_dynamic (activations quantized at run time), then optimized."""
    from onnxruntime.quantization import QuantType, quant_pre_process, quantize_dynamic

    raw, prepared, int8 = (target.with_name(f"{target.name}.{os.getpid()}.{kind}.tmp") for kind in ("raw", "prep", "int8"))
    try:
        export_onnx(source, raw, optimize=False)
        quant_pre_process(str(raw), str(prepared), skip_symbolic_shape=True)
        quantize_dynamic(str(prepared), str(int8), weight_type=QuantType.QInt8)
        optimize_onnx(int8, target)
    finally:
        for path in (raw, prepared, int8):
            path.unlink(missing_ok=True)


def export_onnx(source: Path, target: Path, *, optimize: bool = True) -> None:
    """Write the transformer of the model folder `source` to `target` as ONNX, with ONNX Runtime's
    portable graph optimizations applied unless not to `optimize` (via temporary files), after checking
    its token vectors against torch's on a padded batch."""
    import torch

    model, tokenizer = _torch_model(source)
    # padding in the example batch keeps the attention mask a real input of the traced graph
    batch = tokenizer(["A short one.", "A longer example sentence, padded to the same length as the first."],
                      padding=True, return_tensors="pt")
    args = tuple(batch.get(name, torch.zeros_like(batch["input_ids"])) for name in INPUTS)
    raw, optimized = (target.with_name(f"{target.name}.{os.getpid()}.{kind}.tmp") for kind in ("raw", "opt"))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation warnings about the TorchScript exporter
            wrapped = _token_vectors(model)
            torch.onnx.export(
                wrapped, args, str(raw), input_names=list(INPUTS), output_names=["token_vectors"],
                dynamic_axes={n: {0: "batch", 1: "pieces"} for n in (*INPUTS, "token_vectors")},
                opset_version=OPSET, dynamo=False,
            )
            expected = wrapped(*args).numpy()
        if optimize:
            optimize_onnx(raw, optimized)
            os.replace(optimized, raw)
        _check_export(raw, args=[a.numpy() for a in args], expected=expected)
        os.replace(raw, target)
    finally:
        raw.unlink(missing_ok=True)
        optimized.unlink(missing_ok=True)


def _torch_model(source: Path):
    """Return the transformer and tokenizer of the model folder `source`, loaded with transformers."""
    try:
        import onnx  # noqa: F401 -- torch's exporter needs it; say so before the slow import of torch
        import transformers
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise EmbeddingError(f"exporting the embedding model to ONNX needs torch, transformers and onnx "
                             f"(pip install torch onnx transformers): {exc}") from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        # eager attention traces to plain ops; the fused kernels may drop an all-ones mask from the graph
        model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()
        return model, AutoTokenizer.from_pretrained(str(source))
    except (OSError, ValueError) as exc:
        raise EmbeddingError(f"cannot read the embedding model at {source}: {exc}".splitlines()[0]) from None


def optimize_onnx(raw: Path, optimized: Path) -> None:
    """Save ONNX Runtime's optimized graph of `raw` to `optimized`, so loading it needs no optimizing
    (about 0.1 s of every start). The extended level fuses attention and layer norms without
    hardware-specific layouts, so the file stays valid on any CPU."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(optimized)
    options.log_severity_level = 3
    ort.InferenceSession(str(raw), options, providers=["CPUExecutionProvider"])


def _token_vectors(model):
    """Return `model` wrapped as a module of positional inputs and one output, as torch's exporter wants."""
    import torch

    class TokenVectors(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    return TokenVectors().eval()


def _check_export(path: Path, *, args: list, expected) -> None:
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), load_options(), providers=["CPUExecutionProvider"])
    got = session.run(None, dict(zip(INPUTS, (a.astype(np.int64) for a in args))))[0]
    mask = args[1].astype(bool)
    gap = float(np.abs(got[mask] - expected[mask]).max())
    if gap > TOLERANCE:
        raise EmbeddingError(f"the ONNX export differs from the torch model by {gap:.2g}; not cached")


def load_options():
    """Return the ONNX Runtime session options an exported file is loaded with: already optimized."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3  # warnings about unused initializers are not the user's business
    return options


def read_json(path: Path) -> dict:
    """Return the JSON object in `path`, or {} when it is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_json(path: Path, value: dict) -> None:
    """Write `value` to `path` through a temporary file and a rename, so readers never see half of it."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""
