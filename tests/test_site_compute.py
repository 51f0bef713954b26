"""The compute page: compute attested by providers against what organisations declared.

The demo is served as ``make demo`` serves it. The attestations the page must list are
counted from the log itself — every leaf read from the entry bundles at
``/log/tile/entries/…``, as any client reads it — never from the page's own query.
Then the rehearsal's attestation of docs/appending.md is appended with the demo's
simulation key for the cloud Stratus: compute no run covers, which the page and the
compliance page must both show as an undeclared large run (S16).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.demo.build import SIMULATION_KEYS, DemoResult
from ledger.demo.scenario import load
from public_site.compute import CSV_COLUMNS
from tests.serverproc import ServerProcess, run_cli, serve_demo
from tests.test_read_api import log_leaves
from verifier.core.leaf import format_logged_at, parse_leaf
from verifier.entries.fields import parse_time
from verifier.policy.calendar import DAY_MS

#: docs/appending.md's attestation: 4e26 FLOP delivered to Cobalt, which declared no such run.
UNDECLARED = {
    "provider": "stratus",
    "organisation": "cobalt",
    "cluster": "Stratus East 4",
    "period_start": "2030-06-01T00:00:00Z",
    "period_end": "2030-11-30T00:00:00Z",
    "flop_delivered": "4e26",
}
#: When the rehearsal appends it: after the demo's last entry, as docs/appending.md does.
APPEND_AT = "2030-12-31T10:00:00Z"
#: A run whose lab reports 5e25 FLOP while its cloud attests 8e25 FLOP for it (S16).
SHORT = Path(__file__).parent / "scenarios" / "s16_run_reports_far_less_than_attested.toml"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, DemoResult]]:
    yield from serve_demo(tmp_path_factory, "site-compute")


def get(server: ServerProcess, path: str, **params) -> httpx.Response:
    r = httpx.get(server.url(path), params=params, timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    return r


def advance_clock(root: Path, ms: int) -> None:
    """Move the demo's simulated clock to *ms*, never back (the tests run in any order)."""
    clock = root / "clock"
    if ms > parse_time(clock.read_text().strip(), "clock"):
        clock.write_text(format_logged_at(ms) + "\n")


def logged(server: ServerProcess, kind: str) -> dict[int, dict]:
    """index -> payload of every entry of type *kind*, read from the log's entry bundles."""
    out = {}
    for i, leaf in enumerate(log_leaves(server)):
        env = parse_leaf(leaf).envelope
        if env.entry_type == kind:
            out[i] = json.loads(env.payload)
    return out


def test_compute_lists_exactly_the_attestations_in_the_log(demo) -> None:
    server, _ = demo
    expected = {
        i: (p["provider"], p["organisation"], p["flop_delivered"])
        for i, p in logged(server, "compute_attestation").items()
    }
    assert len(expected) >= 5  # the demo's cloud attests for several labs over its cycles
    data = get(server, "/compute", format="json").json()
    got = {
        a["index"]: (a["provider"], a["organisation"], a["flop_delivered"])
        for a in data["attestations"]
    }
    assert got == expected
    assert data["summary"]["attestations"] == len(expected)
    # Per organisation, each provider's attestations add up to the organisation's.
    for org in data["organisations"]:
        mine = [i for i, (_, o, _) in expected.items() if o == org["organisation"]]
        assert (
            org["attestations"] == len(mine) == sum(p["attestations"] for p in org["by_provider"])
        )
    assert {o["organisation"] for o in data["organisations"]} == {
        o for _, o, _ in expected.values()
    }
    # The page shows each attestation once, as a row one can link to, and no other.
    page = get(server, "/compute").text
    assert page.count('<tr role="row" id="attestation-') == len(expected)
    for i in expected:
        row = f'<tr role="row" id="attestation-{i}"><td role="cell" data-label="Entry">'
        assert row + f'<a href="/entries/{i}">{i}</a>' in page
    # The charter's compute window, as the audit applies it (S16).
    assert data["compute_window_days"] == 365
    assert "is added up over any 365 days, against the runs it had under way" in page
    assert "stops covering compute 365 days after its planned end" in page


def test_compute_csv_twin_has_a_row_per_attestation(demo) -> None:
    server, _ = demo
    expected = logged(server, "compute_attestation")
    r = get(server, "/compute", format="csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="compute.csv"' in r.headers["content-disposition"]
    assert tuple(next(csv.reader(io.StringIO(r.text)))) == CSV_COLUMNS
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {int(row["index"]): row["cluster"] for row in rows} == {
        i: p["cluster"] for i, p in expected.items()
    }


def test_each_organisation_shows_the_runs_it_declared(demo) -> None:
    """The runs listed for an organisation are its pre-registrations in the log (their
    first versions: an amendment names the version it supersedes), each linked to its page."""
    server, _ = demo
    preregs = logged(server, "preregistration")
    amended = {i for i, p in preregs.items() if p.get("supersedes") is not None}
    data = get(server, "/compute", format="json").json()
    page = get(server, "/compute").text
    for org in data["organisations"]:
        declared = [r["index"] for r in org["declared_runs"]]
        assert declared == sorted(
            i for i, p in preregs.items() if p["org"] == org["organisation"] and i not in amended
        )
        for r in org["declared_runs"]:
            assert f'<a href="/runs/{r["index"]}"><bdi class="id">{r["run_id"]}</bdi></a>' in page


def test_a_provider_gone_silent_is_shown_with_its_last_attestation(demo) -> None:
    """Each provider's last attestation is its latest in the log. Once the clock passes the
    charter's interval after it, the provider is shown silent, as the audit finds it."""
    server, result = demo
    last: dict[str, tuple[int, int]] = {}  # provider -> (index, logged_at_ms)
    for i, leaf in enumerate(log_leaves(server)):
        parsed = parse_leaf(leaf)
        if parsed.envelope.entry_type == "compute_attestation":
            last[json.loads(parsed.envelope.payload)["provider"]] = (i, parsed.logged_at_ms)
    before = get(server, "/compute", format="json").json()
    interval = before["attestation_interval_days"]
    assert {p["provider"]: p["last"]["index"] for p in before["providers"]} == {
        name: i for name, (i, _) in last.items()
    }
    index, logged_ms = last["stratus"]
    advance_clock(result.data.root, logged_ms + (interval + 1) * DAY_MS)
    data = get(server, "/compute", format="json").json()
    (stratus,) = [p for p in data["providers"] if p["provider"] == "stratus"]
    assert stratus["silent"] and stratus["last"]["index"] == index
    assert stratus["finding"]["links"] == [{"index": index, "url": f"/entries/{index}"}]
    notices = [
        f
        for g in get(server, "/compliance", format="json").json()["rules"]
        if g["rule"] == "S16"
        for f in g["findings"]
        if f["severity"] == "notice"
    ]
    assert [f["message"] for f in notices] == [stratus["finding"]["message"]]
    assert "has not attested since" in stratus["finding"]["message"]
    assert data["summary"]["silent_providers"] == 1
    page = get(server, "/compute").text
    assert '<strong class="bad">silent</strong>' in page


def _attest(server: ServerProcess, root: Path, body: dict, name: str) -> int:
    """Stratus appends *body* as a compute attestation with the CLI, as
    docs/appending.md does (payload and receipt under *name* in *root*): its index."""
    payload = root / f"{name}.json"
    payload.write_text(json.dumps(body))
    origin = httpx.get(server.url("/log/checkpoint"), timeout=30).text.split("\n")[0]
    out = run_cli(
        "append",
        "--key", str(root / SIMULATION_KEYS / "stratus.key"),
        "--type", "compute_attestation",
        "--log", origin,
        "--url", server.base_url,
        "--receipt", str(root / f"{name}.receipt.json"),
        str(payload),
    )  # fmt: skip
    return int(out.strip())


def test_an_undeclared_large_run_is_shown_on_compute_and_compliance(demo) -> None:
    server, result = demo
    before = get(server, "/compute", format="json").json()
    root = result.data.root
    advance_clock(root, parse_time(APPEND_AT, "APPEND_AT"))
    index = _attest(server, root, UNDECLARED, "undeclared-attestation")
    assert index in logged(server, "compute_attestation")

    data = get(server, "/compute", format="json").json()
    assert data["summary"]["undeclared"] == before["summary"]["undeclared"] + 1
    (row,) = [a for a in data["attestations"] if a["index"] == index]
    assert row["status"] == "undeclared" and row["flagged"]
    assert row["finding"]["rule"] == "S16" and row["finding"]["severity"] == "violation"
    assert "an undeclared large run" in row["finding"]["message"]
    assert row["finding"]["links"] == [{"index": index, "url": f"/entries/{index}"}]
    (cobalt,) = [o for o in data["organisations"] if o["organisation"] == "cobalt"]
    assert cobalt["flagged"] >= 1
    assert cobalt["registered"]  # the demo's board granted cobalt a lab key
    page = get(server, "/compute").text
    assert '<h2 id="flagged">Flagged attestations</h2>' in page
    assert f'<a href="/entries/{index}">entry {index}</a>' in page
    assert f'<a href="#attestation-{index}">In the table</a>' in page

    compliance = get(server, "/compliance", format="json").json()
    assert {u["index"] for u in compliance["undeclared_runs"]} >= {index}
    (u,) = [u for u in compliance["undeclared_runs"] if u["index"] == index]
    assert u["compute_url"] == f"/compute#attestation-{index}"
    assert u["message"] == row["finding"]["message"]
    html = get(server, "/compliance").text
    assert '<h2 id="undeclared">Undeclared large runs</h2>' in html
    assert f'<a href="/compute#attestation-{index}">on the compute page</a>' in html
    assert '<a href="/compute">the compute page</a>' in html

    # Compute to a name the log does not register is shown as such, and the audit sums
    # it with every other such name's.
    shell = {**UNDECLARED, "organisation": "cobalt-holdings", "flop_delivered": "1e20"}
    _attest(server, root, shell, "shell-attestation")
    data = get(server, "/compute", format="json").json()
    (holdings,) = [o for o in data["organisations"] if o["organisation"] == "cobalt-holdings"]
    assert holdings["registered"] is False
    page = get(server, "/compute").text
    assert page.count("<strong>Not registered in the log</strong>") == 1


def test_compute_is_in_the_nav_and_on_the_home_page(demo) -> None:
    server, _ = demo
    home = get(server, "/").text
    assert '<nav aria-label="Site">' in home and '<a href="/compute">Compute</a>' in home
    assert '<a href="/compute">compute attested</a>' in home
    org = get(server, "/orgs/cobalt").text
    assert '<a href="/compute">compute attested for every organisation' in org


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from (server for server, _ in serve_demo(tmp_path_factory, "compute-short", load(SHORT)))


def test_a_run_reporting_far_less_than_attested_is_flagged(short) -> None:
    attested = logged(short, "compute_attestation")
    (index,) = attested
    run = attested[index]["run"]
    reports = [
        i for i, p in logged(short, "training_completed").items() if p["preregistration"] == run
    ]
    data = get(short, "/compute", format="json").json()
    (row,) = data["runs"]
    assert row["index"] == run and row["attestations"] == [index]
    assert (row["attested"], row["reported"], row["reported_share"]) == ("8e25", "5e25", "62.5%")
    assert row["short"] and row["reported_in"] == reports[-1]
    assert row["finding"]["severity"] == "warning" and row["finding"]["rule"] == "S16"
    assert {x["index"] for x in row["finding"]["links"]} == {run, index, reports[-1]}
    assert data["summary"]["short_runs"] == 1 and data["summary"]["undeclared"] == 0
    page = get(short, "/compute").text
    assert '<strong class="bad">falls short</strong>' in page
    assert f'<a href="/entries/{reports[-1]}">entry {reports[-1]}</a>' in page
