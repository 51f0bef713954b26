"""``frontier-ledger key …``: the log's own keys — ML-DSA-44, and rotating the log key.

Each command that changes a key takes the data directory's writer lock: stop
``serve`` first, run the command, start ``serve`` again (it loads the keys when
it starts). The procedure is in docs/operator.md, "Rotating the log key".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ledger.keys.entry_signing import EntryKey, payload_type_for, sign_envelope
from ledger.ops.datadir import DataDir
from verifier.core.leaf import canonical_json


def _data(args: argparse.Namespace) -> DataDir:
    return DataDir.at(args.data, args.key, args.database)


def cmd_show(args: argparse.Namespace) -> int:
    from ledger.write.key_rotation import status

    st = status(_data(args))
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    print(f"log key (Ed25519):           {st['vkey']}")
    print(f"ML-DSA-44 key:               {_short(st['mldsa_vkey']) or 'none'}")
    if st["next_vkey"] or st["next_mldsa_vkey"]:
        print("a key rotation is under way; every checkpoint is signed by both keys")
        print(f"next log key (Ed25519):      {st['next_vkey']}")
        if st["next_mldsa_vkey"]:
            print(f"next ML-DSA-44 key:          {_short(st['next_mldsa_vkey'])}")
    for vkey in st["retired"]:
        print(f"retired (archived):          {_short(vkey)}")
    return 0


def _short(vkey: str | None) -> str | None:
    """An ML-DSA-44 vkey is 1,800 characters: show its name and key hash."""
    if vkey is None or len(vkey) < 200:
        return vkey
    name, kid, _ = vkey.split("+", 2)
    return f"{name}+{kid}+… (ML-DSA-44, full vkey in --json)"


def cmd_add_mldsa(args: argparse.Namespace) -> int:
    from ledger.write.key_rotation import add_mldsa, key_files

    data = _data(args)
    vkey = add_mldsa(data)
    files = key_files(data)
    print(f"Wrote {files.mldsa_key} (mode 0600) and {files.mldsa_vkey}.")
    print("Every checkpoint is signed with it too (the published one was signed again).")
    print("Publish this ML-DSA-44 vkey beside the log's Ed25519 vkey:")
    print()
    print(vkey)
    return 0


def cmd_rotate_start(args: argparse.Namespace) -> int:
    from ledger.write.key_rotation import key_files, rotate_start

    data = _data(args)
    started = rotate_start(data, mldsa=args.mldsa)
    files = key_files(data)
    print(f"Wrote the next log key {files.next_key} (mode 0600) and {files.next_vkey}.")
    if started.next_mldsa_vkey:
        print(f"Wrote the next ML-DSA-44 key {files.mldsa_next_key} and {files.mldsa_next_vkey}.")
    print(
        f"The overlap has begun: every checkpoint is signed by the current and the next key "
        f"(the published one, size {started.size}, was signed again). Next: have the board "
        "log the key change ('frontier-ledger key change-entry'), publish the new vkey, "
        "and finish after the overlap ('frontier-ledger key rotate-finish')."
    )
    print()
    print(started.next_vkey)
    return 0


def cmd_change_entry(args: argparse.Namespace) -> int:
    from ledger.write.key_rotation import change_payload

    payload = change_payload(_data(args), args.overlap_end, args.reason)
    out: dict[str, Any] = payload
    what = "payload (sign it with 'frontier-ledger sign --key …', countersign for the quorum)"
    if args.sign_key:
        keys = [EntryKey.load(Path(k)) for k in args.sign_key]
        out = sign_envelope(
            canonical_json(payload).encode(), payload_type_for(payload["type"]), keys
        )
        what = (
            f"envelope signed by {len(keys)} key(s) (countersign with 'frontier-ledger sign' "
            "if the quorum needs more; submit with 'frontier-ledger submit')"
        )
    text = json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text)
        print(f"Wrote the log_key_change {what} to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_rotate_finish(args: argparse.Namespace) -> int:
    from ledger.write.key_rotation import rotate_finish

    done = rotate_finish(_data(args), now_ms=int(time.time() * 1000), force=args.force)
    for path in done.archived:
        print(f"Archived the retired key as {path} (mode 0600; keep it offline, never delete it)")
    where = f" (announced by entry {done.change_index})" if done.change_index is not None else ""
    print(
        f"The next key is now the log key{where}; checkpoints are signed by it alone "
        f"(the published one, size {done.size}, was signed again). Start 'serve' again."
    )
    print()
    print(done.vkey)
    return 0


def add_parsers(sub: Any) -> None:
    kp = sub.add_parser("key", help="the log's own keys: add an ML-DSA-44 key, rotate the log key")
    ksub = kp.add_subparsers(dest="key_command", required=True, metavar="COMMAND")

    def data_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data", required=True, help="the log's data directory")
        sp.add_argument("--key", help="signer key file (default: DATA/log.key)")
        sp.add_argument(
            "--database",
            metavar="URL",
            help="the log's PostgreSQL URL, if it is kept there (as given to init and serve)",
        )

    sp = ksub.add_parser("show", help="print the log's keys: current, next, ML-DSA-44, retired")
    data_arg(sp)
    sp.add_argument("--json", action="store_true", help="as JSON, with the full vkeys")
    sp.set_defaults(func=cmd_show)

    sp = ksub.add_parser(
        "add-mldsa", help="give the log an ML-DSA-44 key: every checkpoint is signed with it too"
    )
    data_arg(sp)
    sp.set_defaults(func=cmd_add_mldsa)

    sp = ksub.add_parser(
        "rotate-start", help="write the next log key; both keys sign every checkpoint from now on"
    )
    data_arg(sp)
    sp.add_argument(
        "--mldsa", action="store_true", help="rotate the ML-DSA-44 key at the same time"
    )
    sp.set_defaults(func=cmd_rotate_start)

    sp = ksub.add_parser(
        "change-entry",
        help="draft the log_key_change entry of the rotation under way (the board signs it)",
    )
    data_arg(sp)
    sp.add_argument(
        "--overlap-end",
        required=True,
        metavar="TIME",
        help="RFC 3339 UTC time until which both keys sign, e.g. 2027-03-01T00:00:00Z",
    )
    sp.add_argument("--reason", required=True, help="why the key changes (logged, public)")
    sp.add_argument(
        "--sign-key",
        action="append",
        metavar="FILE",
        help="a board member's entry key: sign the entry (repeat for a quorum); "
        "without it the payload is written for offline signing",
    )
    sp.add_argument("--out", help="write it here (default: stdout)")
    sp.set_defaults(func=cmd_change_entry)

    sp = ksub.add_parser(
        "rotate-finish",
        help="after the overlap: the next key becomes the log key; the old one is archived",
    )
    data_arg(sp)
    sp.add_argument(
        "--force",
        action="store_true",
        help="finish even if no logged key change names the next key, or its overlap has "
        "not ended (verifiers with a state directory will not follow)",
    )
    sp.set_defaults(func=cmd_rotate_finish)
