"""``make demo``: build a fresh demonstration log and serve it on loopback.

Creates ``DATA`` anew (init, synthetic signed entries, a static export) and
then serves it, printing the URLs to open and the commands that verify it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from ledger import cli

DEMO_ORIGIN = "demo.frontier-ledger.invalid/log"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ledger.demo_runner")
    p.add_argument("--data", default="demo-data")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--count", type=int, default=2000, help="synthetic entries to append")
    p.add_argument("--no-serve", action="store_true", help="build only")
    args = p.parse_args(argv)

    root = Path(args.data)
    if root.exists():
        shutil.rmtree(root)  # a demo is rebuilt from scratch every time
    log_dir = root / "log"
    static = root / "static-log"
    steps = [
        ["init", "--data", str(log_dir), "--origin", DEMO_ORIGIN, "--synthetic"],
        ["synth", "--data", str(log_dir), "--count", str(args.count), "--batch", "256"],
        ["export", "--data", str(log_dir), str(static)],
    ]
    for step in steps:
        print(f"$ frontier-ledger {' '.join(step)}", flush=True)
        if cli.main(step) != 0:
            return 1
    base = f"http://{args.host}:{args.port}"
    print(
        f"""
Demo log ready in {log_dir} (static mirror in {static}).

Open:
  {base}/log/checkpoint              the signed checkpoint (C2SP tlog-checkpoint)
  {base}/log/tile/0/000              a tile of leaf hashes (C2SP tlog-tiles)
  {base}/api/v1/entries/0            an entry, decoded
  {base}/api/v1/entries/0/receipt    its offline receipt (C2SP tlog-proof)
  {base}/docs                        the API reference (OpenAPI)
""",
        flush=True,
    )
    if args.no_serve:
        return 0
    return cli.main(
        ["serve", "--data", str(log_dir), "--host", args.host, "--port", str(args.port)]
    )


if __name__ == "__main__":
    sys.exit(main())
