"""``frontier-ledger demo`` and ``demo-split-view``: the witnessed demonstration.

``demo`` builds the three-cycle simulation (:mod:`ledger.demo.build`) with two
fictional countries' witnesses cosigning every checkpoint, writes its static
mirror and its tlog-policy, and with ``--serve`` starts the witnesses again and
serves it. ``demo-split-view`` shows the witnesses refusing a second history
signed with the demo's own key (:mod:`ledger.demo.split_view`).
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

from ledger.demo import witnesses as demo_witnesses
from ledger.errors import DemoError
from ledger.ops import config
from ledger.ops.datadir import DataDir


def cmd_demo(args: argparse.Namespace) -> int:
    # The demo starts witness processes. A SIGTERM must end it through its finally
    # clauses, which stop them (a crash point: the default handler would end this
    # process at once and orphan them). uvicorn, too, raises SIGTERM again after
    # its graceful stop, with the handler found at its start: this one.
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        return _demo(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _demo(args: argparse.Namespace) -> int:
    from ledger.cli.main import print_report
    from ledger.demo.build import build_demo

    root = Path(args.data)
    print(
        f"Building the demonstration log (a simulation, October 2026 to January 2030) in {root} …"
    )
    result = build_demo(root, database=args.database, witnessed=True)
    size = _export(result.data)
    violations = len(result.report.violations)
    print(
        f"  {result.entries} scenario entries and {result.markers} schedule markers logged; "
        f"tree size {size}, every checkpoint cosigned by both witnesses"
    )
    print(f"  policy audit: {len(result.report.findings)} findings, {violations} violations")
    print(f"  static mirror: {root / 'static' / 'log'}")
    print(f"  log vkey: {result.vkey}")
    if violations:
        print_report(result.report, False)
        return 1
    if not args.serve:
        print(f"  witness policy (tlog-policy): {root / demo_witnesses.POLICY}")
        return 0
    return _serve(args, root, result.vkey)


def _serve(args: argparse.Namespace, root: Path, vkey: str) -> int:
    """Start the witnesses again, on the two ports after the server's, then serve."""
    from ledger.cli.main import build_parser
    from ledger.cli.serve import cmd_serve

    base = f"http://{args.host}:{args.port}"
    ports = {w.name: args.port + 1 + i for i, w in enumerate(demo_witnesses.witnesses(root))}
    with _start_witnesses(root, ports) as running:
        policy = demo_witnesses.write_policy(root, vkey, running.urls, f"{base}/log")
        try:
            _print_guide(root, base, policy, running)
            serve = build_parser(args.app_factory, args.add_commands).parse_args(
                [
                    "serve",
                    "--data",
                    str(root),
                    "--host",
                    args.host,
                    "--port",
                    str(args.port),
                    *(["--database", args.database] if args.database else []),
                ]
            )
            # Defaults only: a configuration meant for a real log (its database, its
            # backups) must never reach the demonstration.
            config.resolve(serve, "serve", environ={})
            return cmd_serve(serve)
        finally:
            # Addresses of processes that are gone must not outlive them.
            demo_witnesses.write_policy(root, vkey, {})


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)  # a requested stop


def _start_witnesses(root: Path, ports: dict[str, int]) -> demo_witnesses.Running:
    """The witnesses on the ports beside the server's, or on any free ones if taken."""
    try:
        return demo_witnesses.Running(root, ports)
    except DemoError:
        return demo_witnesses.Running(root)


def _export(data: DataDir) -> int:
    """The static mirror, its checkpoint carrying both witnesses' cosignatures."""
    from ledger.read.mirror import export_log
    from ledger.read.reader import LogReader
    from ledger.storage.backends import open_store
    from ledger.write.witnessing import WitnessCollector
    from verifier.core.trust_policy import parse_trust_policy

    store = open_store(data, readonly=True)
    try:
        reader = LogReader(store)
        policy = parse_trust_policy((data.root / demo_witnesses.POLICY).read_text())
        cosign = WitnessCollector(policy, reader).with_cosignatures
        return export_log(reader, data.root / "static" / "log", cosign).size
    finally:
        store.close()


def _print_guide(root: Path, base: str, policy: str, running: Any) -> None:
    countries = {w.name: w.country for w in demo_witnesses.witnesses(root)}
    lines = "\n".join(
        f"  {name:<10} {url}/add-checkpoint  ({countries[name]}, fictional)"
        for name, url in running.urls.items()
    )
    print(
        f"""
Open (the log is a SIMULATION: fictional regulator, labs, runs and countries):
  {base}/register                           the register: every approved model, with its receipt
  {base}/                                   the public site: schedule, timeline, entries, scorecards
  {base}/timeline                           the plan's picture: caps, lifts, every run
  {base}/keys                               the log's keys and the witnesses that cosign it
  {base}/log/checkpoint                     the checkpoint, signed by the log and both witnesses
  {base}/log/witnesses.policy               the trust policy below
  {base}/api/v1/entries?type=decision       every decision
  {base}/api/v1/audit                       the policy audit (no violations)
  {base}/docs                               the API reference
Two witnesses cosign every checkpoint, each its own process with its own key and state:
{lines}
The trust policy (C2SP tlog-policy), in {root / demo_witnesses.POLICY}:
{policy}
Verify it yourself (docs/verifier.md walks through it):
  frontier-verify verify --log {base}/log --policy {root / demo_witnesses.POLICY}
  frontier-verify audit  --log {base}/log --policy {root / demo_witnesses.POLICY}
See the witnesses refuse a split view (in another terminal):
  frontier-ledger demo-split-view --data {root}
""",
        flush=True,
    )


def cmd_split_view(args: argparse.Namespace) -> int:
    from ledger.demo.split_view import split_view

    data = DataDir.at(args.data)
    out = Path(args.out) if args.out else data.root / "split-view"
    answers = split_view(data, out)
    print("The demo's own log key signed a second history; each witness was asked to cosign it:")
    for a in answers:
        verdict = "REFUSED" if a.status in (409, 422) else "COSIGNED (a witness broke its word)"
        print(f"  {a.witness:<10} {a.attempt:<28} {a.status} {verdict}: {a.body[:120]}")
    print(f"The checkpoints are in {out}; check that they cannot both be the log:")
    vkey = (data.root / "log.vkey").read_text().strip()
    print(
        f"  frontier-verify compare {out / 'honest.checkpoint'} "
        f"{out / 'forged-same-size.checkpoint'} --vkey '{vkey}' --out {out / 'fork-evidence.json'}"
    )
    return 0 if all(a.status in (409, 422) for a in answers) else 1


def add_parsers(sub: Any) -> None:
    sp = sub.add_parser(
        "demo", help="build the three-cycle demonstration log (a simulation), witnessed"
    )
    sp.add_argument(
        "--data", required=True, help="directory to build it in (replaced if it exists)"
    )
    sp.add_argument(
        "--database",
        metavar="URL",
        help="build it in this empty PostgreSQL database (postgresql://…) instead of SQLite",
    )
    sp.add_argument("--serve", action="store_true", help="then start its witnesses and serve it")
    sp.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    sp.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port (default 8000); the witnesses listen on the next two ports",
    )
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser(
        "demo-split-view",
        help="show the demo's witnesses refusing a second history (a simulation only)",
    )
    sp.add_argument("--data", required=True, help="the demo's data directory (while it serves)")
    sp.add_argument("--out", help="where to keep the checkpoints (default DATA/split-view)")
    sp.set_defaults(func=cmd_split_view)
