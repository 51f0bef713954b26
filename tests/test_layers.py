"""The layout is the architecture: imports go one way, and this test says which.

    verifier  ←  ledger  ←  public_site  ←  frontier_ledger (the composition)

Inside ``ledger/`` the sub-packages are layers too, in the order a leaf travels
up from the base (ledger/README.md): a module may import its own sub-package and
any layer below it, never one above. Every import statement counts, including
the lazy ones inside functions; only imports under ``if TYPE_CHECKING:`` (type
annotations, never executed) are exempt.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package -> the project's packages it may import (besides itself).
PACKAGES: dict[str, set[str]] = {
    "verifier": set(),
    "ledger": {"verifier"},
    "public_site": {"verifier", "ledger"},
    "frontier_ledger": {"verifier", "ledger", "public_site"},
}

#: ledger's sub-packages (and top-level modules), lowest layer first.
LEDGER_LAYERS: list[set[str]] = [
    {"errors"},
    {"ops"},  # configuration, data directory, clock, logs, metrics
    {"storage"},  # the store protocol, SQLite, PostgreSQL, the backend choice
    {"keys"},  # key files, entry signing
    {"read"},  # reader, views, static mirror
    {"write"},  # admission, sequencer, tiles, markers, witnesses, key rotation
    {"recovery"},  # backups, restore
    {"api", "demo"},  # the HTTP API, the simulation
    {"cli"},
]


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in *path* that is executed at some point."""
    tree = ast.parse(path.read_text(), str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # "from ledger import errors" imports ledger.errors
                yield node.lineno, f"{node.module}.{alias.name}"


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _rank(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "ledger":
        return None
    for rank, layer in enumerate(LEDGER_LAYERS):
        if parts[1] in layer:
            return rank
    return None


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_packages_import_one_way(package: str) -> None:
    allowed = PACKAGES[package] | {package}
    bad = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in _modules(package)
        for line, module in _imports(path)
        if module.split(".")[0] in PACKAGES and module.split(".")[0] not in allowed
    ]
    assert not bad, f"{package} may import only {sorted(allowed)}:\n" + "\n".join(bad)


def test_every_ledger_subpackage_has_a_layer() -> None:
    ledger = ROOT / "ledger"
    found = {p.parent.name for p in ledger.glob("*/__init__.py")}
    found |= {p.stem for p in ledger.glob("*.py") if p.stem != "__init__"}
    placed = set().union(*LEDGER_LAYERS)
    assert found <= placed, f"give these a layer in LEDGER_LAYERS: {sorted(found - placed)}"


def test_ledger_layers_import_downwards() -> None:
    bad = []
    for path in _modules("ledger"):
        own = _rank("ledger." + ".".join(path.relative_to(ROOT / "ledger").with_suffix("").parts))
        if own is None:
            continue  # ledger/__init__.py
        for line, module in _imports(path):
            rank = _rank(module)
            if rank is not None and rank > own:
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {module} (a higher layer)")
    assert not bad, "\n".join(bad)


def test_the_rule_catches_what_it_forbids(tmp_path: Path) -> None:
    """The checker itself: a lazy upward import is found, a TYPE_CHECKING one is not."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from public_site import pages\n"
        "def f():\n    from ledger.cli import main\n"
    )
    assert [m for _, m in _imports(probe) if m.startswith(("ledger", "public_site"))] == [
        "ledger.cli",
        "ledger.cli.main",
    ]
    assert _rank("ledger.cli.main") == len(LEDGER_LAYERS) - 1
    assert _rank("ledger.errors") == 0
