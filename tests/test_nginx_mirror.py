"""A real nginx serving the static mirror with the canonical config, docker/nginx/mirror.conf.

A synthetic log is exported with ``frontier-ledger export-site`` (the site, and
the log in the C2SP tlog-tiles layout under ``log/``) into the root of a real
nginx (tests/nginxproc.py) that includes docker/nginx/mirror.conf unchanged --
the file docs/operator.md and docker/compose.yaml point to. Then:

- ``frontier-verify verify --log http://127.0.0.1:PORT/log`` accepts the mirror;
- the headers follow C2SP tlog-tiles: the checkpoint is ``text/plain;
  charset=utf-8`` and not cached beyond a few seconds; every tile and entry
  bundle, full and partial, is ``application/octet-stream``, long-lived and
  ``immutable``; entry bundles are gzip-compressed when the client accepts it;
- every tlog-tiles path answers the same bytes and the same caching headers as
  ``frontier-ledger serve`` on the same log;
- the site's pages, twins, CSV, feed, static files and snapshot answer 200 with
  the live site's content types and security headers;
- while the writer appends and ``export-site`` re-syncs the same directory,
  nginx keeps serving a log that verifies at every moment; afterwards
  ``verify --state`` checks the new checkpoint against the first, nginx serves
  the new checkpoint at once, and a mirror rolled back to the old checkpoint
  is refused.

Skipped without nginx, unless FRONTIER_REQUIRE_NGINX=1 (``make test``).
"""

from __future__ import annotations

import gzip
import http.client
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from public_site.render import SECURITY_HEADERS
from tests.nginxproc import MIRROR_CONF, NginxMirror, nginx_or_skip
from tests.serverproc import REPO, ServerProcess, init_test_log, make_envelopes, run_cli
from verifier.core.tiles import ENTRIES, TILE_WIDTH, tiles_for_size

ORIGIN = "mirror.test.example/log"
FIRST = 300  # one full tile and bundle (256) and partial ones of width 44
MORE = 300  # after the sync: 600 = two full tiles, partial ones of width 88
ONE_DAY = 86_400
VERIFY_TIMEOUT_S = 60


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes  # as sent: still compressed if Content-Encoding says so

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def fetch(base_url: str, path: str, **headers: str) -> Reply:
    """One GET with exactly *headers* (no implicit Accept-Encoding), the body undecoded."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        conn.request("GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()})
        r = conn.getresponse()
        return Reply(r.status, r.headers, r.read())
    finally:
        conn.close()


def verify(log_url: str, vkey: str, state: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``frontier-verify verify --log URL --vkey V [--state S]``, the installed command."""
    exe = Path(sys.executable).parent / "frontier-verify"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "verifier.cli"]
    cmd += ["verify", "--log", log_url, "--vkey", vkey, "--jobs", "1"]
    if state is not None:
        cmd += ["--state", str(state)]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=VERIFY_TIMEOUT_S, check=False, cwd=REPO
    )


def max_age(cache_control: str) -> int:
    m = re.search(r"(?:^|[,\s])max-age=(\d+)", cache_control)
    assert m, f"no max-age in Cache-Control: {cache_control!r}"
    return int(m.group(1))


def log_paths(size: int) -> tuple[list[str], list[str]]:
    """(full, partial) tile and entry-bundle paths of a tree of *size*, under /log/."""
    full, partial = [], []
    for level in (0, 1, 2, ENTRIES):
        for t in tiles_for_size(size, level):
            (full if t.width == TILE_WIDTH else partial).append("/log/" + t.path)
    return full, partial


def export_site(data: Path, out: Path) -> str:
    return run_cli("export-site", "--data", str(data), str(out), timeout=120)


@dataclass
class Mirror:
    data: Path
    vkey: str
    nginx: NginxMirror

    @property
    def log_url(self) -> str:
        return self.nginx.url("/log")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirror]:
    """A synthetic log of FIRST entries, exported with export-site, served by nginx."""
    nginx = NginxMirror(nginx_or_skip())
    try:
        data, vkey = init_test_log(tmp_path_factory.mktemp("nginx-mirror") / "data", ORIGIN)
        run_cli("synth", "--data", str(data.root), "--count", str(FIRST), "--batch", "50")
        export_site(data.root, nginx.root)
        nginx.start()
        yield Mirror(data.root, vkey, nginx)
    finally:
        nginx.close()


@pytest.fixture(scope="module")
def live(mirror: Mirror) -> Iterator[ServerProcess]:
    """``frontier-ledger serve --read-only`` on the same data directory."""
    server = ServerProcess(mirror.data, extra=["--read-only"])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_verifier_accepts_the_mirror_over_http(mirror: Mirror) -> None:
    r = verify(mirror.log_url, mirror.vkey)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"VERIFIED {ORIGIN}: tree size {FIRST},")
    # It read the log from nginx, tiles and gzip-compressed bundles alike.
    access = (mirror.nginx.dir / "access.log").read_text()
    assert '"GET /log/tile/entries/000 HTTP/1.1" 200' in access
    assert '"GET /log/tile/0/001.p/44 HTTP/1.1" 200' in access


def test_checkpoint_is_text_and_not_cached_beyond_a_few_seconds(mirror: Mirror) -> None:
    r = fetch(mirror.nginx.base_url, "/log/checkpoint")
    assert r.status == 200
    assert r.body == (mirror.nginx.root / "log" / "checkpoint").read_bytes()
    assert r.body.startswith(ORIGIN.encode() + b"\n300\n")
    # tlog-tiles: "with Content-Type: text/plain; charset=utf-8" ... "This endpoint is
    # mutable, so its headers SHOULD prevent caching beyond a few seconds."
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    cache = r.header("Cache-Control") or ""
    assert "immutable" not in cache
    assert "no-cache" in cache or "no-store" in cache or max_age(cache) <= 10, cache
    # No validator that could match an older checkpoint (ETag is mtime-seconds + length).
    assert r.header("ETag") is None
    assert r.header("Access-Control-Allow-Origin") == "*"


def test_tiles_and_bundles_are_immutable_full_and_partial(mirror: Mirror) -> None:
    full, partial = log_paths(FIRST)
    assert "/log/tile/0/000" in full and "/log/tile/entries/000" in full
    assert "/log/tile/0/001.p/44" in partial and "/log/tile/entries/001.p/44" in partial
    assert "/log/tile/1/000.p/1" in partial
    for path in full + partial:
        r = fetch(mirror.nginx.base_url, path)
        assert r.status == 200, path
        assert r.body == (mirror.nginx.root / path.lstrip("/")).read_bytes(), path
        # tlog-tiles: tiles and bundles, with or without .p/<W>, are "immutable, so
        # [their] caching headers SHOULD be long-lived"; application/octet-stream.
        assert r.header("Content-Type") == "application/octet-stream", path
        cache = r.header("Cache-Control") or ""
        assert "immutable" in cache and "public" in cache, (path, cache)
        assert max_age(cache) >= 365 * ONE_DAY, (path, cache)
        assert r.header("Access-Control-Allow-Origin") == "*", path
    # A tile that does not exist is a plain 404, and not marked cacheable for a year.
    missing = fetch(mirror.nginx.base_url, "/log/tile/0/002")
    assert missing.status == 404
    assert "immutable" not in (missing.header("Cache-Control") or "")


def test_entry_bundles_are_gzip_compressed_when_accepted(mirror: Mirror) -> None:
    for path in ("/log/tile/entries/000", "/log/tile/entries/001.p/44"):
        on_disk = (mirror.nginx.root / path.lstrip("/")).read_bytes()
        z = fetch(mirror.nginx.base_url, path, Accept_Encoding="gzip, identity")
        assert z.status == 200
        assert z.header("Content-Encoding") == "gzip", path
        assert "Accept-Encoding" in (z.header("Vary") or ""), path
        assert z.header("Content-Type") == "application/octet-stream"
        assert len(z.body) < len(on_disk)
        assert gzip.decompress(z.body) == on_disk, path
        plain = fetch(mirror.nginx.base_url, path, Accept_Encoding="identity")
        assert plain.header("Content-Encoding") is None
        assert plain.body == on_disk
    # The export stores each full bundle gzipped beside it, and nginx sends that file
    # as it is (gzip_static) instead of compressing the bundle on every request.
    bundle = mirror.nginx.root / "log" / "tile" / "entries" / "000"
    precompressed = bundle.with_name("000.gz").read_bytes()
    assert gzip.decompress(precompressed) == bundle.read_bytes()
    z = fetch(mirror.nginx.base_url, "/log/tile/entries/000", Accept_Encoding="gzip")
    assert (z.header("Content-Encoding"), z.body) == ("gzip", precompressed)
    assert z.header("Content-Type") == "application/octet-stream"
    assert "immutable" in (z.header("Cache-Control") or "")
    # Partial bundles are never stored gzipped (only full ones are immutable content).
    gzipped = list((mirror.nginx.root / "log").rglob("*.gz"))
    assert gzipped and all(p.parent.name == "entries" for p in gzipped), gzipped


def test_the_mirror_answers_as_the_live_server_does(mirror: Mirror, live: ServerProcess) -> None:
    full, partial = log_paths(FIRST)
    for path in ["/log/checkpoint", *full, *partial]:
        ours = httpx.get(live.url(path), timeout=10)  # httpx decodes gzip
        theirs = httpx.get(mirror.nginx.url(path), timeout=10)
        assert ours.status_code == theirs.status_code == 200, path
        assert theirs.content == ours.content, path
        for name in ("Content-Type", "Cache-Control", "Access-Control-Allow-Origin"):
            assert theirs.headers.get(name) == ours.headers.get(name), (path, name)
        if path.startswith("/log/tile/entries/"):
            assert theirs.headers.get("Content-Encoding") == ours.headers.get("Content-Encoding")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value and value.startswith("/"):
                self.links.add(value.split("#")[0])


def test_site_pages_are_served_with_the_live_sites_headers(mirror: Mirror) -> None:
    base = mirror.nginx.base_url
    home = fetch(base, "/")
    assert home.status == 200
    assert home.header("Content-Type") == "text/html; charset=utf-8"
    for name, value in SECURITY_HEADERS.items():
        assert home.header(name) == value, name
    assert "no-cache" in (home.header("Cache-Control") or "")
    # Every same-site link and script on the home page resolves on nginx.
    parser = _Links()
    parser.feed(home.body.decode())
    assert "/entries" in parser.links
    for link in sorted(parser.links):
        assert fetch(base, link).status == 200, link
    expected = {
        "/entries": "text/html; charset=utf-8",
        "/entries/5": "text/html; charset=utf-8",
        "/entries/5/index.json": "application/json",
        "/entries/index.csv": "text/csv; charset=utf-8",
        "/feeds/entries.atom": "application/atom+xml; charset=utf-8",
        "/static/site.css": "text/css; charset=utf-8",
        "/static/verify.js": "text/javascript; charset=utf-8",
        "/static/favicon.svg": "image/svg+xml",
        "/downloads/ledger.sqlite": "application/vnd.sqlite3",
    }
    for path, content_type in expected.items():
        r = fetch(base, path)
        assert r.status == 200, path
        assert r.header("Content-Type") == content_type, path
        assert r.header("Content-Security-Policy") == SECURITY_HEADERS["Content-Security-Policy"]
    entry = fetch(base, "/entries/5").body.decode()
    assert 'src="/static/verify.js"' in entry  # the in-browser check ships with the page
    snapshot = fetch(base, "/downloads/ledger.sqlite")
    assert snapshot.body.startswith(b"SQLite format 3\x00")
    assert fetch(base, "/entries/999999").status == 404
    assert fetch(base, "/no/such/page").status == 404


def test_the_docs_and_compose_use_the_tested_config() -> None:
    """One nginx config: what docs/operator.md and docker/compose.yaml use is what is tested."""
    operator = (REPO / "docs" / "operator.md").read_text()
    assert "docker/nginx/mirror.conf" in operator
    # No second, untested copy of the mirror's headers in the guide.
    assert "add_header Cache-Control" not in operator
    compose = (REPO / "docker" / "compose.yaml").read_text()
    assert "./nginx/mirror.conf:" in compose
    assert MIRROR_CONF.is_file()


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[ServerProcess, str, NginxMirror]]:
    """A writer (``frontier-ledger serve``) with FIRST entries, exported and served by nginx."""
    nginx = NginxMirror(nginx_or_skip())
    server: ServerProcess | None = None
    try:
        data, vkey = init_test_log(tmp_path / "data", ORIGIN)
        run_cli("synth", "--data", str(data.root), "--count", str(FIRST), "--batch", "50")
        server = ServerProcess(data.root)
        server.start()
        export_site(data.root, nginx.root)  # beside the running writer, as the exporter job does
        nginx.start()
        yield server, vkey, nginx
    finally:
        nginx.close()
        if server is not None:
            server.stop()


def test_resync_while_nginx_serves_keeps_the_log_verifiable(
    writer: tuple[ServerProcess, str, NginxMirror], tmp_path: Path
) -> None:
    server, vkey, nginx = writer
    log_url = nginx.url("/log")
    state = tmp_path / "verify-state"
    first = verify(log_url, vkey, state)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"tree size {FIRST}," in first.stdout
    old_checkpoint = (nginx.root / "log" / "checkpoint").read_bytes()
    old_modified = fetch(nginx.base_url, "/log/checkpoint").header("Last-Modified") or ""

    # The writer takes MORE entries over HTTP, then export-site syncs the same directory
    # while nginx serves it, and a verifier reads the mirror again and again meanwhile.
    envelopes = make_envelopes(ORIGIN, MORE, start=FIRST)
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda env: client.post(server.url("/api/v1/entries"), json=env).status_code,
                envelopes,
            )
        )
    assert set(codes) <= {200, 201}, sorted(set(codes))
    export_cmd = ["export-site", "--data", str(server.data), str(nginx.root)]
    sync = subprocess.Popen(
        [sys.executable, "-m", "frontier_ledger", *export_cmd],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    during: list[subprocess.CompletedProcess[str]] = []
    try:
        while sync.poll() is None and len(during) < 50:
            during.append(verify(log_url, vkey))
        out, err = sync.communicate(timeout=120)
    finally:
        if sync.poll() is None:
            sync.kill()
            sync.wait()
    assert sync.returncode == 0, err
    assert f"tree size {FIRST + MORE}" in out
    assert during, "the export finished before the first verification did"
    for r in during:
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.search(rf"tree size ({FIRST}|{FIRST + MORE}),", r.stdout), r.stdout

    # nginx serves the new checkpoint at once, even to a client revalidating the old one.
    new_checkpoint = (nginx.root / "log" / "checkpoint").read_bytes()
    assert new_checkpoint.startswith(ORIGIN.encode() + f"\n{FIRST + MORE}\n".encode())
    assert fetch(nginx.base_url, "/log/checkpoint").body == new_checkpoint
    again = fetch(nginx.base_url, "/log/checkpoint", If_Modified_Since=old_modified)
    assert (again.status, again.body) == (200, new_checkpoint)
    assert fetch(nginx.base_url, "/entries/599").status == 200
    # tlog-tiles: partial tiles of every published size stay served.
    for path in ("/log/tile/0/001.p/44", "/log/tile/entries/001.p/44", "/log/tile/0/002.p/88"):
        assert fetch(nginx.base_url, path).status == 200, path

    second = verify(log_url, vkey, state)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"tree size {FIRST + MORE}," in second.stdout
    assert f"{MORE} new entries verified since size {FIRST}" in second.stdout
    assert f"consistent with the last verified size {FIRST}" in second.stdout + second.stderr

    # A mirror rolled back to the old checkpoint is refused against the saved state.
    tmp = nginx.root / "log" / ".checkpoint.rollback"
    tmp.write_bytes(old_checkpoint)
    tmp.replace(nginx.root / "log" / "checkpoint")
    time.sleep(0.01)
    rolled = verify(log_url, vkey, state)
    assert rolled.returncode == 3, rolled.stdout + rolled.stderr
    # Not one request of all of this hit a missing file or any other nginx error.
    assert nginx.error_lines() == []
