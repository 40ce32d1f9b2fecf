"""Schemathesis, every phase (examples, coverage, fuzzing, stateful) and every check, against the app's own
/openapi.json on a real uvicorn server that requires a key: no 5xx, and no response the schema does not
allow (a schema-valid request refused, an invalid one accepted, an undocumented status or media type)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Ingested
from live_server import serving

KEY = "fuzz-key-5b1c0e9f27d84a36"
MAX_EXAMPLES = 60
SEED = 13  # a fixed seed and no example database: the same cases every run
RUN_TIMEOUT = 600


def schemathesis_executable() -> str:
    """Return the `schemathesis` CLI of this environment, or fail the run (it is a dev dependency)."""
    script = Path(sys.executable).parent / "schemathesis"
    if not script.is_file():
        pytest.fail(f"schemathesis is not next to {sys.executable}; pip install -e '.[dev]'", pytrace=False)
    return str(script)


@pytest.mark.slow
def test_schemathesis_in_every_phase_finds_no_5xx_and_no_schema_mismatch(ingested: Ingested, tmp_path: Path) -> None:
    har = tmp_path / "fuzz.har"
    with serving(ingested, api_key=KEY) as url:
        run = subprocess.run(
            [schemathesis_executable(), "run", f"{url}/openapi.json", "--checks", "all",
             "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(MAX_EXAMPLES),
             "--seed", str(SEED), "--generation-database", "none", "--workers", "1", "--no-color",
             "--header", f"Authorization: Bearer {KEY}", "--report", "har", "--report-har-path", str(har)],
            capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path)

    statuses = [entry["response"]["status"] for entry in json.loads(har.read_text())["log"]["entries"]]
    summary = [line for line in run.stdout.splitlines() if "generated" in line]
    print(f"\nschemathesis: {' '.join(summary).strip()}; {len(statuses)} responses, "
          f"{sum(s >= 500 for s in statuses)} 5xx, {sum(s == 401 for s in statuses)} 401 (auth checks)")
    assert run.returncode == 0, run.stdout[-4000:]
    assert [s for s in statuses if s >= 500] == []
    assert len(statuses) > 1000
