"""``frontier-ledger keygen | sign | submit | append``: commands for people who append.

Signing is offline (a board member can sign on an air-gapped machine and carry
the envelope across); ``submit`` is the only command that talks to a server.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ledger.errors import SubmitError
from ledger.keys.entry_signing import EntryKey, add_signatures, payload_type_for, sign_envelope
from verifier.core.leaf import canonical_json, check_envelope, loads_strict
from verifier.entries.codec import parse_payload
from verifier.entries.payloads import TYPES
from verifier.errors import FormatError

SUBMIT_TIMEOUT = 60.0


def _read_json(path: str) -> Any:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    return loads_strict(data, what=path)


def _write(obj: Any, out: str | None) -> None:
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    if out:
        Path(out).write_text(text)
    else:
        sys.stdout.write(text)


def cmd_keygen(args: argparse.Namespace) -> int:
    key = EntryKey.generate()
    key.write(Path(args.out))
    print(f"Wrote {args.out} (mode 0600). Give the board these values for a key_grant:")
    print(json.dumps({"keyid": key.keyid, "public_key": key.public_b64}, indent=2))
    return 0


def build_envelope(args: argparse.Namespace) -> dict[str, Any]:
    keys = [EntryKey.load(Path(k)) for k in args.key]
    doc = _read_json(args.payload)
    if isinstance(doc, dict) and "payloadType" in doc:
        return add_signatures(doc, keys)  # countersign an existing envelope
    if not isinstance(doc, dict):
        raise FormatError(f"{args.payload}: a payload must be a JSON object")
    entry_type = args.type or doc.get("type")
    if entry_type not in TYPES:
        raise FormatError(f"--type: {entry_type!r} is not an entry type ({', '.join(TYPES)})")
    payload = {"type": entry_type, "v": 1, **doc}
    if args.log:
        payload["log"] = args.log
    if payload["type"] != entry_type:
        raise FormatError(f"payload says type {payload['type']!r} but --type is {entry_type!r}")
    data = canonical_json(payload).encode()
    parse_payload(data)  # refuse to sign what the log would refuse: names the field
    return sign_envelope(data, payload_type_for(entry_type), keys)


def cmd_sign(args: argparse.Namespace) -> int:
    _write(build_envelope(args), args.out)
    return 0


def submit(envelope: dict[str, Any], url: str) -> dict[str, Any]:
    check_envelope(envelope)
    endpoint = url.rstrip("/") + "/api/v1/entries"
    if not endpoint.startswith(("http://", "https://")):
        raise SubmitError(f"--url must be an http(s) URL, not {url!r}")
    req = urllib.request.Request(  # noqa: S310 - scheme checked above
        endpoint,
        data=json.dumps(envelope).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=SUBMIT_TIMEOUT) as resp:  # noqa: S310
            result: dict[str, Any] = json.loads(resp.read())
            return result
    except urllib.error.HTTPError as exc:
        try:
            problem = json.loads(exc.read())
            detail = problem.get("detail", "")
            rule = f" [rule {problem['rule']}]" if problem.get("rule") else ""
            code = problem.get("code") or problem.get("type", "").rsplit(":", 1)[-1]
            raise SubmitError(f"refused ({exc.code} {code}){rule}: {detail}") from None
        except (ValueError, AttributeError):
            raise SubmitError(f"refused: HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise SubmitError(f"cannot reach {endpoint}: {exc}") from None


def _report(receipt: dict[str, Any], out: str | None) -> None:
    state = "already in the log" if receipt.get("duplicate") else "logged"
    print(
        f"{state}: index {receipt['index']}, logged_at {receipt['logged_at']}, "
        f"tree size {receipt['tree_size']}",
        file=sys.stderr,
    )
    if receipt.get("schedule"):
        print(f"  schedule: {receipt['schedule']['status']}", file=sys.stderr)
    _write(receipt["receipt"], out)
    if out:
        # The receipt went to a file: the index alone on stdout, for scripts
        # (PREREG=$(frontier-ledger append … --receipt r.json payload.json)).
        print(receipt["index"])


def cmd_submit(args: argparse.Namespace) -> int:
    envelope = _read_json(args.envelope)
    _report(submit(envelope, args.url), args.receipt)
    return 0


def cmd_append(args: argparse.Namespace) -> int:
    envelope = build_envelope(args)
    _report(submit(envelope, args.url), args.receipt)
    return 0


def add_parsers(sub: Any) -> None:
    sp = sub.add_parser("keygen", help="create an Ed25519 key for signing entries")
    sp.add_argument("--out", required=True, help="private key file to write (PEM, mode 0600)")
    sp.set_defaults(func=cmd_keygen)

    def sign_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--key", action="append", required=True, help="private key file; repeat for a quorum"
        )
        sp.add_argument("--type", help="entry type (default: the payload's 'type')")
        sp.add_argument("--log", help="origin of the log the entry is for (sets 'log')")
        sp.add_argument(
            "payload", help="payload JSON file ('-' for stdin), or an envelope to countersign"
        )

    sp = sub.add_parser("sign", help="sign a payload offline into a DSSE envelope")
    sign_args(sp)
    sp.add_argument("--out", help="write the envelope here (default: stdout)")
    sp.set_defaults(func=cmd_sign)

    sp = sub.add_parser("submit", help="submit a signed envelope to a ledger server")
    sp.add_argument("envelope", help="envelope JSON file ('-' for stdin)")
    sp.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    sp.add_argument("--receipt", help="write the offline receipt here (default: stdout)")
    sp.set_defaults(func=cmd_submit)

    sp = sub.add_parser("append", help="sign and submit in one step")
    sign_args(sp)
    sp.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    sp.add_argument("--receipt", help="write the offline receipt here (default: stdout)")
    sp.set_defaults(func=cmd_append)
