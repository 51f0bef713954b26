"""What the site's browser tests share: Debian's chromium, the demo served on loopback.

``make test`` installs chromium (and axe-core) first and sets
FRONTIER_REQUIRE_BROWSER=1: then a missing browser is a broken set-up that fails
the run, not a reason to skip. Elsewhere the browser tests skip with a message.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.serverproc import ServerProcess, serve_demo

REQUIRED = os.environ.get("FRONTIER_REQUIRE_BROWSER") == "1"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT_MS = 30_000

if CHROMIUM is None and REQUIRED:
    raise RuntimeError(
        "Debian's chromium is required for the browser tests (apt-get install chromium)"
    )

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)"
)


def demo_server(factory: pytest.TempPathFactory, name: str) -> Iterator[ServerProcess]:
    """The three-cycle demo, witnessed as ``make demo`` builds it, served on loopback on
    its simulated clock (a fixture body)."""
    for server, _ in serve_demo(factory, name, witnessed=True):
        yield server


def chromium(sync_api: Any) -> Iterator[Any]:
    """Debian's chromium driven by Playwright (a fixture body)."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
