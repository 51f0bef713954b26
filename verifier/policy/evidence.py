"""Evidence for audit findings: each finding with its entries as offline receipts.

``frontier-verify audit --evidence DIR`` writes ``DIR/<n>-<rule>.json`` per
finding: the finding, and for every entry it names a receipt (the leaf and a
C2SP tlog-proof to the audited checkpoint). A third party checks each receipt
with ``frontier-verify proof`` and the log's key — no access to the log needed —
and reads what the entries say.
"""

from __future__ import annotations

import json
from pathlib import Path

from verifier.client.tilelog import Fetch, TileFetcher
from verifier.core.checkpoint import SignedCheckpoint
from verifier.core.encoding import b64encode
from verifier.core.prover import Prover
from verifier.core.tiles import ENTRIES, TILE_WIDTH, parse_entry_bundle, tile_for_size
from verifier.core.tlog_proof import RECEIPT_MEDIA_TYPE, TlogProof
from verifier.policy.audit import AuditReport


def write_finding_evidence(
    out: Path, report: AuditReport, checkpoint: SignedCheckpoint, fetch: Fetch
) -> int:
    """Write one evidence file per finding; return how many were written."""
    out.mkdir(parents=True, exist_ok=True)
    prover = Prover(TileFetcher(fetch, checkpoint.size))
    bundles: dict[int, list[bytes]] = {}

    def leaf(index: int) -> bytes:
        n = index // TILE_WIDTH
        if n not in bundles:
            tile = tile_for_size(ENTRIES, n, checkpoint.size)
            bundles[n] = parse_entry_bundle(fetch(tile.path), tile.width)
        return bundles[n][index % TILE_WIDTH]

    for k, finding in enumerate(report.findings):
        receipts = []
        for index in finding.indices:
            if not 0 <= index < checkpoint.size:
                continue
            proof = TlogProof(
                index, tuple(prover.inclusion(index, checkpoint.size)), checkpoint.raw
            )
            receipts.append(
                {
                    "index": index,
                    "receipt": {
                        "media_type": RECEIPT_MEDIA_TYPE,
                        "leaf": b64encode(leaf(index)),
                        "tlog_proof": proof.to_text(),
                    },
                }
            )
        doc = {
            "finding": finding.to_json(),
            "origin": checkpoint.origin,
            "checkpoint": checkpoint.raw.decode(),
            "entries": receipts,
            "how_to_check": "save each entry's receipt to a file and run: "
            "frontier-verify proof RECEIPT --vkey <the log's vkey> --show-payload",
        }
        (out / f"{k:04d}-{finding.rule}.json").write_text(json.dumps(doc, indent=2))
    return len(report.findings)
