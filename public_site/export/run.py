"""``export_site()``: the export's steps, in one process or shared among several.

It checks its arguments, builds the read-only app (``app_factory``) in this
process and crawls it (:class:`~public_site.export.crawler.SiteCrawler`); with
``jobs`` > 1, worker processes (spawned, each building its own app) crawl their
share of the entry pages while this one crawls the rest. Once every crawl is
done it writes the log in the C2SP tlog-tiles layout
(:func:`ledger.read.mirror.export_log`, last, so the mirror's log holds every
entry its pages show), the log's witness policy beside it (``OUT/log/witnesses.policy``,
which the pages link to), and ``OUT/README.txt``: how to serve and verify the mirror.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from fastapi import FastAPI

from ledger.errors import DataDirError
from ledger.ops.clock import Clock
from ledger.ops.datadir import DataDir
from ledger.read.mirror import export_log
from ledger.read.reader import LogReader
from ledger.storage.backends import open_store
from public_site.export.crawler import SiteCrawler
from public_site.export.paths import DEFAULT_ORIGIN
from public_site.export.writer import SiteExportStats
from verifier.core.prover import Prover

README = """\
A static mirror of the Frontier Ledger public site
==================================================

Log:        {origin}
Tree size:  {size} entries
Exported:   {when} (frontier-ledger export-site)
Log key:    {vkey}

Every page is OUT/<path>/index.html, with its machine-readable twin beside it
(index.json); pages with query strings on the live site have paths of their own
here (/entries?after=50 is /entries/after=50). The log itself, in the C2SP
tlog-tiles layout, is in log/; the whole log as one SQLite file (opens in
Datasette) is downloads/ledger.sqlite.

Serving it
----------
Any static web server will do, as long as it maps /x to /x/index.html when /x is
a directory. Serve it {where}. The nginx configuration to use is
docker/nginx/mirror.conf in the Frontier Ledger source: it also sends the
headers the C2SP tlog-tiles spec asks for (tiles cached for a year as immutable,
the checkpoint for a few seconds), the full entry bundles stored gzipped beside
themselves (log/tile/entries/N.gz), and the site's Content-Security-Policy. In
short:

    server {{
        listen 80;
        server_name ledger.example.org;
        root /var/www/ledger-mirror;          # this directory
        # mirror.conf holds "try_files $uri $uri/index.html =404;" and the headers
        include /etc/nginx/frontier-ledger/mirror.conf;
    }}

To look at it locally: python3 -m http.server --directory . 8000

Verifying it
------------
Do not trust this mirror, or the site it copies: verify the log. Obtain the
log's key from an official source and compare it with the one above, then:

    pip install frontier-ledger      # the verifier needs only 'cryptography'
    frontier-verify verify --log {out_log} --vkey '{vkey}'

or, once it is served, --log https://<host>/log. The verifier fetches every
tile and entry, recomputes the Merkle tree and checks the signed checkpoint;
"frontier-verify audit" also replays the schedule's rules. Each entry page
shows an inclusion proof and a receipt that "frontier-verify proof" checks
offline.
"""


class ExportError(DataDirError):
    """The site cannot be exported (bad --base-url, output directory is the data directory…)."""


def _check_base_url(base_url: str | None) -> str:
    """The origin to crawl as: --base-url's scheme and host, or a placeholder."""
    if base_url is None:
        return DEFAULT_ORIGIN
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ExportError(
            f"--base-url {base_url!r} is not an http(s) URL without query or fragment, "
            "e.g. https://ledger.example.org"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _tree_size(data: DataDir) -> int:
    store = open_store(data, readonly=True)
    try:
        return store.head().size
    finally:
        store.close()


@dataclass(frozen=True)
class Job:
    """One process's share of an export (picklable: it is sent to worker processes)."""

    data: DataDir
    out: Path
    origin: str
    base_url: str | None
    clock: Clock | None
    size: int
    #: builds the read-only app to crawl (a module-level function: it is pickled by name)
    app_factory: AppFactory
    shard: int = 0
    jobs: int = 1
    progress: bool = False


#: (data directory, simulated clock) -> the site's app, read-only
AppFactory = Callable[[DataDir, "Clock | None"], FastAPI]


def export_site(
    data: DataDir,
    out: Path,
    app_factory: AppFactory,
    *,
    base_url: str | None = None,
    clock: Clock | None = None,
    progress: bool | None = None,
    jobs: int = 1,
) -> SiteExportStats:
    """Write the public site of the log in *data* as static files under *out*, crawling
    the app *app_factory* builds (``frontier_ledger.app.read_only_app``).

    With *jobs* > 1 the entry pages are shared among that many processes (blocks
    of 256 entries each, dealt in turn); this process crawls everything else,
    then writes the log and README.txt once every process is done.
    """
    data.check_initialised()
    if out.resolve() == data.root.resolve():
        raise ExportError("the output directory must not be the data directory")
    if jobs < 1:
        raise ExportError("--jobs must be 1 or more")
    origin = _check_base_url(base_url)
    out.mkdir(parents=True, exist_ok=True)
    job = Job(data, out, origin, base_url, clock, _tree_size(data), app_factory, jobs=jobs)
    if progress is None:
        progress = sys.stderr.isatty()
    t0 = time.perf_counter()
    if jobs == 1:
        stats = asyncio.run(_main_shard(replace(job, progress=progress), []))
    else:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
        with ProcessPoolExecutor(jobs - 1, mp_context=ctx) as pool:
            workers = [pool.submit(_worker, replace(job, shard=i)) for i in range(1, jobs)]
            stats = asyncio.run(_main_shard(replace(job, progress=progress), workers))
    stats.seconds = time.perf_counter() - t0
    return stats


def _app(job: Job) -> FastAPI:
    return job.app_factory(job.data, job.clock)


class _SharedProverReader(LogReader):
    """A LogReader whose inclusion proofs share one :class:`Prover` per tree size.

    ``LogReader.inclusion`` builds a fresh Prover per proof, rehashing the upper
    nodes of partial tiles every time (about 1.3 ms a proof at 10^5 entries), and
    a crawl asks for three proofs per entry. One Prover serves every proof of a
    tree size (it caches tiles as read at that size); it is replaced when the
    size changes, and now and then to keep memory flat.
    """

    RESET_EVERY = 4096

    def __init__(self, reader: LogReader) -> None:
        super().__init__(reader.store, reader.blobs_dir)
        self._lock = threading.Lock()
        self._prover = Prover(self.store.read_tile)
        self._prover_size = -1
        self._uses = 0

    def inclusion(self, index: int, size: int | None = None) -> tuple[int, list[bytes]]:
        n = self._size(size)
        if not 0 <= index < n:
            return super().inclusion(index, size)  # raises NotFound, worded as the site's
        with self._lock:
            self._uses += 1
            if n != self._prover_size or self._uses % self.RESET_EVERY == 0:
                self._prover = Prover(self.store.read_tile)
                self._prover_size = n
            return n, self._prover.inclusion(index, n)


def _crawler(app: FastAPI, job: Job) -> SiteCrawler:
    app.state.reader = _SharedProverReader(app.state.reader)
    return SiteCrawler(app, job)


def _worker(job: Job) -> SiteExportStats:
    """A worker process: its share of the entry pages."""

    async def run() -> SiteExportStats:
        app = _app(job)
        async with app.router.lifespan_context(app):
            crawler = _crawler(app, job)
            await crawler.crawl()
            return crawler.stats

    return asyncio.run(run())


async def _main_shard(job: Job, workers: list[Future[SiteExportStats]]) -> SiteExportStats:
    app = _app(job)
    async with app.router.lifespan_context(app):
        crawler = _crawler(app, job)
        await crawler.crawl()
        stats = crawler.stats
        loop = asyncio.get_running_loop()
        for w in workers:
            stats.merge(await asyncio.wrap_future(w, loop=loop))
        state = app.state
        # The log last: every entry a page shows is in it.
        cosign: Callable[[int, bytes], bytes] | None = (
            state.witnesses.with_cosignatures if state.witnesses is not None else None
        )
        stats.log = export_log(state.reader, job.out / "log", cosign)
        # The witness policy the pages link to (/log/witnesses.policy), beside the log.
        if state.witness_policy_path.is_file():
            policy = state.witness_policy_path.read_bytes()
            crawler.writer.put(PurePosixPath("log", "witnesses.policy"), policy)
        crawler.writer.put(
            PurePosixPath("README.txt"),
            README.format(
                origin=state.reader.store.origin,
                size=stats.log.size,
                when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                vkey=state.vkey,
                out_log=job.out / "log",
                where=(
                    f"at {crawler.prefix}/ of its host (it was exported for --base-url "
                    f"{job.base_url}: its links start with {crawler.prefix}/)"
                    if crawler.prefix
                    else "at the root of a host"
                ),
            ).encode(),
        )
    return stats
