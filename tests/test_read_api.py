"""The read API of a governed log (the demo) over a real server: search, schemas,
entry details, audit, and the schedule-marker job on a simulated clock. The demo
runs twice: in SQLite and in a real PostgreSQL database (``--database``)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest

from ledger.demo.build import DemoResult, build_demo, scenario_path
from ledger.demo.scenario import load
from tests.serverproc import ServerProcess
from verifier.core.leaf import parse_leaf
from verifier.core.note import parse_vkey
from verifier.core.tiles import ENTRIES, parse_entry_bundle, tiles_for_size
from verifier.core.tlog_proof import parse_tlog_proof, verify_tlog_proof
from verifier.policy.rules.reveals import due_markers
from verifier.policy.state import PolicyState

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, module_database: str | None
) -> Iterator[tuple[ServerProcess, DemoResult]]:
    result = build_demo(tmp_path_factory.mktemp("demo") / "data", database=module_database)
    root = result.data.root
    server = ServerProcess(
        root,
        extra=["--simulated-clock", str(root / "clock"), "--marker-interval", "0.2"],
        database=module_database,
    )
    server.start()
    try:
        yield server, result
    finally:
        server.stop()


def get(server: ServerProcess, path: str, **params) -> dict:
    r = httpx.get(server.url(path), params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def search(server: ServerProcess, **params) -> list[int]:
    body = get(server, "/api/v1/entries", limit=500, **params)
    assert "Completeness comes from the log itself" in body["note"]
    return [e["index"] for e in body["entries"]]


def payload_of(server: ServerProcess, index: int) -> dict:
    return get(server, f"/api/v1/entries/{index}")["payload"]


def test_search_filters(demo) -> None:
    server, _ = demo
    decisions = search(server, type="decision")
    scenario = load(scenario_path())
    assert len(decisions) == sum(1 for e in scenario.entries if e.type == "decision")
    assert all(payload_of(server, i)["type"] == "decision" for i in decisions)
    borealis = search(server, org="borealis")
    kinds = {payload_of(server, i)["type"] for i in borealis}
    assert {"preregistration", "submission", "contest_finding", "decision"} <= kinds
    run = search(server, run="acme-2027")
    assert {payload_of(server, i)["type"] for i in run} >= {
        "preregistration",
        "training_started",
        "submission",
        "eval_result",
        "decision",
        "reveal",
    }
    assert all(payload_of(server, i).get("level", 2) == 2 for i in search(server, level=2))
    assert search(server, cycle=2028)
    text = search(server, q="jailbreak")
    assert {payload_of(server, i)["type"] for i in text} == {"contest_finding", "eval_result"}
    assert search(server, q='"; DROP TABLE entries; --') == []
    window = search(server, since="2027-12-31T00:00:00Z", until="2028-01-01T00:00:00Z")
    assert set(decisions[:2]) <= set(window)


def test_nul_in_a_search_is_a_clean_answer(demo) -> None:
    # Once a 5xx: 500 from SQLite (its full-text query ended at the NUL), 503 from
    # PostgreSQL (its text cannot hold a NUL). A NUL separates words; a filter with one
    # matches nothing.
    server, _ = demo
    jailbreak = search(server, q="jailbreak")
    assert jailbreak and search(server, q="jailbreak\x00") == jailbreak
    assert search(server, q="\x00") == []
    for name in ("type", "org", "run"):
        assert search(server, **{name: "acme\x00"}) == [], name
    # The site's list runs the same search.
    for params, found in (
        ({"q": "jailbreak\x00"}, jailbreak),
        ({"q": "zzyzx\x00qqq"}, []),
        ({"org": "\x00"}, []),
        ({"type": "decision\x00"}, []),
    ):
        r = httpx.get(server.url("/entries"), params={**params, "format": "json"}, timeout=30)
        assert r.status_code == 200, (params, r.text[:300])
        assert [e["index"] for e in r.json()["entries"]] == found, params


def test_search_pages(demo) -> None:
    server, _ = demo
    seen, after = [], -1
    for _ in range(100):
        body = get(server, "/api/v1/entries", limit=7, after=after)
        seen += [e["index"] for e in body["entries"]]
        if body["next_after"] is None:
            break
        after = body["next_after"]
    assert seen == list(range(len(seen))) and len(seen) >= 66


def test_schemas(demo) -> None:
    server, _ = demo
    types = get(server, "/api/v1/schemas")["types"]
    from verifier.entries.payloads import TYPES

    assert set(types) == set(TYPES) and "log_key_change" in types and "model_update" in types
    r = httpx.get(server.url("/api/v1/schemas/decision"))
    assert r.headers["content-type"] == "application/schema+json"
    schema = r.json()
    jsonschema.Draft202012Validator.check_schema(schema)
    decision = payload_of(server, search(server, type="decision")[0])
    jsonschema.validate(decision, schema, cls=jsonschema.Draft202012Validator)
    missing = httpx.get(server.url("/api/v1/schemas/coronation"))
    assert missing.status_code == 404 and missing.json()["status"] == 404


def test_entry_details_name_the_signers_and_carry_a_receipt(demo) -> None:
    server, result = demo
    index = search(server, type="decision")[0]
    body = get(server, f"/api/v1/entries/{index}")
    assert body["type"] == "decision"
    assert body["signers"][0]["holder"] == "regulator"
    assert body["signers"][0]["roles"] == ["regulator"]
    receipt = body["receipt"]
    verified = verify_tlog_proof(
        base64.b64decode(receipt["leaf"]),
        parse_tlog_proof(receipt["tlog_proof"]),
        parse_vkey(result.vkey),
    )
    assert verified.index == index


def log_leaves(server: ServerProcess) -> list[bytes]:
    """Every leaf, read as any client reads the log: its entry bundles (tlog-tiles)."""
    note = httpx.get(server.url("/log/checkpoint"), timeout=30).text
    size = int(note.split("\n")[1])
    leaves: list[bytes] = []
    for tile in tiles_for_size(size, ENTRIES):
        r = httpx.get(server.url(f"/log/{tile.path}"), timeout=30)
        assert r.status_code == 200, tile.path
        leaves += parse_entry_bundle(r.content, tile.width)
    assert len(leaves) == size
    return leaves


def approvals_in_log(leaves: list[bytes]) -> dict[int, tuple[str, int, int]]:
    """decision index -> (lab, level, cycle), for every decision that approves a model."""
    payloads = {}
    for i, leaf in enumerate(leaves):
        env = parse_leaf(leaf).envelope
        payloads[i] = (env.entry_type, json.loads(env.payload))
    out = {}
    for i, (kind, body) in payloads.items():
        if kind == "decision" and body["outcome"] == "approved":
            prereg = payloads[payloads[body["submission"]][1]["preregistration"]][1]
            out[i] = (prereg["org"], prereg["level"], prereg["cycle"])
    return out


def test_register_lists_exactly_the_approved_models_in_the_log(demo) -> None:
    server, result = demo
    expected = approvals_in_log(log_leaves(server))
    assert len(expected) >= 3  # the demo approves several models over its cycles
    body = get(server, "/api/v1/register")
    got = {m["decision"]: (m["lab"], m["level"], m["cycle"]) for m in body["models"]}
    assert got == expected
    assert body["approved"] == len(expected) and body["with_violations"] == 0
    # Each row's receipt verifies offline against the log's key, for its decision.
    for m in body["models"]:
        receipt = get(server, m["api_receipt"])
        verified = verify_tlog_proof(
            base64.b64decode(receipt["leaf"]),
            parse_tlog_proof(receipt["tlog_proof"]),
            parse_vkey(result.vkey),
        )
        assert verified.index == m["decision"]
    # What the plan asks the register to show is there, for the demo's updated model.
    updated = [m for m in body["models"] if m["updates"]]
    assert updated and {u["significant"] for u in updated[0]["updates"]} == {True, False}
    assert all(m["results"] and m["inference"] for m in body["models"])
    assert any(m["research_access"] for m in body["models"])
    r = httpx.get(server.url("/api/v1/register"), params={"at": "yesterday"}, timeout=30)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")


def test_audit_endpoint(demo) -> None:
    server, _ = demo
    body = get(server, "/api/v1/audit")
    assert body["violations"] == 0
    assert body["findings"] == []
    assert body["at"].startswith("2030-01-02")
    later = get(server, "/api/v1/audit", at="2030-01-03T00:00:00Z")
    assert later["violations"] == 0


def test_due_markers_pure() -> None:
    s = load(Path(__file__).parent.parent / "ledger" / "demo" / "scenario.toml")
    from verifier.entries.codec import parse_payload
    from verifier.policy.engine import PolicyEngine

    engine = PolicyEngine()
    at, env = s.envelopes()[0]
    engine.apply(0, parse_payload(base64.b64decode(env["payload"])), at)
    state: PolicyState = engine.state
    assert due_markers(state, at) == []
    due = due_markers(state, 1_814_400_000_000)  # 2027-07-01 (window closed)
    assert [m for _, m, _ in due] == ["lift_date", "submission_window_closed"]
    state.markers[(2027, "lift_date")] = 1
    assert [m for _, m, _ in due_markers(state, 1_814_400_000_000)] == ["submission_window_closed"]


def test_marker_job_appends_markers_as_the_clock_passes_deadlines(demo) -> None:
    server, result = demo
    root = result.data.root
    before = search(server, type="schedule_marker")
    (root / "clock").write_text("2030-07-02T00:00:00Z\n")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        markers = search(server, type="schedule_marker")
        if len(markers) > len(before):
            break
        time.sleep(0.2)
    new = [payload_of(server, i) for i in markers if i not in before]
    assert [(m["cycle"], m["marker"]) for m in new] == [(2030, "submission_window_closed")]
    time.sleep(1.0)  # several more ticks: a marker is never logged twice
    assert len(search(server, type="schedule_marker")) == len(markers)
    entry = get(server, f"/api/v1/entries/{new and markers[-1]}")
    assert entry["logged_at"].startswith("2030-07-02")
    assert entry["signers"][0]["roles"] == ["log"]
    # Half a year on: the cloud that stopped attesting is visible.
    notices = get(server, "/api/v1/audit")["findings"]
    assert {(f["rule"], f["severity"]) for f in notices} == {("S16", "notice")}
