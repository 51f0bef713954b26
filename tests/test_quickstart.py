"""The guides' walkthroughs run as written against a fresh, witnessed demo.

docs/verifier.md opens with a quickstart for a foreign ministry (policy, verify,
audit, monitor, an offline receipt, a split view refused); docs/appending.md
with a rehearsal for a lab and the regulator's staff (pre-registration through
decision, with the refusals the rules give). Both are run here, block by block,
in a directory laid out as a checkout after `make demo` (its .venv and its
demo-data), and their printed output is checked against what the guides show.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import doc_walkthrough
from tests.serverproc import REPO, free_port, terminate

DOCS = REPO / "docs"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """`make demo`, in a checkout-like directory: .venv beside demo-data."""
    root = tmp_path_factory.mktemp("checkout")
    (root / ".venv").symlink_to(REPO / ".venv")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "frontier_ledger", "demo", "--data", "demo-data", "--serve",
         "--port", str(port)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ledger = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "the demo stopped"
            try:
                if httpx.get(f"{ledger}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo did not become ready"
            time.sleep(0.3)
        yield root, ledger
    finally:
        terminate(proc, timeout=30)


def test_the_verifier_quickstart_runs_as_written(demo: tuple[Path, str]) -> None:
    root, ledger = demo
    found = doc_walkthrough.blocks(
        (DOCS / "verifier.md").read_text(), "Quickstart: the demo, in ten minutes"
    )
    assert len(found) >= 7 and all(b.expected for b in found[1:])
    doc_walkthrough.run(found, root, ledger)
    assert (root / "fork-evidence.json").is_file()


def test_the_appending_rehearsal_runs_as_written(demo: tuple[Path, str]) -> None:
    root, ledger = demo
    found = doc_walkthrough.blocks(
        (DOCS / "appending.md").read_text(), "Rehearse a cycle on the demo"
    )
    assert len(found) >= 6
    doc_walkthrough.run(found, root, ledger)
    assert (root / "decision.receipt.json").is_file()
