"""Show, on the demonstration, that the witnesses refuse a split view.

A dishonest operator who holds the log key can sign a second history: the same
tree size with another root (to show some people a log without an entry that
others see), or a longer tree that does not extend the one already witnessed.
This signs both with the demo's own log key and asks each witness to cosign
them, as c2sp.org/tlog-witness add-checkpoint: a witness that keeps its word
answers 409 (the same size, another root) and 422 (no valid consistency proof
from what it cosigned). Both checkpoints are kept as evidence; anyone can check
with ``frontier-verify compare`` that they cannot both be the log.

Only for simulations: it refuses a log whose charter is not ``simulation = true``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import DemoError
from ledger.keys.log_keys import load_key
from ledger.ops.datadir import DataDir
from ledger.storage.backends import open_store
from ledger.write.tree import TreeEdge, leaf_hashes
from verifier.core.checkpoint import Checkpoint
from verifier.core.leaf import parse_leaf
from verifier.core.note import sign_note
from verifier.core.prover import Prover
from verifier.core.trust_policy import parse_trust_policy
from verifier.entries.codec import parse_payload
from verifier.witness.protocol import format_add_checkpoint

#: The entry a forged history holds instead of the log's last one.
FORGED = b"a forged entry: this history was shown to one witness only"


@dataclass(frozen=True)
class Answer:
    witness: str
    attempt: str
    status: int
    body: str


def split_view(data: DataDir, out: Path) -> list[Answer]:
    """Ask every witness of DATA/witnesses.policy to cosign two forged checkpoints."""
    policy_path = data.root / "witnesses.policy"
    policy = parse_trust_policy(policy_path.read_text())
    witnesses = [w for w in policy.witnesses.values() if w.url]
    if not witnesses:
        raise DemoError(
            f"{policy_path} names no witness address: run this while `make demo` serves"
        )
    store = open_store(data, readonly=True)
    try:
        leaves = list(store.iter_leaves())
        honest = store.head().checkpoint
    finally:
        store.close()
    charter = parse_payload(parse_leaf(leaves[0]).envelope.payload).body
    if not getattr(charter, "simulation", False):
        raise DemoError("this log's charter is not a simulation: no forged history is signed")
    signer = load_key(data.key_path)
    size = len(leaves)
    # A second history: the last entry replaced, then one entry more.
    tiles = _tiles([*leaves[:-1], FORGED, FORGED])
    forged = Prover(lambda level, index: tiles.get((level, index)))
    origin = store.origin
    forged_same = sign_note(Checkpoint(origin, size, forged.root(size)).to_text(), [signer])
    forged_longer = sign_note(
        Checkpoint(origin, size + 1, forged.root(size + 1)).to_text(), [signer]
    )
    # A valid proof within the forged history, which cannot reach the witnessed root.
    proof = forged.consistency(size, size + 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "honest.checkpoint").write_bytes(honest)
    (out / "forged-same-size.checkpoint").write_bytes(forged_same)
    (out / "forged-longer.checkpoint").write_bytes(forged_longer)
    answers = []
    for w in witnesses:
        for attempt, body in (
            (f"size {size}, another root", format_add_checkpoint(size, [], forged_same)),
            (f"size {size + 1}, not extending", format_add_checkpoint(size, proof, forged_longer)),
        ):
            status, reply = _post(f"{(w.url or '').rstrip('/')}/add-checkpoint", body)
            answers.append(Answer(w.name, attempt, status, reply.decode(errors="replace").strip()))
    return answers


def _tiles(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every tile of a tree of *leaves* (built as the sequencer builds them)."""
    return TreeEdge().append(leaf_hashes(leaves))


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - the demo's witness
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, resp.read(4096)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(4096)
    except (urllib.error.URLError, OSError) as exc:
        raise DemoError(f"cannot reach the witness at {url}: {exc}") from None
