"""A static mirror of the public site: ``frontier-ledger export-site --data DIR OUT``.

The site is not rendered a second way: the exporter builds the same FastAPI app
``serve --read-only`` runs, in this process, and crawls it over ASGI from ``/``,
following every same-site ``href``/``src`` in the HTML it gets back. What it writes:

- each page at ``OUT/<path>/index.html`` and its JSON twin (``?format=json``) at
  ``OUT/<path>/index.json``; CSV downloads at ``OUT/<path>/index.csv``;
- everything under ``/static/``, the Atom feed(s), ``/downloads/ledger.sqlite``
  and the JSON API documents the pages link to (``OUT/api/…/index.json``);
- the log itself, in the C2SP tlog-tiles layout, under ``OUT/log/``
  (:func:`ledger.read.mirror.export_log`, last, so the mirror's log holds every entry
  its pages show), so ``frontier-verify verify --log OUT/log`` checks the mirror;
- ``OUT/README.txt``: how to serve it and verify it.

URLs with query strings get paths of their own, and every link in the written
HTML is rewritten to them; search forms, which need the server, are replaced
with a pointer to the SQLite snapshot. Re-runs are incremental: unchanged files
are not rewritten. Memory stays flat in the size of the log.

The modules, in the order data flows through them:

- :mod:`~public_site.export.paths` — URL → file in the mirror (:class:`Target`,
  ``resolve``): pure functions, the mirror's layout;
- :mod:`~public_site.export.crawler` — the in-process ASGI client and the
  crawler: link rewriting, what was already taken, errors reported;
- :mod:`~public_site.export.writer` — incremental, atomic file writes and the
  counts (:class:`SiteExportStats`);
- :mod:`~public_site.export.run` — :func:`export_site`: arguments checked, the
  crawl in one process or shared among worker processes, then the log and
  README.txt.
"""

from public_site.export.run import ExportError, export_site
from public_site.export.writer import SiteExportStats

__all__ = ["ExportError", "SiteExportStats", "export_site"]
