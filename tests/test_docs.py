"""Docs are part of the work: every command, option and route is documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from frontier_ledger import cli as ledger_cli
from frontier_ledger.app import create_app
from ledger.api.app import ServerOptions
from ledger.ops.datadir import DataDir
from verifier import cli as verify_cli

DOCS = Path(__file__).resolve().parent.parent / "docs"


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@pytest.mark.parametrize(
    ("prog", "parser"),
    [
        ("frontier-ledger", ledger_cli.build_parser()),
        ("frontier-verify", verify_cli.build_parser()),
    ],
)
def test_every_command_and_option_is_in_cli_md(prog: str, parser: argparse.ArgumentParser) -> None:
    text = (DOCS / "cli.md").read_text()
    commands = list(subcommands(parser).items())
    commands += [
        (f"{name} {inner}", subsub)
        for name, sub in subcommands(parser).items()
        for inner, subsub in subcommands(sub).items()
    ]
    for name, sub in commands:
        heading = f"# {prog} {name}\n"
        assert heading in text, f"{prog} {name} is not documented in docs/cli.md"
        section = text.split(heading, 1)[1].split("\n#", 1)[0]
        for action in sub._actions:
            for opt in action.option_strings:
                assert opt in section, f"{prog} {name} {opt} is not documented"


def test_cli_md_is_generated_from_the_current_help() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (DOCS / "cli.md").read_text() == gen.render(), "run: python docs/gen_cli.py"


def test_every_route_is_in_api_md(tmp_path: Path) -> None:
    text = (DOCS / "api.md").read_text()
    app = create_app(ServerOptions(DataDir.at(tmp_path)))
    documented = 0
    for path in app.openapi()["paths"]:
        shown = path.replace("{path}", "")
        assert shown in text, f"route {path} is not documented in docs/api.md"
        documented += 1
    assert documented >= 8


def test_readme_starts_with_the_two_commands() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert first_block is not None
    lines = [ln.split("#")[0].strip() for ln in first_block.group(1).splitlines()]
    assert lines[:2] == ["make demo", "make test"]


VERIFIER = DOCS.parent / "verifier"


def test_core_readme_walks_through_every_core_module() -> None:
    text = (VERIFIER / "core" / "README.md").read_text()
    for module in sorted((VERIFIER / "core").glob("*.py")):
        if module.name != "__init__.py":
            heading = re.compile(rf"^## \d+\. `{re.escape(module.name)}` \(", re.M)
            assert heading.search(text), f"verifier/core/README.md has no section on {module.name}"


@pytest.mark.parametrize("readme", ["verifier/README.md", "verifier/core/README.md"])
def test_verifier_readmes_name_only_paths_that_exist(readme: str) -> None:
    path = DOCS.parent / readme
    text = path.read_text()
    named = set(re.findall(r"`((?:verifier|tests|docs)/[\w/.]+)`", text))
    assert named, readme
    for name in sorted(named):
        assert (DOCS.parent / name).exists(), f"{readme} names {name}, which does not exist"
    for link in set(re.findall(r"\]\(([^)#]+)\)", text)):
        assert (path.parent / link).exists(), f"{readme} links to {link}, which does not exist"
