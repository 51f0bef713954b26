"""Configuration: one TOML file, environment variables, flags — documented, checked, layered."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from frontier_ledger.cli import build_parser
from ledger.errors import ConfigError
from ledger.ops import config
from tests.serverproc import REPO, free_port, init_test_log, make_envelopes, terminate

DOCS = REPO / "docs" / "configuration.md"


def resolved(argv: list[str], environ: dict[str, str]) -> dict[str, object]:
    args = build_parser().parse_args(argv)
    return vars(config.resolve(args, args.command, environ))


def test_every_setting_is_documented_by_key_variable_and_flag() -> None:
    text = DOCS.read_text()
    assert config.documented(text) == []
    # ... and the docs name no setting that does not exist.
    documented_envs = set(re.findall(r"FRONTIER_LEDGER_[A-Z][A-Z_]*[A-Z]", text))
    known = {s.env for s in config.SETTINGS} | {config.CONFIG_ENV}
    assert documented_envs <= known, documented_envs - known
    assert len(documented_envs) > len(config.SETTINGS)


def test_every_serve_setting_has_a_flag_whose_help_names_it() -> None:
    help_text = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()
    flat = " ".join(help_text.split())
    for s in config.SETTINGS:
        if "serve" in s.commands and s.section != "storage":
            assert s.flag in flat, s.flag
            assert s.env in flat.replace("- ", "-").replace(" _", "_"), s.env


def test_flag_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    cfg = tmp_path / "ledger.toml"
    cfg.write_text(
        '[storage]\ndata = "/from/file"\n'
        "[server]\nport = 7001\nmax_batch = 64\n"
        "[witnesses]\nrequire_quorum = true\n"
        '[logging]\nformat = "json"\n'
    )
    env = {"FRONTIER_LEDGER_CONFIG": str(cfg), "FRONTIER_LEDGER_SERVER_PORT": "7002"}
    v = resolved(["serve"], env)
    assert v["data"] == "/from/file"  # file
    assert v["port"] == 7002  # environment over file
    assert v["max_batch"] == 64  # file over default
    assert v["require_witness_quorum"] is True
    assert v["log_format"] == "json"
    assert v["max_queue"] == 4096  # default
    assert v["host"] == "127.0.0.1"
    v = resolved(["serve", "--port", "7003", "--data", "/from/flag"], env)
    assert v["port"] == 7003 and v["data"] == "/from/flag"  # flags over everything
    # --config on the command line is used instead of the variable's file.
    other = tmp_path / "other.toml"
    other.write_text("[server]\nport = 7004\n")
    v = resolved(["serve", "--config", str(other)], {})
    assert v["port"] == 7004


def test_environment_values_are_parsed_by_type() -> None:
    env = {
        "FRONTIER_LEDGER_SERVER_READ_ONLY": "yes",
        "FRONTIER_LEDGER_WITNESSES_INTERVAL": "0.5",
        "FRONTIER_LEDGER_BACKUP_KEEP": "3",
        "FRONTIER_LEDGER_BACKUP_DIR": "/backups",
    }
    v = resolved(["serve"], env)
    assert v["read_only"] is True
    assert v["witness_interval"] == 0.5
    assert v["backup_keep"] == 3 and v["backup_dir"] == "/backups"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[server]\nprot = 1\n", "unknown setting 'prot' in [server] (known: host, port"),
        ("[sever]\nport = 1\n", "unknown section [sever]"),
        ('[server]\nport = "8000"\n', "[server] port: expected an integer, got '8000'"),
        ("[server]\nport = 80.5\n", "[server] port: expected an integer"),
        ("[server]\nread_only = 1\n", "[server] read_only: expected true or false"),
        ("[server]\nmax_batch = 0\n", "[server] max_batch: must be at least 1"),
        ("[server]\ncommit_linger = inf\n", "[server] commit_linger: expected a finite number"),
        ("[server]\ncommit_linger = 1\n", "[server] commit_linger: must be at most 0.1"),
        ('[logging]\nformat = "xml"\n', "expected one of text, json, got 'xml'"),
        ("[server\nport = 1\n", "is not valid TOML"),
    ],
)
def test_bad_files_are_refused_naming_the_fault(tmp_path: Path, toml: str, message: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as err:
        resolved(["serve", "--config", str(cfg)], {})
    assert message in str(err.value)
    assert str(cfg) in str(err.value)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--commit-linger", "inf"], "option --commit-linger: expected a finite number"),
        (["--commit-linger", "0.5"], "option --commit-linger: must be at most 0.1"),
        (["--max-batch", "0"], "option --max-batch: must be at least 1"),
    ],
)
def test_bad_options_are_refused_as_the_file_and_environment_are(
    argv: list[str], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        resolved(["serve", "--data", "/x", *argv], {})
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"FRONTIER_LEDGER_SERVER_PORT": "eighty"},
            "FRONTIER_LEDGER_SERVER_PORT: expected an integer",
        ),
        ({"FRONTIER_LEDGER_SERVER_READ_ONLY": "maybe"}, "expected true or false"),
        ({"FRONTIER_LEDGER_SERVER_COMMIT_LINGER": "nan"}, "expected a finite number"),
        ({"FRONTIER_LEDGER_SERVER_COMMIT_LINGER": "-0.001"}, "must be at least 0"),
        (
            {"FRONTIER_LEDGER_SERVER_PROT": "1"},
            "unknown environment variable FRONTIER_LEDGER_SERVER_PROT",
        ),
    ],
)
def test_bad_environment_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolved(["serve", "--data", "/x"], env)
    assert message in str(err.value)


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FRONTIER_LEDGER_")}
    return subprocess.Popen(
        [sys.executable, "-m", "frontier_ledger", *args],
        cwd=REPO,
        env={**clean, **env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


def test_serve_runs_from_a_configuration_file_and_the_environment(tmp_path: Path) -> None:
    data, _ = init_test_log(tmp_path / "data")
    file_port, env_port = free_port(), free_port()
    cfg = tmp_path / "ledger.toml"
    cfg.write_text(
        f'[storage]\ndata = "{data.root}"\n[server]\nport = {file_port}\nread_only = true\n'
    )
    proc = _cli(["serve"], {"FRONTIER_LEDGER_CONFIG": str(cfg)})
    try:
        assert _wait_listening(file_port, proc).status_code == 200
        # read_only = true from the file: appends are refused.
        r = httpx.post(
            f"http://127.0.0.1:{file_port}/api/v1/entries",
            json=make_envelopes("test.example/log", 1)[0],
            timeout=10,
        )
        assert r.status_code == 503 and "does not accept appends" in r.text, r.text
    finally:
        terminate(proc)
    proc = _cli(
        ["serve", "--config", str(cfg)],
        {"FRONTIER_LEDGER_SERVER_PORT": str(env_port), "FRONTIER_LEDGER_SERVER_READ_ONLY": "false"},
    )
    try:
        assert _wait_listening(env_port, proc).status_code == 200
        ready = httpx.get(f"http://127.0.0.1:{env_port}/readyz", timeout=10).json()
        assert ready["checks"]["writer"]["ok"] is True  # the environment turned writing on
    finally:
        terminate(proc)


def test_a_bad_configuration_stops_serve_before_it_starts(tmp_path: Path) -> None:
    data, _ = init_test_log(tmp_path / "data")
    cfg = tmp_path / "ledger.toml"
    cfg.write_text(f'[storage]\ndata = "{data.root}"\n[server]\nprot = 8000\n')
    proc = _cli(["serve", "--config", str(cfg)], {})
    try:
        assert proc.wait(timeout=60) == 2
        err = proc.stderr.read().decode() if proc.stderr else ""
    finally:
        terminate(proc)
    assert "unknown setting 'prot' in [server]" in err
    proc = _cli(["serve"], {})
    try:
        assert proc.wait(timeout=60) == 2
        err = proc.stderr.read().decode() if proc.stderr else ""
    finally:
        terminate(proc)
    assert "no data directory: give --data DIR, set FRONTIER_LEDGER_STORAGE_DATA" in err
    proc = _cli(
        [
            "serve",
            "--data",
            str(data.root),
            "--require-witness-quorum",
            "--max-checkpoint-age",
            "60",
        ],
        {},
    )
    try:
        assert proc.wait(timeout=60) == 2
        err = proc.stderr.read().decode() if proc.stderr else ""
    finally:
        terminate(proc)
    assert "idle_cadence (300 s) must be shorter than witnesses.max_checkpoint_age (60 s)" in err
