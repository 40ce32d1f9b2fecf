"""Cold start: whole-process wall time, CPU time and peak RSS of `qa status` and `qa ask` on the seed
store against the floor `python -c "import chromadb, llama_index.core"`, measured in the same run.

    python bench/coldstart.py [--runs 5] [--question "Who is Matthew Miller?"]

The seed corpus is ingested into a temporary QA_DATA_DIR first; each command runs once untimed (page
cache, model export), then the commands run interleaved `--runs` times and the medians are compared
with the floor's. Also timed, for reference: the old floor with torch and sentence-transformers,
and the floor plus the tiktoken encoding that LlamaIndex's default splitter loads when a
VectorStoreIndex is built without transformations (as qa.retrieve builds it today).
Prints a table and writes bench/results/coldstart.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QA = str(Path(sys.executable).parent / "qa")
FLOOR = "floor: import chromadb, llama_index.core"


def commands(question: str) -> dict[str, list[str]]:
    """Return the timed commands by name, the floor first."""
    return {
        FLOOR: [sys.executable, "-c", "import chromadb, llama_index.core"],
        "qa status": [QA, "status"],
        f"qa ask {question!r}": [QA, "ask", question],
        # what VectorStoreIndex costs when no transformations are given: LlamaIndex's default splitter
        "floor + tiktoken cl100k (LlamaIndex default)": [
            sys.executable, "-c", "import chromadb, llama_index.core; from llama_index.core import Settings; "
                                  "Settings.transformations"],
        "old floor: + torch, sentence_transformers": [
            sys.executable, "-c", "import torch, sentence_transformers, chromadb, llama_index.core"],
    }


def run_once(command: list[str], *, env: dict[str, str]) -> dict[str, float]:
    """Return wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one run of `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024}


def environment(data_dir: Path) -> dict[str, str]:
    """Return this environment with the store pointed at `data_dir` and no LLM or server configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return env | {"QA_DATA_DIR": str(data_dir), "QA_COLLECTION": "coldstart"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--question", default="Who is Matthew Miller?")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "coldstart.json")
    args = parser.parse_args()
    timed = commands(args.question)
    with tempfile.TemporaryDirectory(prefix="qa-coldstart-") as tmp:
        env = environment(Path(tmp) / "data")
        subprocess.run([QA, "ingest", str(ROOT / "corpus")], env=env, check=True, capture_output=True)
        for command in timed.values():  # untimed: page cache, the model's export if it was missing
            run_once(command, env=env)
        load_before = os.getloadavg()
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in timed}
        for _ in range(args.runs):
            for name, command in timed.items():
                runs[name].append(run_once(command, env=env))
        load_after = os.getloadavg()
    medians = {name: {key: statistics.median(r[key] for r in rows) for key in ("wall", "cpu", "rss_mib")}
               for name, rows in runs.items()}
    floor = medians[FLOOR]
    for row in medians.values():
        row["wall_ratio"] = row["wall"] / floor["wall"]
        row["cpu_ratio"] = row["cpu"] / floor["cpu"]
    print(f"\nmedians of {args.runs} interleaved runs (load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after); ratios to the floor\n")
    print(f"{'command':<44} {'wall s':>7} {'ratio':>6} {'CPU s':>7} {'ratio':>6} {'peak MiB':>9}")
    for name, row in medians.items():
        print(f"{name:<44} {row['wall']:>7.2f} {row['wall_ratio']:>6.2f} {row['cpu']:>7.2f} "
              f"{row['cpu_ratio']:>6.2f} {row['rss_mib']:>9.0f}")
    print("\n(`qa ask` loads the ONNX model and the spaCy pipeline, which parses the question)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": args.runs, "question": args.question, "load_average":
                                    {"before": load_before, "after": load_after}, "medians": medians,
                                    "samples": runs}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
