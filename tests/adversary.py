"""A malicious log operator, for the adversarial tests.

It holds the real log key and writes whatever it likes as a C2SP tlog-tiles
log: tiles, entry bundles and a checkpoint it signs — skipping every check the
honest sequencer makes. Verifiers must catch what it does from the data alone.
"""

from __future__ import annotations

from pathlib import Path

from ledger.demo.scenario import Scenario, ScenarioEntry
from ledger.write.tree import TreeEdge, leaf_hashes
from verifier.core.checkpoint import Checkpoint
from verifier.core.leaf import canonical_json, encode_leaf
from verifier.core.note import Ed25519Signer, sign_note
from verifier.core.tiles import ENTRIES, all_tiles_for_size, encode_entry_bundle, tiles_for_size


class Operator:
    def __init__(self, origin: str, seed: bytes = bytes(range(32))) -> None:
        self.key = Ed25519Signer.from_seed(origin, seed)
        self.origin = origin

    @property
    def vkey(self) -> str:
        return self.key.verifier.vkey

    def publish(self, out: Path, leaves: list[bytes]) -> bytes:
        """Write *leaves* as a static log in *out*; return the signed checkpoint."""
        edge = TreeEdge()
        tiles = edge.append(leaf_hashes(leaves))
        size = len(leaves)
        for t in all_tiles_for_size(size):
            path = out / t.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(tiles[(t.level, t.index)][: t.width * 32])
        for b in tiles_for_size(size, ENTRIES):
            path = out / b.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_entry_bundle(leaves[b.index * 256 : b.index * 256 + b.width]))
        note = sign_note(Checkpoint(self.origin, size, edge.root()).to_text(), [self.key])
        (out / "checkpoint").write_bytes(note)
        return note


def scenario_leaves(s: Scenario) -> list[bytes]:
    """Every entry of a scenario as a leaf logged at its `at` time — no admission at all."""
    return [encode_leaf(canonical_json(env), at) for at, env in s.envelopes()]


def with_entry(s: Scenario, after: str, entry: ScenarioEntry) -> Scenario:
    """The scenario with *entry* inserted after the entry labelled *after*."""
    entries = list(s.entries)
    pos = next(i for i, e in enumerate(entries) if e.label == after) + 1
    entries.insert(pos, entry)
    return type(s)(s.title, s.origin, s.now_ms, s.expect, tuple(entries))


def revoke_regulator(s: Scenario) -> Scenario:
    """The board revokes the regulator's key right after the grants: its later entries are bad."""
    revoke = ScenarioEntry(
        "revoke",
        "key_revoke",
        s.entries[4].at_ms,
        ("governor-a", "governor-b"),
        {"actor": "regulator", "reason": "left office"},
    )
    return with_entry(s, "grant-evaluator", revoke)
