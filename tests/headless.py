"""Debian's chromium under Playwright, headless, for the browser tests. A missing browser or Playwright
fails the tests; they are never skipped, and Playwright never downloads a browser of its own
(.ci/browser installs the system one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from playwright.sync_api import Browser, sync_playwright
except ImportError:  # reported by launch_chromium as a failure, not a skip
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def launch_chromium() -> Iterator["Browser"]:
    """Yield headless system chromium (a fixture body); fail the test when it or Playwright is missing."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found: the browser tests need Debian's chromium package; run "
                    "`bash .ci/browser` (apt-get install chromium). Playwright's browser download is not used.",
                    pytrace=False)
    if sync_playwright is None:
        pytest.fail("the playwright package is missing from .venv; run `bash .ci/browser`", pytrace=False)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
