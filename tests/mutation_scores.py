"""Print mutmut's results per module: `python -m tests.mutation_scores` after `mutmut run`.

Reads the ``mutants/**/*.py.meta`` files mutmut writes (one exit code per mutant) and
prints, per mutated module, how many mutants the tests killed, how many survived,
timed out, were suspicious or reached by no test, and the score: killed / total.
Then the two groups `make mutation` is judged by (docs/testing.md), against their goals.
``--json FILE`` also writes the table as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

STATUSES = ("killed", "survived", "timeout", "suspicious", "no tests", "not checked")
WIDTH = 12
#: The modules the goals cover, by group: (group, goal, module prefixes).
GROUPS = (
    (
        "policy rules",
        0.90,
        (
            "verifier/policy/engine.py",
            "verifier/policy/state.py",
            "verifier/policy/rules/",
            "verifier/policy/audit.py",
            "verifier/policy/calendar.py",
            "verifier/policy/findings.py",
            "verifier/policy/status.py",
        ),
    ),
    (
        "proofs and notes",
        0.95,
        (
            "verifier/core/merkle.py",
            "verifier/core/prover.py",
            "verifier/core/note.py",
            "verifier/core/checkpoint.py",
            "verifier/core/tlog_proof.py",
        ),
    ),
)


def counts(root: Path) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for meta in sorted(root.glob("**/*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        module = str(meta.relative_to(root))[: -len(".meta")]
        c: Counter[str] = Counter()
        for code in codes.values():
            status = status_by_exit_code[code]
            c["timeout" if status == "segfault" else status] += 1
        c["total"] = len(codes)
        out[module] = c
    return out


def row(name: str, c: Counter[str]) -> str:
    score = c["killed"] / c["total"] if c["total"] else 0.0
    cells = "".join(f"{c[s]:>{WIDTH}}" for s in STATUSES)
    return f"{name:<40}{c['total']:>7}{cells}{score:>9.1%}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mutants", type=Path, default=Path("mutants"))
    ap.add_argument("--json", type=Path, help="also write the table to this file")
    args = ap.parse_args(argv)
    table = counts(args.mutants)
    if not table:
        print(f"no mutmut results under {args.mutants}/ (run `make mutation`)", file=sys.stderr)
        return 1
    head = "".join(f"{s:>{WIDTH}}" for s in STATUSES)
    print(f"{'module':<40}{'total':>7}{head}{'score':>9}")
    for module, c in table.items():
        print(row(module, c))
    print()
    for group, goal, prefixes in GROUPS:
        total: Counter[str] = Counter()
        for module, c in table.items():
            if module.startswith(prefixes):
                total.update(c)
        score = total["killed"] / total["total"] if total["total"] else 0.0
        mark = "met" if score >= goal else "not met"
        print(row(f"{group} (goal {goal:.0%}: {mark})", total))
    if args.json:
        args.json.write_text(json.dumps({m: dict(c) for m, c in table.items()}, indent=2) + "\n")
    return 0  # a report, not a gate


if __name__ == "__main__":
    raise SystemExit(main())
