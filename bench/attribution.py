"""The attribution set (eval/datasets/attribution.jsonl) over the bundled corpus: who said what,
according to whom, what did X say about Y, how did X describe Y, speakers named only in another
sentence, and follow-ups. Speaker named (short answer, else answer text) and first citation correct.

    python bench/attribution.py [-v] [--api http://127.0.0.1:8000]

Prints a table and writes bench/results/attribution.json; the same figures as bench/seed.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed  # noqa: E402

if __name__ == "__main__":
    defaults = ["--dataset", str(seed.ROOT / "eval" / "datasets" / "attribution.jsonl"),
                "--out", str(seed.ROOT / "bench" / "results" / "attribution.json")]
    sys.argv[1:1] = defaults
    sys.exit(seed.main())
