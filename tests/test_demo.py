"""The demonstration log: three cycles on a simulated calendar, audited clean."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from frontier_ledger.cli import main as ledger_main
from ledger.demo.build import DemoResult, build_demo
from ledger.demo.scenario import load
from ledger.storage.sqlite import SqliteStore
from verifier.core.leaf import parse_leaf
from verifier.entries.codec import parse_payload

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[DemoResult, list[tuple[str, dict, str]]]:
    result = build_demo(tmp_path_factory.mktemp("demo") / "data")
    store = SqliteStore.open(result.data.db_path, readonly=True)
    entries = []
    for leaf in store.iter_leaves():
        parsed = parse_leaf(leaf)
        p = parse_payload(parsed.envelope.payload)
        entries.append((p.type, json.loads(parsed.envelope.payload), parsed.logged_at))
    store.close()
    return result, entries


def of(entries: list, t: str) -> list[tuple[dict, str]]:
    return [(p, at) for typ, p, at in entries if typ == t]


def test_demo_audit_has_no_violation(demo) -> None:
    result, entries = demo
    assert result.report.violations == ()
    # The extended demo breaks no rule: not even a notice or a warning.
    assert result.report.findings == ()
    assert len(entries) == result.entries + result.markers


def test_demo_is_marked_as_a_simulation(demo) -> None:
    ((charter, _),) = of(demo[1], "charter")
    assert charter["simulation"] is True
    assert "fictional" in charter["regulator"]["name"]


def test_demo_runs_on_its_calendar(demo) -> None:
    _, entries = demo
    times = [at for _, _, at in entries]
    assert times == sorted(times)
    assert times[0].startswith("2026-10-01") and times[-1].startswith("2030-01-01")
    decisions = of(entries, "decision")
    on_dates = [at[:10] for _, at in decisions]
    assert on_dates.count("2027-12-31") == 3  # the on-time batch of 2027, remedy included
    assert "2028-12-31" in on_dates and "2029-01-10" in on_dates and "2029-12-31" in on_dates
    markers = {(p["cycle"], p["marker"]): at[:10] for p, at in of(entries, "schedule_marker")}
    assert markers[(2027, "lift_date")] == "2027-01-01"
    assert markers[(2027, "submission_window_closed")] == "2027-07-01"
    assert markers[(2028, "decision_due")] == "2028-12-31"
    assert markers[(2030, "lift_date")] == "2030-01-01"


def test_demo_covers_every_situation(demo) -> None:
    _, entries = demo
    outcomes = [p["outcome"] for p, _ in of(entries, "decision")]
    assert outcomes.count("approved") >= 3 and "rejected" in outcomes
    assert any(p["outcome"] == "fail" for p, _ in of(entries, "eval_result"))  # a failed evaluation
    assert any(p["outcome"] == "upheld_in_part" for p, _ in of(entries, "contest_resolution"))
    assert of(entries, "training_halted")  # a halted run
    assert of(entries, "threshold_postponement")  # a postponed lift
    assert len(of(entries, "deregulation")) == 2
    assert of(entries, "reveal")
    late = [p for p, at in of(entries, "submission") if dt.date.fromisoformat(at[:10]).month > 6]
    assert late, "a late submission"


def test_audit_command(demo, capsys: pytest.CaptureFixture[str]) -> None:
    result, _ = demo
    assert (
        ledger_main(["audit", "--data", str(result.data.root), "--at", "2030-01-02T00:00:00Z"]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("NO VIOLATIONS ") and " violation " not in out and " warning " not in out
    # Ask again a year later: the 2030 cycle's deadlines have passed with no decision due,
    # but nothing was submitted, so still nothing to report.
    assert (
        ledger_main(
            ["audit", "--data", str(result.data.root), "--json", "--at", "2031-01-02T00:00:00Z"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["violations"] == 0


def test_audit_reports_a_logged_fact_that_breaks_a_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An overrun is a fact the lab must report; it is logged, and the audit flags it.
    scenario = load(SCENARIOS / "s3_overrun_without_halt.toml")
    result = build_demo(tmp_path / "data", scenario)
    assert [f.rule for f in result.report.violations] == ["S3"]
    assert (
        ledger_main(["audit", "--data", str(result.data.root), "--at", "2028-01-02T00:00:00Z"]) == 1
    )
    out = capsys.readouterr().out
    assert "S3" in out and "without a halt" in out


def test_the_witnessed_demo_serves_cosigned_checkpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `make demo` runs: build with two witnesses, serve, and show the trust."""
    import shutil
    import subprocess
    import sys
    import time

    import httpx

    from tests.serverproc import REPO, free_port, run_module, terminate
    from verifier.cli import EXIT_OK, EXIT_UNWITNESSED
    from verifier.cli import main as verify

    port = free_port()
    data = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "frontier_ledger", "demo", "--data", str(data), "--serve",
         "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                audit = httpx.get(f"{base}/api/v1/audit", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo server did not answer"
                time.sleep(0.2)
        assert audit.status_code == 200 and audit.json()["violations"] == 0
        checkpoint = httpx.get(f"{base}/log/checkpoint").text
        size = checkpoint.split("\n")[1]
        # Every scenario entry and schedule marker is in the served tree...
        assert int(size) == audit.json()["tree_size"] > 60
        # ...under the log's signature and both countries' cosignatures.
        signers = [line.split(" ")[1] for line in checkpoint.splitlines() if line.startswith("—")]
        assert signers == [
            "demo.frontier-ledger.invalid/log",
            "witness.northmark.example/ledger",
            "witness.southvale.example/ledger",
        ]
        policy = data / "witnesses.policy"
        assert httpx.get(f"{base}/log/witnesses.policy").text == policy.read_text()
        assert "quorum both" in policy.read_text() and "group both 2 " in policy.read_text()
        capsys.readouterr()
        assert verify(["verify", "--log", f"{base}/log", "--policy", str(policy), "--quiet"]) == (
            EXIT_OK
        )
        assert capsys.readouterr().out.startswith("VERIFIED ")
        # One cosignature stripped: not witnessed (exit 5), and not "LOG BROKEN".
        mirror = tmp_path / "mirror"
        shutil.copytree(data / "static" / "log", mirror)
        cp = mirror / "checkpoint"
        cp.write_text("".join(x for x in cp.read_text().splitlines(True) if "southvale" not in x))
        code = verify(["verify", "--log", str(mirror), "--policy", str(policy), "--quiet"])
        err = capsys.readouterr().err
        assert code == EXIT_UNWITNESSED and "NOT WITNESSED" in err and "quorum" in err
        assert "LOG BROKEN" not in err
        # A split view shown to each witness is refused.
        out = run_module("frontier_ledger", "demo-split-view", "--data", str(data), timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.count("409 REFUSED") == 2 and out.stdout.count("422 REFUSED") == 2
    finally:
        terminate(proc, timeout=30)
    # The witnesses stopped with the server, and no address outlives them.
    witness_lines = [x for x in policy.read_text().splitlines() if x.startswith("witness ")]
    assert len(witness_lines) == 2 and all(len(x.split()) == 3 for x in witness_lines)


def test_a_demo_directory_carries_its_clock(demo, tmp_path: Path) -> None:
    """`serve` on a demo directory runs on its simulated calendar without a flag; a clock
    file beside a log that is not a simulation is refused, never used."""
    from ledger.demo.clock import data_clock
    from ledger.errors import DataDirError
    from ledger.ops.datadir import DataDir
    from ledger.write.open_log import init_log

    result, _ = demo
    clock = data_clock(result.data)
    assert clock is not None and clock() == result.now_ms
    real = DataDir.at(tmp_path / "real")
    init_log(real, "real.example/log", synthetic=True)
    assert data_clock(real) is None
    (real.root / "clock").write_text("2030-01-01T00:00:00Z\n")
    with pytest.raises(DataDirError, match="not a simulation"):
        data_clock(real)


# -- documents: the demo's plans, suites, reports and evidence are readable ---------------


def test_every_document_of_the_demo_is_served_or_sealed(demo) -> None:
    """Every document field holds the digest of a document the demo serves (public), or
    the commitment of a sealed one whose reveal is served and matches it."""
    import base64
    import hashlib

    from verifier.policy.rules.reveals import COMMITMENT_PREFIX

    result, entries = demo
    blobs = {p.name: p.read_bytes() for p in (result.data.root / "blobs" / "sha256").iterdir()}
    assert all(hashlib.sha256(data).hexdigest() == name for name, data in blobs.items())
    sealed, public = [], []
    for _, payload, _ in entries:
        for name in ("plan", "public", "secret", "report", "evidence"):
            doc = payload.get(name)
            if isinstance(doc, dict):
                (sealed if doc["sealed"] else public).append(doc["sha256"])
    assert len(public) >= 14 and all(d in blobs for d in public)
    texts = [blobs[d].decode() for d in public]
    assert all("fictional" in t and len(t.split("\n\n")) >= 3 for t in texts)
    reveals = of(entries, "reveal")
    assert len(reveals) == len(sealed) >= 2  # a sealed plan and a sealed suite, both revealed
    for reveal, _ in reveals:
        content = blobs[reveal["content_sha256"]]
        salt = base64.b64decode(reveal["salt"])
        assert hashlib.sha256(COMMITMENT_PREFIX + salt + content).hexdigest() in sealed
    assert not any(d in blobs for d in sealed), "a commitment is not a document's name"


def test_scenario_documents_fill_digests_commitments_and_reveals(tmp_path: Path) -> None:
    import base64
    import hashlib

    salt = base64.b64encode(bytes(range(32))).decode()
    (tmp_path / "s.toml").write_text(
        f"""base = "{SCENARIOS / "base.toml"}"
[[change]]
label = "prereg-acme"
[change.documents.plan]
sealed = true
salt = "{salt}"
text = "The plan."

[[add]]
after = "decision-acme"
label = "reveal-acme"
type = "reveal"
at = "2027-12-31T12:00:00Z"
by = ["acme"]
reveals = "plan"
fields = {{ commitment = "@prereg-acme" }}
"""
    )
    s = load(tmp_path / "s.toml")
    entries = {e.label: e for e in s.entries}
    expected = hashlib.sha256(b"frontier-ledger/commitment/v1\n" + bytes(range(32)) + b"The plan.")
    assert entries["prereg-acme"].fields["plan"] == {"sealed": True, "sha256": expected.hexdigest()}
    digest = hashlib.sha256(b"The plan.").hexdigest()
    assert entries["reveal-acme"].fields == {
        "commitment": "@prereg-acme",
        "salt": salt,
        "content_sha256": digest,
    }
    assert s.blobs() == {digest: b"The plan."}  # sealed: served only once revealed


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ('{ text = "x", sealed = true }', "needs a 32-byte base64 'salt'"),
        ('{ text = "x", sealed = true, salt = "AAAA" }', "needs a 32-byte base64 'salt'"),
        ('{ text = "x", salt = "AAAA" }', "only a sealed document has a salt"),
        ('{ body = "x" }', "a document is a text, or a table with a 'text'"),
        ('{ text = "x", title = "y" }', "unknown keys"),
    ],
)
def test_scenario_documents_are_parsed_strictly(tmp_path: Path, document: str, error: str) -> None:
    from ledger.errors import ScenarioError

    (tmp_path / "s.toml").write_text(
        f'base = "{SCENARIOS / "base.toml"}"\n[[change]]\nlabel = "prereg-acme"\n'
        f"documents = {{ plan = {document} }}\n"
    )
    with pytest.raises(ScenarioError, match=error):
        load(tmp_path / "s.toml")
