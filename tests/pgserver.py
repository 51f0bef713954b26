"""Test helper: a throwaway PostgreSQL cluster (Debian's binaries), one database per test.

:class:`PgCluster` runs ``initdb`` into a new temporary directory and ``pg_ctl
start`` listening on 127.0.0.1 on a free port (its unix socket in that directory,
never the system's), with password-less ("trust") access for the superuser
``postgres``. As root, PostgreSQL refuses to run, so the directory is given to
the ``postgres`` user (which Debian's package creates) and every server command
runs through ``runuser -u postgres --``. :meth:`PgCluster.stop` stops the server
and deletes the directory; nothing else on the machine is touched.

Without the binaries (``/usr/lib/postgresql/*/bin/initdb``) the tests that need
PostgreSQL are skipped -- unless ``FRONTIER_REQUIRE_POSTGRES=1`` (``make test``
sets it), when they fail with a message saying how to install them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from ledger.ops.datadir import DataDir
from ledger.storage.postgres import PgStore
from ledger.storage.sqlite import SqliteStore
from tests.serverproc import free_port

REQUIRE_ENV = "FRONTIER_REQUIRE_POSTGRES"
BIN_GLOB = "/usr/lib/postgresql/*/bin"
#: Bounded waits for the server to start and stop (pg_ctl -t).
PG_CTL_TIMEOUT_S = 60
OS_USER = "postgres"


class PgUnavailable(RuntimeError):
    """PostgreSQL's binaries are not installed (or cannot run here)."""


def find_bindir() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian's layout)."""
    found = sorted(
        (p.parent for p in Path("/").glob(BIN_GLOB.lstrip("/") + "/initdb")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise PgUnavailable(
            f"PostgreSQL is not installed (no {BIN_GLOB}/initdb): run 'make postgres' "
            "or 'apt-get install postgresql'"
        )
    return found[-1]


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


class PgCluster:
    """One PostgreSQL server in a temporary directory, on 127.0.0.1:<free port>."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="frontier-pg-"))
        self.pgdata = self.dir / "data"
        self.logfile = self.dir / "server.log"
        self.port = 0
        self.as_root = os.geteuid() == 0
        self._names = itertools.count()
        self.started = False

    # -- running the server's commands -------------------------------------------------

    def _cmd(self, tool: str, *args: str) -> list[str]:
        cmd = [str(self.bindir / tool), *args]
        return ["runuser", "-u", OS_USER, "--", *cmd] if self.as_root else cmd

    def _run(self, tool: str, *args: str, timeout: float = PG_CTL_TIMEOUT_S + 30) -> str:
        proc = subprocess.run(
            self._cmd(tool, *args),
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} exited {proc.returncode}: "
                f"{(proc.stderr or proc.stdout).strip()[-2000:]}\n{self.log_tail()}"
            )
        return proc.stdout

    def log_tail(self, n: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return "server log tail:\n" + self.logfile.read_text(errors="replace")[-n:]
        return ""

    def _options(self) -> str:
        return (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
            "-c max_connections=300 -c log_min_messages=warning"
        )

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        if self.as_root:
            try:
                pw = pwd.getpwnam(OS_USER)
            except KeyError:
                raise PgUnavailable(
                    f"running as root, but there is no '{OS_USER}' user to run PostgreSQL as "
                    "(Debian's postgresql package creates it)"
                ) from None
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        # --no-sync: a throwaway cluster needs no fsync at creation (the server itself
        # runs with the default fsync = on).
        self._run(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        for _attempt in range(3):  # a free port may be taken between choosing and binding
            self.port = free_port()
            try:
                self._pg_ctl_start()
            except RuntimeError:
                if _attempt == 2:
                    raise
                continue
            self.started = True
            return

    def _pg_ctl_start(self) -> None:
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            str(PG_CTL_TIMEOUT_S),
            "-o",
            self._options(),
        )

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart -m MODE``: every session is ended, the server comes back."""
        self._run(
            "pg_ctl",
            "restart",
            "-D",
            str(self.pgdata),
            "-m",
            mode,
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            str(PG_CTL_TIMEOUT_S),
            "-o",
            self._options(),
        )

    def stop_server(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m MODE``: the server is down until :meth:`start_server`."""
        self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", mode, "-w")
        self.started = False

    def start_server(self) -> None:
        """Start the stopped server again, on the same port."""
        self._pg_ctl_start()
        self.started = True

    def stop(self) -> None:
        """Stop the server (if running) and delete its directory."""
        try:
            if self.started:
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w")
                self.started = False
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- databases -----------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url(), autocommit=True, connect_timeout=10)

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with contextlib.suppress(psycopg.Error), self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_cluster() -> PgCluster:
    """A running throwaway cluster, or PgUnavailable if PostgreSQL is not installed."""
    cluster = PgCluster(find_bindir())
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def second_writer_store(data: DataDir) -> SqliteStore | PgStore:
    """The log of *data* opened for writing a second time, as a second process would.

    SQLite: another connection (its write lock serialises the two). PostgreSQL:
    WITHOUT the writer's advisory lock -- as if it were bypassed -- so tests can
    show that the head's compare-and-swap alone never lets two writers fork the log.
    """
    if data.database:
        return PgStore.open(data.database, data.root, exclusive=False)
    return SqliteStore.open(data.db_path)


def cluster_or_skip() -> PgCluster:
    """A new running cluster; skip the test without PostgreSQL -- or fail it, with a
    message saying how to install it, when FRONTIER_REQUIRE_POSTGRES=1."""
    try:
        return start_cluster()
    except PgUnavailable as exc:
        if required():
            pytest.fail(f"{REQUIRE_ENV}=1 but {exc}", pytrace=False)
        pytest.skip(str(exc))
