"""A governed log, used as its people would: keys, offline signing, the CLI, receipts.

A board of three (quorum two) signs the charter and grants keys; a regulator,
a lab and an evaluator append their entries with ``frontier-ledger append``;
every receipt verifies offline with ``frontier-verify proof``. Then every
admission refusal is tried over HTTP, and each leaves the log unchanged.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.ops.datadir import DataDir
from ledger.write.open_log import init_log
from tests.payload_examples import EXAMPLES
from tests.serverproc import REPO, ServerProcess

ORIGIN = "governed.example/log"


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "frontier_ledger", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def verify_receipt(receipt: Path, vkey: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "verifier.cli", "proof", str(receipt), "--vkey", vkey],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


class People:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.keys: dict[str, Path] = {}
        self.public: dict[str, dict[str, str]] = {}
        for name in ("gov-a", "gov-b", "gov-c", "regulator", "acme", "evaluator", "stranger"):
            path = root / f"{name}.key"
            out = cli("keygen", "--out", str(path)).stdout
            self.keys[name] = path
            self.public[name] = json.loads(out[out.index("{") :])

    def key_args(self, *names: str) -> list[str]:
        return [a for n in names for a in ("--key", str(self.keys[n]))]

    def grant(self, name: str, *roles: str) -> dict:
        return {**self.public[name], "roles": list(roles), "holder": name, "reason": "appointed"}


@pytest.fixture(scope="module", params=[0, 2], ids=["one-process", "http-workers"])
def ledger(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[ServerProcess, str, People, Path]]:
    """The server, as one process, then with two HTTP workers in front of the writer
    (``serve --workers 2``): every append and refusal below must read the same."""
    root = tmp_path_factory.mktemp("governed")
    data = DataDir.at(root / "data")
    vkey = init_log(data, ORIGIN)
    people = People(root)
    # The schedule runs on a simulated calendar: the test moves the clock.
    set_clock(root, "2026-10-01T09:00:00Z")
    workers = ["--workers", str(request.param)] if request.param else []
    server = ServerProcess(data.root, extra=["--simulated-clock", str(root / "clock"), *workers])
    server.start()
    try:
        yield server, vkey, people, root
    finally:
        server.stop()


def set_clock(root: Path, when: str) -> None:
    (root / "clock").write_text(when + "\n")


def write(root: Path, name: str, obj: dict) -> str:
    path = root / name
    path.write_text(json.dumps(obj))
    return str(path)


def append(
    ledger, name: str, entry_type: str, body: dict, *signers: str, at: str | None = None
) -> tuple[int, Path]:
    server, vkey, people, root = ledger
    if at is not None:
        set_clock(root, at)
    receipt = root / f"{name}.receipt.json"
    proc = cli(
        "append",
        *people.key_args(*signers),
        "--type",
        entry_type,
        "--log",
        ORIGIN,
        "--url",
        server.base_url,
        "--receipt",
        str(receipt),
        write(root, f"{name}.json", body),
    )
    out = verify_receipt(receipt, vkey)
    assert f"type {entry_type}" in out
    index = int(proc.stderr.split("index ")[1].split(",")[0])
    return index, receipt


def state(server: ServerProcess) -> bytes:
    return httpx.get(server.url("/log/checkpoint")).content


@pytest.fixture(scope="module")
def populated(ledger) -> dict[str, int]:
    server, vkey, people, root = ledger
    board = [
        {
            "name": n,
            "keyid": people.public[n]["keyid"],
            "public_key": people.public[n]["public_key"],
        }
        for n in ("gov-a", "gov-b", "gov-c")
    ]
    charter = copy.deepcopy(EXAMPLES["charter"])
    charter["root_keys"], charter["board_quorum"] = board, 2
    # Offline: governor A signs, governor B countersigns the envelope, then it is submitted.
    env_a = root / "charter.a.json"
    cli(
        "sign",
        *people.key_args("gov-a"),
        "--type",
        "charter",
        "--log",
        ORIGIN,
        "--out",
        str(env_a),
        write(root, "charter.json", charter),
    )
    env_ab = root / "charter.ab.json"
    cli("sign", *people.key_args("gov-b"), "--out", str(env_ab), str(env_a))
    receipt = root / "charter.receipt.json"
    cli("submit", str(env_ab), "--url", server.base_url, "--receipt", str(receipt))
    assert "entry 0 is in" in verify_receipt(receipt, vkey)
    idx = {"charter": 0}
    for name, roles in (
        ("regulator", ["regulator"]),
        ("acme", ["lab:acme"]),
        ("evaluator", ["evaluator"]),
    ):
        idx[f"grant-{name}"], _ = append(
            ledger, f"grant-{name}", "key_grant", people.grant(name, *roles), "gov-a", "gov-c"
        )
    idx["org"], _ = append(
        ledger,
        "org",
        "organisation",
        EXAMPLES["organisation"],
        "regulator",
        at="2026-10-02T09:00:00Z",
    )
    idx["threshold"], _ = append(
        ledger, "threshold", "threshold_schedule", EXAMPLES["threshold_schedule"], "regulator"
    )
    idx["suite"], _ = append(
        ledger,
        "suite",
        "eval_suite",
        EXAMPLES["eval_suite"],
        "evaluator",
        at="2026-10-03T09:00:00Z",
    )
    prereg = EXAMPLES["preregistration"]
    idx["prereg"], _ = append(
        ledger, "prereg", "preregistration", prereg, "acme", at="2026-10-05T09:00:00Z"
    )
    ref = {"preregistration": idx["prereg"]}
    idx["started"], _ = append(
        ledger,
        "started",
        "training_started",
        {**EXAMPLES["training_started"], **ref},
        "acme",
        at="2027-01-04T08:00:00Z",
    )
    idx["submission"], _ = append(
        ledger,
        "submission",
        "submission",
        {**EXAMPLES["submission"], **ref},
        "acme",
        at="2027-06-01T12:00:00Z",
    )
    result = {**EXAMPLES["eval_result"], "submission": idx["submission"], "suite": idx["suite"]}
    idx["result"], _ = append(
        ledger, "result", "eval_result", result, "evaluator", at="2027-09-01T09:00:00Z"
    )
    decision = {
        **EXAMPLES["decision"],
        "submission": idx["submission"],
        "eval_results": [idx["result"]],
        "findings": [],
    }
    idx["decision"], _ = append(
        ledger, "decision", "decision", decision, "regulator", at="2027-12-31T09:00:00Z"
    )
    set_clock(root, "2028-01-02T09:00:00Z")
    return idx


def test_people_append_through_the_cli_and_receipts_verify(populated: dict[str, int]) -> None:
    assert list(populated.values()) == list(range(len(populated)))


def post(server: ServerProcess, env: dict) -> httpx.Response:
    return httpx.post(server.url("/api/v1/entries"), json=env, timeout=30)


def signed(ledger, entry_type: str, body: dict, *signers: str, log: str = ORIGIN) -> dict:
    _, _, people, root = ledger
    proc = cli(
        "sign",
        *people.key_args(*signers),
        "--type",
        entry_type,
        "--log",
        log,
        write(root, f"tmp-{entry_type}.json", body),
    )
    return json.loads(proc.stdout)


def refused(ledger, env: dict, status: int, code: str, match: str = "") -> None:
    server = ledger[0]
    before = state(server)
    r = post(server, env)
    assert r.status_code == status, r.text
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert set(problem) >= {"type", "title", "status", "detail"}
    assert problem["type"].endswith(code), problem
    assert match in problem["detail"], problem["detail"]
    if code == "policy-violation":
        assert problem["rule"] == match
    assert state(server) == before, "a refused entry changed the log"


def test_refusals_leave_the_log_unchanged(ledger, populated: dict[str, int]) -> None:
    org = EXAMPLES["organisation"]
    # Bad signature: one byte of the signature changed.
    env = signed(ledger, "organisation", org, "regulator")
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[5] ^= 1
    env["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    refused(ledger, env, 403, "bad-signature", "does not verify")
    # Unknown key.
    refused(ledger, signed(ledger, "organisation", org, "stranger"), 403, "unknown-key")
    # Wrong role: a lab signing a regulator's entry.
    refused(ledger, signed(ledger, "organisation", org, "acme"), 403, "wrong-role", "regulator")
    # Board quorum not met: one governor alone.
    grant = ledger[2].grant("stranger", "evaluator")
    refused(ledger, signed(ledger, "key_grant", grant, "gov-a"), 403, "quorum-not-met", "needs 2")
    # A payload meant for another log.
    refused(
        ledger,
        signed(ledger, "organisation", org, "regulator", log="elsewhere.example/log"),
        422,
        "wrong-log",
    )
    # Schema error (checked before signing by the CLI, so build the envelope by hand).
    from ledger.keys.entry_signing import EntryKey, payload_type_for, sign_envelope

    key = EntryKey.load(ledger[2].keys["regulator"])
    bad = {"type": "organisation", "v": 1, "log": ORIGIN, **org, "kind": "bank"}
    env = sign_envelope(json.dumps(bad).encode(), payload_type_for("organisation"), [key])
    refused(ledger, env, 422, "schema", "kind")
    # A string escaping a lone surrogate (json.dumps writes "\ud800" as the escape): no
    # UTF-8 can store or show it, so it is refused, not left to fail the whole batch
    # at commit (as it once did, with 503 for every entry committed with it).
    bad = {"type": "organisation", "v": 1, "log": ORIGIN, **org, "legal_name": "A \ud800 B"}
    env = sign_envelope(json.dumps(bad).encode(), payload_type_for("organisation"), [key])
    refused(ledger, env, 422, "schema", "lone surrogate")
    # References: to a missing entry, and to an entry of the wrong type.
    start = {**EXAMPLES["training_started"], "preregistration": 10_000}
    refused(
        ledger,
        signed(ledger, "training_started", start, "acme"),
        422,
        "bad-reference",
        "not before",
    )
    start = {**EXAMPLES["training_started"], "preregistration": populated["org"]}
    refused(
        ledger,
        signed(ledger, "training_started", start, "acme"),
        422,
        "bad-reference",
        "organisation",
    )
    # Policy preflight: a second decision on the same submission breaks S10.
    again = {
        **EXAMPLES["decision"],
        "submission": populated["submission"],
        "outcome": "rejected",
        "eval_results": [populated["result"]],
        "findings": [],
    }
    refused(ledger, signed(ledger, "decision", again, "regulator"), 409, "policy-violation", "S10")
    # Oversize.
    big = {**org, "legal_name": "x" * 200}
    env = signed(ledger, "organisation", big, "regulator")
    env["payload"] = base64.b64encode(b"x" * 70_000).decode()
    refused(ledger, env, 400, "malformed-entry", "65535")
    # Each refusal by admission is counted by reason for the operator's dashboards.
    text = httpx.get(ledger[0].url("/metrics"), timeout=30).text
    for reason in ("bad-signature", "unknown-key", "wrong-role", "quorum-not-met", "schema"):
        assert f'frontier_admission_refusals_total{{reason="{reason}"}} ' in text, reason
    assert 'frontier_admission_refusals_total{reason="policy-violation"} 1' in text


def test_revoked_key_and_duplicate(ledger, populated: dict[str, int]) -> None:
    server = ledger[0]
    env = signed(
        ledger, "organisation", {**EXAMPLES["organisation"], "org_id": "borealis"}, "regulator"
    )
    first = post(server, env)
    assert first.status_code == 201
    again = post(server, env)
    assert again.status_code == 200 and again.json()["index"] == first.json()["index"]
    assert again.json()["duplicate"] is True
    revoke = {"keyid": ledger[2].public["evaluator"]["keyid"], "reason": "contract ended"}
    assert post(server, signed(ledger, "key_revoke", revoke, "gov-b", "gov-c")).status_code == 201
    suite = {**EXAMPLES["eval_suite"], "version": "2027.2"}
    refused(
        ledger,
        signed(ledger, "eval_suite", suite, "evaluator"),
        403,
        "revoked-key",
        "revoked at index",
    )


def test_a_late_submission_is_told_it_is_late_and_when_it_is_decided(
    ledger, populated: dict[str, int]
) -> None:
    server = ledger[0]
    # The on-time submission's entry page said so.
    page = httpx.get(server.url(f"/entries/{populated['submission']}"), timeout=30).text
    assert "On time" in page and "decided with every on-time submission on 2027-12-31" in page
    # Another model of the same 2027 run, submitted on 2 January 2028: late.
    body = {
        **EXAMPLES["submission"],
        "preregistration": populated["prereg"],
        "model_digest": "ab" * 32,
        "submitted_at": "2028-01-02T09:00:00Z",
    }
    r = post(server, signed(ledger, "submission", body, "acme"))
    assert r.status_code == 201, r.text
    schedule = r.json()["schedule"]
    assert schedule["on_time"] is False and schedule["cycle"] == 2027
    assert schedule["deadline"] == "2027-06-30" and schedule["decision_date"] == "2027-12-31"
    limit = EXAMPLES["charter"]["late_decision_limit_days"]
    assert schedule["decide_by"] == (dt.date(2028, 1, 2) + dt.timedelta(days=limit)).isoformat()
    assert schedule["status"].startswith("late: logged after the 2027 submission deadline")
    page = httpx.get(server.url(f"/entries/{r.json()['index']}"), timeout=30).text
    assert "Late" in page and f"by {schedule['decide_by']}" in page


def test_http_workers_check_the_signatures_before_the_writer(
    ledger, populated: dict[str, int]
) -> None:
    """With workers, entries signed by granted keys reach the writer with their signatures
    verified (ledger/write/precheck.py); the refusals above read the same either way."""
    server = ledger[0]
    text = httpx.get(server.url("/metrics"), timeout=30).text
    (line,) = [x for x in text.splitlines() if x.startswith("frontier_entries_prechecked_total ")]
    prechecked = float(line.split()[1])
    if "--workers" in server.extra:
        assert prechecked > 0
    else:
        assert prechecked == 0
