"""The dependency locks (``requirements/*.lock``, written by ``make lock``) are usable.

``pip install --require-hashes`` refuses a lock with an unpinned or unhashed line,
so every line must be ``name==version`` with its hashes. The verifier's lock must
hold the verifier's dependencies and nothing of the server, and the server's lock
every dependency pyproject.toml names, at a version its specifier allows (a lock
left behind when pyproject.toml changed fails here, not at install time).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: Version
    hashes: tuple[str, ...]
    via: tuple[str, ...]  # pip-compile's annotation: what needs it


def read_lock(path: Path) -> dict[str, Pin]:
    """The pins of a pip-compile lock; fails on any line that is not a hashed ``==`` pin
    (an option such as ``--find-links``, ``--index-url`` or ``-e`` included)."""
    pins: dict[str, Pin] = {}
    entries: list[tuple[str, list[str]]] = []  # (requirement line, its "via" lines)
    logical = ""
    in_via = False  # "# via a" or "# via" then one "#   a" line per package
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#"):
            comment = line.removeprefix("#")
            if comment.strip() == "via" or comment.startswith(" via "):
                in_via = bool(entries) and not logical
                comment = comment.strip().removeprefix("via")
            elif not comment.startswith("   "):
                in_via = False
            if in_via:
                entries[-1][1].append(comment.strip())
            continue
        in_via = False
        if not line:
            continue
        logical += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            entries.append((logical.strip(), []))
            logical = ""
    assert not logical, f"{path.name}: ends in a continued line"
    for text, comments in entries:
        req, *options = text.split()
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)", req)
        assert m, f"{path.name}: {req!r} is not pinned as name==version"
        assert options, f"{path.name}: {req} has no --hash"
        bad = [o for o in options if not HASH.fullmatch(o)]
        assert not bad, f"{path.name}: {req}: {bad} are not sha256 hashes"
        via = " ".join(comments).split()
        name = canonicalize_name(m.group(1))
        assert name not in pins, f"{path.name}: {name} pinned twice"
        pins[name] = Pin(name, Version(m.group(2)), tuple(options), tuple(via))
    return pins


def pyproject_requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return reqs


@pytest.fixture(scope="module")
def verifier_lock() -> dict[str, Pin]:
    return read_lock(LOCKS / "verifier.lock")


@pytest.fixture(scope="module")
def server_lock() -> dict[str, Pin]:
    return read_lock(LOCKS / "server.lock")


def test_every_pin_has_a_version_and_hashes(
    verifier_lock: dict[str, Pin], server_lock: dict[str, Pin]
) -> None:
    assert verifier_lock  # read_lock checked each line
    assert len(server_lock) > len(verifier_lock)


def test_the_verifier_lock_holds_cryptography_and_its_dependencies_only(
    verifier_lock: dict[str, Pin],
) -> None:
    runtime = {canonicalize_name(r.name) for r in pyproject_requirements()}
    assert runtime == {"cryptography"}
    assert set(verifier_lock) >= runtime
    for pin in verifier_lock.values():
        if pin.name in runtime:
            continue
        # Anything else is there because a package of this lock needs it.
        assert pin.via, f"verifier.lock: {pin.name} says nothing of what needs it"
        assert set(map(canonicalize_name, pin.via)) <= set(verifier_lock), pin
    server_only = {
        canonicalize_name(r.name) for r in pyproject_requirements("server", "dev")
    } - runtime
    assert not server_only & set(verifier_lock)
    assert {"fastapi", "uvicorn", "starlette", "jinja2", "psycopg"}.isdisjoint(verifier_lock)


def test_the_server_lock_satisfies_pyproject(
    verifier_lock: dict[str, Pin], server_lock: dict[str, Pin]
) -> None:
    for req in pyproject_requirements("server", "dev"):
        pin = server_lock.get(canonicalize_name(req.name))
        assert pin is not None, f"{req.name} (pyproject.toml) is not in server.lock: make lock"
        assert req.specifier.contains(pin.version, prereleases=True), (
            f"server.lock pins {pin.name}=={pin.version}, pyproject.toml asks {req}: make lock"
        )
        for extra in req.extras:  # --strip-extras: an extra's packages are pinned on their own
            assert f"{pin.name}-{extra}" in server_lock, f"{req} without its {extra} packages"
    for req in pyproject_requirements():
        pin = verifier_lock[canonicalize_name(req.name)]
        assert req.specifier.contains(pin.version, prereleases=True), (req, pin.version)


def test_the_verifier_ships_what_the_tests_run(
    verifier_lock: dict[str, Pin], server_lock: dict[str, Pin]
) -> None:
    """The verifier installed alone gets the versions the test suite is run with."""
    for name, pin in verifier_lock.items():
        assert server_lock[name].version == pin.version, f"{name}: the locks disagree"
        assert set(server_lock[name].hashes) == set(pin.hashes), f"{name}: the hashes differ"


def test_the_image_pins_the_locked_pip(server_lock: dict[str, Pin]) -> None:
    """docker/Dockerfile installs pip==PIP_VERSION from the wheels built from server.lock."""
    m = re.search(r"^ARG PIP_VERSION=(\S+)$", (ROOT / "docker" / "Dockerfile").read_text(), re.M)
    assert m
    assert "pip" in server_lock, "server.lock has no pip: build its wheel in docker/Dockerfile"
    assert server_lock["pip"].version == Version(m.group(1))
