"""Shared fixtures: the known-answer vectors live in ../shared/test-vectors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
VECTORS = Path(os.environ.get("FRONTIER_TEST_VECTORS", REPO.parent / "shared" / "test-vectors"))


def load_vectors(name: str) -> Any:
    path = VECTORS / name
    if not path.exists():
        raise FileNotFoundError(
            f"test vectors not found at {path}; set FRONTIER_TEST_VECTORS to the "
            "shared/test-vectors directory"
        )
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    assert VECTORS.is_dir(), f"missing test vectors at {VECTORS}"
    return VECTORS
