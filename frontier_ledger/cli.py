"""``frontier-ledger``: the ledger's commands, serving the public site too, and ``export-site``.

The commands themselves live in :mod:`ledger.cli` (the log) and here (the site's
static export); this module only puts them together.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from frontier_ledger.app import create_app
from ledger.cli import main as ledger_cli
from ledger.demo.clock import data_clock
from ledger.ops.clock import FileClock
from ledger.ops.datadir import DataDir


def cmd_export_site(args: argparse.Namespace) -> int:
    from frontier_ledger.app import read_only_app
    from public_site.export import export_site

    data = DataDir.at(args.data, args.key, args.database)
    # A simulation's data directory carries its calendar (DATA/clock).
    clock = FileClock(Path(args.simulated_clock)) if args.simulated_clock else data_clock(data)
    stats = export_site(
        data,
        Path(args.out),
        read_only_app,
        base_url=args.base_url,
        clock=clock,
        jobs=args.jobs,
    )
    log = stats.log
    print(
        f"Exported the site of tree size {stats.size} to {args.out} in {stats.seconds:.1f} s: "
        f"{stats.pages} pages (each with its JSON twin) and {stats.files} other files; "
        f"{stats.written} files written ({stats.bytes_written} bytes), "
        f"{stats.unchanged} unchanged"
    )
    if log is not None:
        print(
            f"  log: tree size {log.size} in {Path(args.out) / 'log'}: {log.written} files "
            f"written, {log.skipped} already present"
        )
    if stats.error_count:
        print(
            f"  {stats.error_count} linked URLs answered an error (a page's error page is "
            f"mirrored as the site shows it): {', '.join(stats.errors[:10])}"
        )
    return 1 if stats.server_errors else 0


def _add_export_site(sub: Any, data_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    sp = sub.add_parser(
        "export-site", help="write the public site and the log as static files (a mirror)"
    )
    data_arg(sp)
    sp.add_argument("out", help="output directory (created if missing; re-runs are incremental)")
    sp.add_argument(
        "--base-url",
        metavar="URL",
        help="where the mirror will be served, e.g. https://ledger.example.org: the feed's "
        "links are made absolute with it, and a path in it prefixes every link",
    )
    sp.add_argument(
        "--simulated-clock",
        metavar="FILE",
        help="take the site's time from FILE (RFC 3339), as serve does; simulations only",
    )
    sp.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="share the entry pages among N processes (default 1)",
    )
    sp.set_defaults(func=cmd_export_site)


def build_parser() -> argparse.ArgumentParser:
    return ledger_cli.build_parser(create_app, _add_export_site, ("-m", "frontier_ledger"))


def main(argv: Sequence[str] | None = None) -> int:
    return ledger_cli.main(argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
