"""Shared fixtures: the known-answer vectors live in ../shared/test-vectors."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pgserver import PgCluster, cluster_or_skip

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


# -- PostgreSQL: a throwaway cluster for the session, a fresh database per test ----------

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A real PostgreSQL server for the session (tests/pgserver.py), stopped at its end.

    Skipped if PostgreSQL is not installed, unless FRONTIER_REQUIRE_POSTGRES=1.
    """
    cluster = cluster_or_skip()
    try:
        yield cluster
    finally:
        cluster.stop()


def _fresh_database(request: pytest.FixtureRequest) -> Iterator[str]:
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    url = cluster.new_database()
    try:
        yield url
    finally:
        cluster.drop_database(url)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database (dropped after the test)."""
    yield from _fresh_database(request)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database holds the log: every test that takes it runs once per backend."""
    return str(request.param)


@pytest.fixture
def database(backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """``--database`` for the test's log: None (SQLite) or a fresh PostgreSQL database."""
    if backend == "sqlite":
        yield None
    else:
        yield from _fresh_database(request)


@pytest.fixture(scope="module")
def module_database(backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """As ``database``, shared by a module (for module-scoped servers)."""
    if backend == "sqlite":
        yield None
    else:
        yield from _fresh_database(request)
