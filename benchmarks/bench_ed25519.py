"""Ed25519 verification: cryptography (OpenSSL) against PyNaCl (libsodium), and the weak key.

    .venv/bin/python benchmarks/bench_ed25519.py [--count N] [--runs R]

1. Speed: verify one valid signature over a 200-byte message N times with
   ``Ed25519PublicKey.verify`` (cryptography), ``VerifyKey.verify`` (PyNaCl) and
   ``verifier.core.ed25519.verify`` (ours: cryptography plus the S < L check); best
   of R runs, µs per verification.
2. The identity public key ``01 00…00`` with the signature R = identity
   encoding (``01 00…00``), S = 0 on an arbitrary message: cryptography accepts
   it (OpenSSL does not check for small-order keys), PyNaCl refuses it
   (libsodium's blocklist), and ``verifier.core.ed25519.check_public_key`` raises
   :class:`verifier.errors.WeakKeyError` (so ``load_public_key`` never returns
   such a key).

PyNaCl is installed into the running interpreter's environment with pip if missing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from typing import Any

from _common import best_of, table, write_json
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verifier import ed25519 as ours
from verifier.errors import WeakKeyError

IDENTITY = b"\x01" + bytes(31)
ZERO_S_SIG = IDENTITY + bytes(32)  # R = identity point, S = 0


def import_nacl() -> Any:
    try:
        return importlib.import_module("nacl.signing")
    except ImportError:
        print("PyNaCl is missing: pip install pynacl", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pynacl"], check=True)
        importlib.invalidate_caches()
        return importlib.import_module("nacl.signing")


def weak_key_demo(nacl_signing: Any, message: bytes) -> dict[str, Any]:
    import nacl.exceptions

    out: dict[str, Any] = {
        "public_key": IDENTITY.hex(),
        "signature": ZERO_S_SIG.hex(),
        "message": message.decode(),
    }
    try:
        Ed25519PublicKey.from_public_bytes(IDENTITY).verify(ZERO_S_SIG, message)
        out["cryptography"] = "accepted"
    except (InvalidSignature, ValueError) as exc:
        out["cryptography"] = f"rejected ({type(exc).__name__})"
    try:
        nacl_signing.VerifyKey(IDENTITY).verify(message, ZERO_S_SIG)
        out["pynacl"] = "accepted"
    except (
        nacl.exceptions.BadSignatureError,
        nacl.exceptions.ValueError,
        nacl.exceptions.CryptoError,
    ) as exc:
        out["pynacl"] = f"rejected ({type(exc).__name__})"
    try:
        ours.check_public_key(IDENTITY)
        out["check_public_key"] = "accepted"
    except WeakKeyError as exc:
        out["check_public_key"] = f"refused: WeakKeyError: {exc}"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    nacl_signing = import_nacl()
    import nacl

    message = os.urandom(200)
    sk = Ed25519PrivateKey.generate()
    sig = sk.sign(message)
    pub_raw = sk.public_key().public_bytes_raw()
    c_key = Ed25519PublicKey.from_public_bytes(pub_raw)
    n_key = nacl_signing.VerifyKey(pub_raw)
    o_key = ours.load_public_key(pub_raw)
    c_key.verify(sig, message)
    n_key.verify(message, sig)
    ours.verify(o_key, sig, message)

    n = args.count

    def bench_c() -> None:
        v = c_key.verify
        for _ in range(n):
            v(sig, message)

    def bench_n() -> None:
        v = n_key.verify
        for _ in range(n):
            v(message, sig)

    def bench_o() -> None:
        v = ours.verify
        for _ in range(n):
            v(o_key, sig, message)

    import cryptography

    results: dict[str, Any] = {
        "verifications": n,
        "message_bytes": len(message),
        "cryptography_version": cryptography.__version__,
        "pynacl_version": nacl.__version__,
    }
    rows = []
    for key, label, fn in (
        ("cryptography", f"cryptography {cryptography.__version__} (OpenSSL)", bench_c),
        ("pynacl", f"PyNaCl {nacl.__version__} (libsodium)", bench_n),
        ("ours", "verifier.core.ed25519.verify (cryptography + S<L)", bench_o),
    ):
        best, times, _ = best_of(fn, args.runs)
        us = best / n * 1e6
        results[key] = {
            "best_s": best,
            "times_s": times,
            "us_per_verify": us,
            "verifies_per_s": n / best,
        }
        rows.append([label, f"{us:.1f}", f"{n / best:,.0f}"])
    print(table(rows, ["library", "µs/verify", "verifies/s"]))
    results["ratio_cryptography_pynacl"] = (
        results["cryptography"]["us_per_verify"] / results["pynacl"]["us_per_verify"]
    )
    print(f"cryptography / PyNaCl time = {results['ratio_cryptography_pynacl']:.2f}")

    demo = weak_key_demo(nacl_signing, b"any message at all: transfer 1,000,000 credits")
    results["weak_key"] = demo
    print(
        "\nidentity public key 01 00..00, signature R = 01 00..00, S = 0, "
        f"message {demo['message']!r}:"
    )
    print(f"  cryptography: {demo['cryptography']}")
    print(f"  PyNaCl:       {demo['pynacl']}")
    print(f"  verifier.core.ed25519.check_public_key: {demo['check_public_key']}")
    expected = (
        demo["cryptography"] == "accepted"
        and demo["pynacl"].startswith("rejected")
        and demo["check_public_key"].startswith("refused")
    )
    results["weak_key_as_documented"] = expected
    if not expected:
        print("  NOTE: not what verifier/core/ed25519.py documents; see the lines above")
    write_json("ed25519", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
