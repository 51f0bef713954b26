"""Run a guide's commands as they stand, and check what it says they print.

A walkthrough is a section of a Markdown guide: ```sh blocks are run, in order,
in one bash session (so variables carry from block to block), each optionally
followed by a ```text block showing what it prints. Every line of that text
block must appear in the block's output, in order; ``…`` stands for anything.

The one thing rewritten is where the demo listens (the ``LEDGER=`` line), since a
test cannot count on port 8000 being free.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"```(sh|text)\n(.*?)```", re.S)
MARKER = "=== walkthrough block {} ==="


@dataclass(frozen=True)
class Block:
    code: str
    expected: tuple[str, ...]


def blocks(markdown: str, section: str) -> list[Block]:
    """The sh blocks (with their expected text) of the ``## section`` of *markdown*."""
    start = markdown.index(f"## {section}\n")
    end = markdown.find("\n## ", start + 1)
    body = markdown[start : end if end >= 0 else len(markdown)]
    out: list[Block] = []
    for kind, text in FENCE.findall(body):
        if kind == "sh":
            out.append(Block(text, ()))
        elif out and not out[-1].expected:
            lines = tuple(x for x in text.splitlines() if x.strip())
            out[-1] = Block(out[-1].code, lines)
    return out


def _pattern(line: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in line.split("…")))


def run(found: list[Block], cwd: Path, ledger: str, timeout: float = 300.0) -> list[str]:
    """Run the blocks; return each block's output. Fails (AssertionError) on a
    command that fails unexpectedly or an expected line that is not printed."""
    script = ["set -eo pipefail"]
    for i, b in enumerate(found):
        code = re.sub(r"^LEDGER=\S+", f"LEDGER={ledger}", b.code, flags=re.M)
        script += [f"echo '{MARKER.format(i)}'", code]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        check=False,  # the exit code is asserted below, with the output
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    parts = re.split(r"^=== walkthrough block \d+ ===\n", proc.stdout, flags=re.M)[1:]
    assert proc.returncode == 0, (
        f"block {len(parts) - 1} failed (exit {proc.returncode}):\n"
        f"{found[len(parts) - 1].code if parts else ''}\nstdout:\n{proc.stdout}\n"
        f"stderr:\n{proc.stderr}"
    )
    assert len(parts) == len(found), proc.stdout
    for b, output in zip(found, parts, strict=True):
        lines = output.splitlines()
        at = 0
        for want in b.expected:
            pattern = _pattern(want)
            while at < len(lines) and not pattern.fullmatch(lines[at]):
                at += 1
            assert at < len(lines), (
                f"expected {want!r} after running:\n{b.code}\nbut it printed:\n{output}"
            )
            at += 1
    return parts
