"""Print the figures of bench-out/*.json as the Markdown tables of benchmarks/README.md.

.venv/bin/python benchmarks/summary.py
"""

from __future__ import annotations

import json
import sys
from typing import Any

from _common import OUT


def load(name: str) -> dict[str, Any] | None:
    path = OUT / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def md(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def stamp(d: dict[str, Any]) -> str:
    return f"_{d['date']}, code at {d['commit']}_"


def tiles(d: dict[str, Any]) -> str:
    n = d["leaves"]
    floor = min(d["floor"]["best_s"], d["floor_bare"]["best_s"]) / n * 1e6
    rows = []
    for key, label in (
        ("ours", "ours: `leaf_hashes` + `TreeEdge.append` + `root`"),
        ("ours_batched_1024", "ours, appended in batches of 1024"),
        ("floor", "floor: 2n−1 SHA-256 as a tree, level by level"),
        ("floor_bare", "floor: 2n−1 SHA-256, nothing kept"),
        ("pymerkle", "pymerkle 7.0.0 `InmemoryTree` (RFC 6962)"),
        ("merkletools", "merkletools 1.0.3 (not RFC 6962; sha3 shimmed)"),
    ):
        if key in d:
            r = d[key]
            size = r.get("leaves", n)
            runs = r.get("runs", len(r["times_s"]))
            rows.append(
                [
                    label,
                    f"{size:,}",
                    runs,
                    f"{r['us_per_leaf']:.2f}",
                    f"{r['us_per_leaf'] / floor:.2f}",
                ]
            )
    verdict = "met" if d["ratio_ours_floor"] <= d["ratio_target"] else "**missed**"
    return (
        md(["implementation", "leaves", "runs", "µs/leaf (best)", "× floor"], rows)
        + f"\n\nours/floor = **{d['ratio_ours_floor']:.2f}** (target ≤ {d['ratio_target']}: "
        f"{verdict}). {stamp(d)}"
    )


def append(d: dict[str, Any]) -> str:
    rows = [
        [
            r["batch"],
            "yes" if r["receipts"] else "no (bulk path)",
            f"{r['initial_size']:,}",
            f"{r['leaves_per_s']:,.0f}",
            f"{r['median_leaves_per_s']:,.0f}",
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
        ]
        for r in d["runs"]
    ]
    out = md(
        ["batch", "receipts", "log before", "leaves/s (best of 3)", "median", "p50 ms", "p99 ms"],
        rows,
    )
    parts = d.get("breakdown_256_us_per_leaf", {})
    if parts:
        names = list(parts)
        keys = [k for k in parts[names[0]] if k != "total"]
        brow = [[k, *(f"{parts[n].get(k, 0):.1f}" for n in names)] for k in keys]
        brow.append(["**total**", *(f"**{parts[n]['total']:.1f}**" for n in names)])
        out += "\n\nWhere the time goes at batch 256 (µs per leaf, timers around each step):\n\n"
        out += md(["step", *names], brow)
    return out + f"\n\n{stamp(d)}"


def proofs(d: dict[str, Any]) -> str:
    rows = [
        [
            f"{r['entries']:,}",
            f"{r['inclusion_us']:.0f}",
            f"{r['inclusion_mean_hashes']:.1f}",
            f"{r.get('consistency_us', float('nan')):.0f}",
            f"{r.get('consistency_mean_hashes', float('nan')):.1f}",
        ]
        for r in d["sizes"]
    ]
    out = md(
        ["entries", "inclusion µs/proof", "proof length", "consistency µs/proof", "proof length"],
        rows,
    )
    for exp in (6, 7):
        for kind in ("inclusion", "consistency"):
            key = f"{kind}_ratio_1e{exp}_1e3"
            if key in d:
                out += (
                    f"\n\n{kind}: 10^{exp} / 10^3 = **{d[key]:.2f}** (target ≤ {d['ratio_target']})"
                )
    return out + f"\n\n{stamp(d)}"


def http(d: dict[str, Any]) -> str:
    rows = [
        [
            name,
            f"{r['rps']:,.0f}",
            f"{r['mb_per_s']:,.0f}",
            f"{r.get('p50_ms', float('nan')):.2f}",
            f"{r.get('p99_ms', float('nan')):.2f}",
            r["errors"],
        ]
        for name, r in d["servers"].items()
    ]
    out = md(["server", "requests/s", "MB/s", "p50 ms", "p99 ms", "errors"], rows)
    if "ratio_nginx_ours" in d:
        out += f"\n\nnginx / ours = **{d['ratio_nginx_ours']:.1f}×**"
    out += (
        f" ({d['loadgen']}, {d['threads']} threads, {d['connections']} connections, "
        f"{d['duration_s']:g} s, {d['paths']} paths, log of {d['entries']:,})"
    )
    return out + f"\n\n{stamp(d)}"


def ed25519(d: dict[str, Any]) -> str:
    rows = [
        [label, f"{d[k]['us_per_verify']:.1f}", f"{d[k]['verifies_per_s']:,.0f}"]
        for k, label in (
            ("cryptography", f"cryptography {d['cryptography_version']} (OpenSSL)"),
            ("pynacl", f"PyNaCl {d['pynacl_version']} (libsodium)"),
            ("ours", "`verifier.core.ed25519.verify` (cryptography + S < L)"),
        )
    ]
    w = d["weak_key"]
    out = md(["library", "µs/verify", "verifies/s"], rows)
    out += (
        "\n\nIdentity key `01 00…00`, signature R = `01 00…00`, S = 0, arbitrary message: "
        f"cryptography **{w['cryptography']}**, PyNaCl **{w['pynacl']}**, "
        f"`check_public_key` **{w['check_public_key'].split(':')[0]}** (`WeakKeyError`)."
    )
    return out + f"\n\n{stamp(d)}"


def tessera(d: dict[str, Any]) -> str:
    if "ours" not in d:
        b = d.get("build", {})
        return f"Tessera was not measured: {b.get('error', 'no result')}. {stamp(d)}"
    o, t = d["ours"], d["tessera"]
    best_t = max(t["runs"], key=lambda r: r["entries_per_s"])
    rows = [
        [
            "ours: `LogWriter.commit(256, receipts=True)`",
            "SQLite WAL, `synchronous=FULL`: one fdatasync per batch; checkpoint signed in it",
            f"{o['best_entries_per_s']:,.0f}",
            f"{o['median_entries_per_s']:,.0f}",
            f"{o.get('median_cpu_us_per_entry', float('nan')):.1f}",
        ],
        [
            f"Tessera {t['version']} POSIX driver: 256 × `Add`, await the futures",
            "each bundle, tile, treeState: O_SYNC file + rename + dir fsync; "
            f"checkpoint every {t['checkpoint_interval']} (+{best_t['publish_lag_ms']:.0f} ms)",
            f"{t['best_entries_per_s']:,.0f}",
            f"{t['median_entries_per_s']:,.0f}",
            f"{t.get('median_cpu_us_per_entry', float('nan')):.1f}",
        ],
    ]
    return (
        md(["side", "durability", "entries/s (best)", "median", "CPU µs/entry (median)"], rows)
        + f"\n\nours/Tessera = **{d['ratio_ours_tessera_best']:.2f}** (medians "
        f"{d['ratio_ours_tessera_median']:.2f}; {d['entries_per_run']:,} entries of "
        f"{d['leaf_bytes_mean']:.0f} bytes per run). {stamp(d)}"
    )


def main() -> int:
    for name, title, fn in (
        ("tiles", "Tiles: 10^6 leaves", tiles),
        ("append", "Durable appends (group commit)", append),
        ("proofs", "Proofs from SQLite", proofs),
        ("http", "Tiles over HTTP", http),
        ("ed25519", "Ed25519 verification", ed25519),
        ("tessera", "Durable appends beside Tessera (POSIX)", tessera),
    ):
        d = load(name)
        print(f"### {title}\n")
        print(fn(d) if d else f"(no bench-out/{name}.json: run benchmarks/bench_{name}.py)")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
