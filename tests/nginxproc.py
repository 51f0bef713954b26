"""Test helper: a real nginx (Debian's) serving a static mirror with docker/nginx/mirror.conf.

:class:`NginxMirror` makes a temporary directory of its own (mode 0755, so that
nginx's unprivileged worker can read it), writes a minimal ``nginx.conf`` there
whose one server listens on 127.0.0.1:<free port>, has its ``root`` at
``DIR/www`` and includes the project's canonical mirror configuration
(``docker/nginx/mirror.conf``, the file docs/operator.md and docker/compose.yaml
use) unchanged, and runs ``nginx -p DIR -c DIR/nginx.conf -e DIR/error.log`` in
the foreground (``daemon off``). The pid file, error and access logs and temp
directories all stay in DIR; no system file or service is touched. As root, the
workers run as ``nobody`` -- as a packaged nginx's workers do not run as the
user who wrote the export -- so an export that wrote files only its owner can
read would fail the tests. :meth:`NginxMirror.stop` stops that one process (by
its pid) and deletes DIR.

Without nginx the tests that need it are skipped -- unless
``FRONTIER_REQUIRE_NGINX=1`` (``make test`` sets it, after ``make nginx``
installed the package), when they fail with a message saying how to install it.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.serverproc import REPO, free_port

REQUIRE_ENV = "FRONTIER_REQUIRE_NGINX"
#: The one nginx configuration of the mirror: documented, deployed and tested.
MIRROR_CONF = REPO / "docker" / "nginx" / "mirror.conf"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
{user}
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {access_log};
    sendfile on;
    client_body_temp_path {dir}/tmp/client_body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
        include {mirror_conf};
    }}
}}
"""


class NginxUnavailable(RuntimeError):
    """nginx is not installed."""


def find_nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise NginxUnavailable(
            "nginx is not installed: run 'make nginx' or 'apt-get install nginx'"
        )
    return found


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def nginx_or_skip() -> str:
    """nginx's path; skip the test without it, or fail when FRONTIER_REQUIRE_NGINX=1."""
    try:
        return find_nginx()
    except NginxUnavailable as exc:
        if required():
            pytest.fail(f"{REQUIRE_ENV}=1 but {exc}", pytrace=False)
        pytest.skip(str(exc))


def _worker_user() -> str:
    """The ``user`` directive: as root, the workers run as nobody (Debian: nobody:nogroup)."""
    if os.geteuid() != 0:
        return ""  # an unprivileged master runs its workers as itself
    nobody = pwd.getpwnam("nobody")
    return f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"


def _children(pid: int) -> list[int]:
    """The pids whose parent is *pid* (nginx's workers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):
            found.append(int(stat.parent.name))
    return found


class NginxMirror:
    """One nginx serving ``self.root`` (initially empty) with docker/nginx/mirror.conf."""

    def __init__(
        self, nginx: str | None = None, *, workers: int = 1, access_log: bool = True
    ) -> None:
        self.nginx = nginx or find_nginx()
        self.workers = workers
        #: Off for benchmarks: logging every request costs nginx time.
        self.access_log = access_log
        self.dir = Path(tempfile.mkdtemp(prefix="frontier-nginx-"))
        self.dir.chmod(0o755)  # mkdtemp makes it 0700: the workers could not enter it
        (self.dir / "tmp").mkdir()
        self.root = self.dir / "www"
        self.root.mkdir()
        self.root.chmod(0o755)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def error_log(self) -> Path:
        return self.dir / "error.log"

    def _log_tail(self, n: int = 2000) -> str:
        text = ""
        for name in ("nginx.out", "error.log"):
            with contextlib.suppress(OSError):
                text += f"--- {name}\n" + (self.dir / name).read_text(errors="replace")[-n:]
        return text

    def _write_conf(self) -> Path:
        conf = self.dir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                user=_worker_user(),
                workers=self.workers,
                access_log=f"{self.dir}/access.log" if self.access_log else "off",
                dir=self.dir,
                port=self.port,
                root=self.root,
                mirror_conf=MIRROR_CONF,
            )
        )
        return conf

    def start(self) -> None:
        """Start nginx and wait (bounded) until it answers; retry on another port once or twice."""
        if self.proc is not None:
            raise RuntimeError("nginx already running")
        for _attempt in range(3):
            self.port = free_port()
            conf = self._write_conf()
            with open(self.dir / "nginx.out", "ab") as out:
                self.proc = subprocess.Popen(
                    [self.nginx, "-p", str(self.dir), "-c", str(conf), "-e", str(self.error_log)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_ready():
                return
            self.proc = None  # it exited: most likely the port was taken meanwhile
        raise RuntimeError(f"nginx did not start; logs:\n{self._log_tail()}")

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    client.get(self.url("/"))  # any HTTP answer (404 on an empty root) will do
                    return True
                except httpx.TransportError:
                    time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not answer within {START_TIMEOUT_S} s:\n{self._log_tail()}")

    def error_lines(self) -> list[str]:
        """Lines of error.log at level error or worse (not the [warn]/[notice] ones)."""
        try:
            text = self.error_log.read_text(errors="replace")
        except OSError:
            return []
        levels = ("[error]", "[crit]", "[alert]", "[emerg]")
        return [line for line in text.splitlines() if any(lv in line for lv in levels)]

    def stop(self) -> None:
        """Stop nginx (SIGQUIT: graceful; SIGKILL if it hangs). Its directory is kept."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            workers = _children(proc.pid)  # a killed master leaves its workers running
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop nginx and delete its directory (the served files too)."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> NginxMirror:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
