"""Settings of ``frontier-ledger``: one TOML file, environment variables, flags.

Every setting has exactly one entry in :data:`SETTINGS`, which is the single
source of its default, its type, its help text, its TOML key
(``[section] key``), its environment variable (``FRONTIER_LEDGER_SECTION_KEY``)
and its flag. ``docs/configuration.md`` documents each one; a test keeps them
in step.

Precedence, highest first: the command-line flag, the environment variable, the
configuration file (``--config FILE`` or ``FRONTIER_LEDGER_CONFIG``), the
default. A flag's argparse default is ``None`` ("not given") so the layers
below can fill it in.

Bad configuration is refused before anything starts, with the file, section and
key or the variable named: unknown keys (a typo must not silently fall back to a
default), wrong types, values out of range.
"""

from __future__ import annotations

import argparse
import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import ConfigError

CONFIG_ENV = "FRONTIER_LEDGER_CONFIG"
ENV_PREFIX = "FRONTIER_LEDGER_"

#: Commands that run a log from its data directory and so take the storage settings.
DATA_COMMANDS = (
    "init",
    "vkey",
    "serve",
    "export",
    "export-site",
    "synth",
    "audit",
    "fsck",
    "reindex",
    "backup",
    "restore",
)


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    kind: str  # "str", "path", "int", "float", "bool", or "a|b|c" (a choice)
    default: Any
    help: str
    commands: tuple[str, ...]
    minimum: float | None = None
    maximum: float | None = None

    @property
    def dest(self) -> str:
        """The argparse destination: the key, or section_key where keys would clash."""
        return _DEST.get((self.section, self.key), self.key)

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

    @property
    def env(self) -> str:
        return f"{ENV_PREFIX}{self.section}_{self.key}".upper()

    @property
    def toml(self) -> str:
        return f"[{self.section}] {self.key}"

    def parse(self, value: Any, where: str, *, from_env: bool = False) -> Any:
        """Check and convert *value*: a TOML value, or (*from_env*) a variable's string.

        TOML values must have the setting's type (``port = "8000"`` is refused:
        the file says what it means); a variable is always a string, parsed here.
        """
        from_env = from_env and self.kind not in ("str", "path")
        if self.kind == "bool":
            if from_env:
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
            if isinstance(value, bool):
                return value
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        if self.kind in ("int", "float"):
            return self._number(value, where, from_env=from_env)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
        if "|" in self.kind and value not in self.kind.split("|"):
            raise ConfigError(
                f"{where}: expected one of {self.kind.replace('|', ', ')}, got {value!r}"
            )
        return value

    def _number(self, value: Any, where: str, *, from_env: bool) -> int | float:
        number: float
        try:
            if from_env:
                number = int(value) if self.kind == "int" else float(value)
            elif (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (self.kind == "int" and not isinstance(value, int))
            ):
                raise TypeError
            else:
                number = value
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {self.kind_name}, got {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        if self.minimum is not None and number < self.minimum:
            raise ConfigError(f"{where}: must be at least {self.minimum:g}, got {number!r}")
        if self.maximum is not None and number > self.maximum:
            raise ConfigError(f"{where}: must be at most {self.maximum:g}, got {number!r}")
        return int(number) if self.kind == "int" else float(number)

    @property
    def kind_name(self) -> str:
        return {"int": "an integer", "float": "a number", "bool": "true or false"}.get(
            self.kind, "a string"
        )


_DEST = {
    ("logging", "level"): "log_level",
    ("logging", "format"): "log_format",
    ("witnesses", "policy"): "witness_policy",
    ("witnesses", "interval"): "witness_interval",
    ("witnesses", "idle_cadence"): "witness_idle_cadence",
    ("witnesses", "require_quorum"): "require_witness_quorum",
    ("witnesses", "timeout"): "witness_timeout",
    ("witnesses", "max_checkpoint_age"): "max_checkpoint_age",
    ("markers", "interval"): "marker_interval",
    ("backup", "dir"): "backup_dir",
    ("backup", "interval"): "backup_interval",
    ("backup", "keep"): "backup_keep",
}

_SERVE = ("serve",)

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "storage",
        "data",
        "path",
        None,
        "the log's data directory (keys, lock, SQLite database, blobs, caches); required",
        DATA_COMMANDS,
    ),
    Setting(
        "storage",
        "key",
        "path",
        None,
        "the log's signer key file (default: DATA/log.key)",
        DATA_COMMANDS,
    ),
    Setting(
        "storage",
        "database",
        "str",
        None,
        "a PostgreSQL URL (postgresql://user@host/db) to keep the log in; default: SQLite in DATA/ledger.sqlite",
        DATA_COMMANDS,
    ),
    Setting("server", "host", "str", "127.0.0.1", "address to listen on", _SERVE),
    Setting("server", "port", "int", 8000, "TCP port to listen on", _SERVE, minimum=0),
    Setting(
        "server",
        "read_only",
        "bool",
        False,
        "serve reads only; refuse appends (a read replica, or during maintenance)",
        _SERVE,
    ),
    Setting(
        "server",
        "workers",
        "int",
        0,
        "HTTP worker processes in front of the one that sequences and signs (0: that one "
        "process answers HTTP too); they parse, check signatures and serve reads on other cores",
        _SERVE,
        minimum=0,
    ),
    Setting(
        "server", "max_batch", "int", 256, "largest group commit, in entries", _SERVE, minimum=1
    ),
    Setting(
        "server",
        "commit_linger",
        "float",
        0.001,
        "seconds (at most 0.1) the sequencer waits for more appends before a group commit "
        "while appends arrive concurrently (an append after a pause is committed at once; "
        "0: never wait)",
        _SERVE,
        minimum=0.0,
        maximum=0.1,
    ),
    Setting(
        "server",
        "max_queue",
        "int",
        4096,
        "entries that may wait for a commit before appends get 503 with Retry-After",
        _SERVE,
        minimum=1,
    ),
    Setting(
        "server",
        "body_timeout",
        "float",
        10.0,
        "seconds an append's request body may take to arrive; a slower upload gets 408 and its connection is closed",
        _SERVE,
        minimum=0.1,
    ),
    Setting(
        "logging",
        "level",
        "critical|error|warning|info|debug|trace",
        "warning",
        "log level of the server and of uvicorn",
        _SERVE,
    ),
    Setting(
        "logging",
        "format",
        "text|json",
        "text",
        "log lines as text, or one JSON object each for log shippers",
        _SERVE,
    ),
    Setting(
        "markers",
        "interval",
        "float",
        60.0,
        "seconds between checks for schedule deadlines that passed",
        _SERVE,
        minimum=0.01,
    ),
    Setting(
        "witnesses",
        "policy",
        "path",
        None,
        "C2SP tlog-policy naming the witnesses to ask for cosignatures (default: DATA/witnesses.policy if present)",
        _SERVE,
    ),
    Setting(
        "witnesses",
        "interval",
        "float",
        1.0,
        "seconds between checks for a checkpoint to send to the witnesses",
        _SERVE,
        minimum=0.01,
    ),
    Setting(
        "witnesses",
        "idle_cadence",
        "float",
        300.0,
        "seconds after which an unchanged checkpoint is sent again, so its newest cosignature stays fresh",
        _SERVE,
        minimum=1,
    ),
    Setting(
        "witnesses",
        "timeout",
        "float",
        10.0,
        "seconds to wait for a witness's answer; a witness that hangs costs its job this long, never an append",
        _SERVE,
        minimum=0.1,
    ),
    Setting(
        "witnesses",
        "require_quorum",
        "bool",
        False,
        "publish only checkpoints cosigned by the policy's quorum; /readyz fails without it",
        _SERVE,
    ),
    Setting(
        "witnesses",
        "max_checkpoint_age",
        "float",
        900.0,
        "with require_quorum: /readyz fails when the served checkpoint's newest cosignature is older than this many seconds",
        _SERVE,
        minimum=1,
    ),
    Setting(
        "backup",
        "dir",
        "path",
        None,
        "directory for scheduled online backups of a SQLite log (none: no scheduled backups)",
        _SERVE,
    ),
    Setting(
        "backup",
        "interval",
        "float",
        3600.0,
        "seconds between scheduled backups",
        _SERVE,
        minimum=1,
    ),
    Setting(
        "backup",
        "keep",
        "int",
        48,
        "scheduled backups kept; older ones are deleted",
        _SERVE,
        minimum=1,
    ),
)

BY_TOML = {(s.section, s.key): s for s in SETTINGS}


def load_file(path: Path) -> dict[tuple[str, str], Any]:
    """Read and check a configuration file: every key must be a known setting."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration file {path}: {exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    out: dict[tuple[str, str], Any] = {}
    sections = sorted({s.section for s in SETTINGS})
    for section, body in doc.items():
        if not isinstance(body, dict) or section not in sections:
            raise ConfigError(f"{path}: unknown section [{section}] (known: {', '.join(sections)})")
        for key, value in body.items():
            setting = BY_TOML.get((section, key))
            if setting is None:
                known = ", ".join(s.key for s in SETTINGS if s.section == section)
                raise ConfigError(
                    f"{path}: unknown setting '{key}' in [{section}] (known: {known})"
                )
            out[(section, key)] = setting.parse(value, f"{path}: [{section}] {key}")
    return out


def resolve(
    args: argparse.Namespace,
    command: str,
    environ: Mapping[str, str] | None = None,
) -> argparse.Namespace:
    """Fill every setting the flags left unset from the environment, the file, the default."""
    env = os.environ if environ is None else environ
    config_path = getattr(args, "config", None) or env.get(CONFIG_ENV)
    from_file = load_file(Path(config_path)) if config_path else {}
    unknown = sorted(
        k
        for k in env
        if k.startswith(ENV_PREFIX) and k != CONFIG_ENV and k not in {s.env for s in SETTINGS}
    )
    if unknown:
        raise ConfigError(
            f"unknown environment variable {unknown[0]} (see docs/configuration.md for the settings)"
        )
    for s in SETTINGS:
        if command not in s.commands or not hasattr(args, s.dest):
            continue
        given = getattr(args, s.dest)
        if given is not None:
            # Given on the command line: argparse made it a number; its bounds are checked here.
            if s.kind in ("int", "float"):
                setattr(args, s.dest, s.parse(given, f"option {s.flag}"))
            continue
        if s.env in env:
            value = s.parse(env[s.env], f"environment variable {s.env}", from_env=True)
        elif (s.section, s.key) in from_file:
            value = from_file[(s.section, s.key)]
        else:
            value = s.default
        setattr(args, s.dest, value)
    return args


def setting(section: str, key: str) -> Setting:
    return BY_TOML[(section, key)]


def add_flag(parser: argparse.ArgumentParser, section: str, key: str, *names: str) -> None:
    """Add the flag of a setting, its help saying the default, variable and TOML key."""
    s = setting(section, key)
    default = (
        "none" if s.default is None else str(s.default).lower() if s.kind == "bool" else s.default
    )
    extra = f" (default {default}; env {s.env}; config {s.toml})"
    kwargs: dict[str, Any] = {"default": None, "dest": s.dest, "help": s.help + extra}
    if s.kind == "bool":
        kwargs["action"] = "store_true"
    elif s.kind in ("int", "float"):
        kwargs["type"] = int if s.kind == "int" else float
    elif "|" in s.kind:
        kwargs["choices"] = s.kind.split("|")
    parser.add_argument(*(names or (s.flag,)), **kwargs)


def documented(text: str) -> Sequence[str]:
    """The settings a document fails to mention (each by TOML key, variable and flag)."""
    missing = []
    for s in SETTINGS:
        for needle in (f"`{s.key}`", s.env, s.flag):
            if needle not in text:
                missing.append(f"{s.toml}: {needle}")
    return missing
