"""``frontier-verify witness``: run a C2SP tlog-witness that cosigns a log's checkpoints.

``keygen`` writes the witness's signing key (never replacing one); ``serve`` answers
``POST <prefix>/add-checkpoint`` with :class:`verifier.witness.server.WitnessServer`,
deciding each request with :class:`verifier.witness.protocol.Witness` and keeping
its state in ``--state`` (:class:`verifier.witness.server.FileStore`). The witness
modules are imported only when a witness command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from verifier.cli.options import EXIT_OK, MAX_KEY_FILE_SIZE
from verifier.core.trust_policy import MAX_POLICY_SIZE
from verifier.errors import FormatError, UsageError, WitnessStoreError
from verifier.files import read_capped_text, write_new_private


def cmd_witness_keygen(args: argparse.Namespace) -> int:
    """Write a new witness key (PRIVATE+KEY, mode 0600); print its vkey.

    Ed25519 cosignature/v1 (type 0x04) by default; ML-DSA-44 ``subtree/v1``
    (type 0x06) with ``--mldsa`` (C2SP tlog-cosignature).
    """
    from verifier.core.cosignature import CosignatureSigner
    from verifier.core.mldsa import MLDSA44Signer
    from verifier.witness.protocol import witness_skey

    signer: CosignatureSigner | MLDSA44Signer
    try:
        if args.mldsa:
            signer = MLDSA44Signer.from_seed(args.name, os.urandom(32))
        else:
            signer = CosignatureSigner.from_seed(args.name, os.urandom(32))
    except FormatError as exc:
        raise UsageError(f"--name: {exc}") from None
    # O_EXCL: never overwrite a key (that would orphan the witness's identity).
    write_new_private(Path(args.out), (witness_skey(signer) + "\n").encode())
    print(signer.verifier.vkey)
    return EXIT_OK


def cmd_witness_serve(args: argparse.Namespace) -> int:
    """Serve C2SP tlog-witness add-checkpoint for the logs named in --policy."""
    import logging
    import signal
    import stat
    from dataclasses import replace

    from verifier.witness.protocol import Witness, parse_witness_config, parse_witness_skey
    from verifier.witness.server import FileStore, Limits, WitnessServer

    key_path = Path(args.key)
    if key_path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(f"witness key {key_path} is readable by group or others; chmod 600 it")
    try:
        signer = parse_witness_skey(read_capped_text(key_path, MAX_KEY_FILE_SIZE, "witness key"))
        config = parse_witness_config(read_capped_text(args.policy, MAX_POLICY_SIZE, "policy file"))
    except FormatError as exc:
        raise UsageError(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        store = FileStore(Path(args.state))
    except WitnessStoreError as exc:
        raise UsageError(str(exc)) from None
    clock = _simulated_clock(Path(args.simulated_clock)) if args.simulated_clock else time.time
    with store:
        witness = Witness(signer, config, store, clock=clock)
        limits = Limits()
        if args.request_deadline is not None:
            limits = replace(limits, request_deadline_s=args.request_deadline)
        if args.max_per_client is not None:
            limits = replace(limits, max_per_client=args.max_per_client)
        server = WitnessServer(witness, args.host, args.port, args.prefix, limits)

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        print(f"witness {signer.verifier.vkey}", file=sys.stderr)
        print(f"   logs: {', '.join(sorted(config.logs))}", file=sys.stderr)
        print(f"   serving POST {server.url}/add-checkpoint", file=sys.stderr, flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()
    return EXIT_OK


def _simulated_clock(path: Path) -> Callable[[], float]:
    """Seconds since the epoch read from *path* (RFC 3339) at each cosignature: a
    simulation's calendar, so its cosignatures carry its dates. Never for a real log."""
    from verifier.entries.fields import parse_time

    def now() -> float:
        try:
            text = read_capped_text(path, 4096, "simulated clock").strip()
        except OSError as exc:
            raise UsageError(f"simulated clock {path}: {exc.strerror}") from None
        return parse_time(text, f"simulated clock {path}") / 1000

    now()  # fail at start, not at the first cosignature
    return now


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 3600:
        raise argparse.ArgumentTypeError("give a number of seconds above 0 and below 3600")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"give a whole number of at least 1, not {text!r}")
    return int(text)


def add_witness(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    wp = sub.add_parser("witness", help="run a C2SP tlog-witness that cosigns checkpoints")
    wsub = wp.add_subparsers(dest="witness_command", required=True, metavar="COMMAND")
    sp = wsub.add_parser("keygen", help="create the witness's signing key; print its vkey")
    sp.add_argument("--out", required=True, help="key file to create (mode 0600, never replaced)")
    sp.add_argument("--name", required=True, help="the witness's name, e.g. witness.example/w1")
    sp.add_argument(
        "--mldsa",
        action="store_true",
        help="a post-quantum ML-DSA-44 key (tlog-cosignature type 0x06) instead of Ed25519",
    )
    sp.set_defaults(func=cmd_witness_keygen)
    sp = wsub.add_parser("serve", help="serve POST <prefix>/add-checkpoint over HTTP")
    sp.add_argument("--key", required=True, help="the witness key file (from witness keygen)")
    sp.add_argument("--policy", required=True, help="tlog-policy file: its log lines are accepted")
    sp.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sp.add_argument("--state", required=True, help="directory for the witnessed checkpoints")
    sp.add_argument("--prefix", default="", help="URL prefix before /add-checkpoint (default none)")
    sp.add_argument(
        "--request-deadline",
        type=_positive_float,
        metavar="SECONDS",
        help="a request (headers and body) must arrive within this long of its first byte, "
        "or the connection is closed (default 15)",
    )
    sp.add_argument(
        "--max-per-client",
        type=_positive_int,
        metavar="N",
        help="connections served at once from one address (default 16, of 64 in all); more "
        "are answered 503 with Retry-After. Behind a reverse proxy every request comes "
        "from its address: raise it",
    )
    sp.add_argument(
        "--simulated-clock",
        metavar="FILE",
        help="take the cosignatures' time from FILE (RFC 3339); simulations only",
    )
    sp.set_defaults(func=cmd_witness_serve)
