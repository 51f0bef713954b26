"""The register of approved models on the site, its twins and receipts; the home page's
answers; decisions' outcomes on runs and the regulator's scorecard; the pages of the new
entry types; and the new types' place in runs, organisations and feeds.

The demo is served witnessed, as ``make demo`` runs it. The approved models are counted
from the log itself — every leaf read from the entry bundles at ``/log/tile/entries/…``,
as any client reads it — never from the register's own query. The base scenario with
hostile strings shows the new pages keep them inert.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from markupsafe import escape

from ledger.demo.build import DemoResult
from ledger.demo.scenario import load
from ledger.read.register import CSV_COLUMNS
from tests.serverproc import ServerProcess, serve_demo
from tests.test_read_api import approvals_in_log, log_leaves
from tests.test_site import RTL, SCRIPT, SVG, hostile_scenario
from verifier import cli as verify_cli
from verifier.cli.options import EXIT_OK
from verifier.core.leaf import parse_leaf
from verifier.core.note import parse_vkey
from verifier.core.tlog_proof import RECEIPT_MEDIA_TYPE, parse_tlog_proof, verify_tlog_proof
from verifier.entries.payloads import TYPES

SCENARIOS = Path(__file__).parent / "scenarios"
ATOM = "{http://www.w3.org/2005/Atom}"
#: The entry types of the plan's models, compute, governance and research (S15-S19).
PLAN_TYPES = (
    "model_update",
    "compute_attestation",
    "charter_amendment",
    "observer_statement",
    "staff_declaration",
    "research_access",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, DemoResult]]:
    yield from serve_demo(tmp_path_factory, "site-register", witnessed=True)


@pytest.fixture(scope="module")
def leaves(demo) -> list[bytes]:
    server, _ = demo
    return log_leaves(server)


def get(server: ServerProcess, path: str, **params) -> httpx.Response:
    r = httpx.get(server.url(path), params=params, timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    return r


def payloads(leaves: list[bytes]) -> list[tuple[str, dict]]:
    """(type, payload) of every entry of the log, by index."""
    out = []
    for leaf in leaves:
        env = parse_leaf(leaf).envelope
        out.append((env.entry_type, json.loads(env.payload)))
    return out


# -- the register: page, JSON, CSV and Atom twins, receipts ------------------------------


def test_register_lists_exactly_the_approved_models_in_the_log(demo, leaves) -> None:
    server, _ = demo
    expected = approvals_in_log(leaves)
    assert len(expected) >= 5  # the demo approves several models, and an update, over its cycles
    data = get(server, "/register", format="json").json()
    got = {m["decision"]: (m["lab"], m["level"], m["cycle"]) for m in data["models"]}
    assert got == expected
    assert data["approved"] == len(expected) and data["with_violations"] == 0
    # The JSON twin is the API's document.
    assert data == get(server, "/api/v1/register").json()
    # The page shows each approval once, and no other.
    page = get(server, "/register").text
    assert page.count('<section class="model" id="decision-') == len(expected)
    for decision in expected:
        assert f'id="decision-{decision}"' in page
        assert f'href="/entries/{decision}/receipt.json" download="{decision}.receipt.json"' in page


def test_register_csv_twin_has_a_row_per_approval(demo, leaves) -> None:
    server, _ = demo
    expected = approvals_in_log(leaves)
    r = get(server, "/register", format="csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="register.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert tuple(next(csv.reader(io.StringIO(r.text)))) == CSV_COLUMNS
    got = {int(row["decision"]): (row["lab"], int(row["level"]), int(row["cycle"])) for row in rows}
    assert got == expected
    for row in rows:
        assert row["receipt"] == f"/entries/{row['decision']}/receipt.json"
        assert row["results"] and "pass" in row["results"] and row["violations"] == "0"
    updated = [row for row in rows if row["updates"]]
    assert updated and "lesser" in updated[0]["updates"] and "significant" in updated[0]["updates"]


def test_register_feed_has_one_item_per_approval(demo, leaves) -> None:
    server, _ = demo
    expected = approvals_in_log(leaves)
    page = get(server, "/register").text
    assert (
        '<link rel="alternate" type="application/atom+xml" '
        'title="The register of approved models" href="/feeds/register.atom">'
    ) in page
    r = get(server, "/feeds/register.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(r.content)
    assert feed.findtext(f"{ATOM}title") == "Frontier Ledger: the register of approved models"
    items = feed.findall(f"{ATOM}entry")
    assert len(items) == len(expected)
    seen = set()
    for item in items:
        links = {link.get("rel"): link.get("href") for link in item.findall(f"{ATOM}link")}
        decision = int(links["alternate"].rsplit("#decision-", 1)[1])
        seen.add(decision)
        assert links["related"].endswith(f"/entries/{decision}")
        assert links["enclosure"].endswith(f"/entries/{decision}/receipt.json")
        assert item.findtext(f"{ATOM}title").startswith("Approved: ")
        assert item.findtext(f"{ATOM}id").endswith(f":register:{decision}")
        assert f"decision entry {decision}" in item.findtext(f"{ATOM}summary")
    assert seen == set(expected)


def test_every_rows_receipt_verifies_offline(demo, tmp_path: Path, capsys) -> None:
    server, result = demo
    policy = tmp_path / "witnesses.policy"
    policy.write_text(get(server, "/log/witnesses.policy").text)
    models = get(server, "/register", format="json").json()["models"]
    for m in models:
        r = get(server, m["receipt"])
        assert r.headers["content-type"] == "application/json"
        receipt = r.json()
        # Exactly the API's receipt: one function makes both.
        assert receipt == get(server, m["api_receipt"]).json()
        assert set(receipt) == {"media_type", "leaf", "tlog_proof"}
        assert receipt["media_type"] == RECEIPT_MEDIA_TYPE
        verified = verify_tlog_proof(
            base64.b64decode(receipt["leaf"]),
            parse_tlog_proof(receipt["tlog_proof"]),
            parse_vkey(result.vkey),
        )
        assert verified.index == m["decision"]
        assert parse_leaf(base64.b64decode(receipt["leaf"])).envelope.entry_type == "decision"
        # What the page tells a reader to run: the receipt with the witnesses' quorum.
        path = tmp_path / f"{m['decision']}.receipt.json"
        path.write_bytes(r.content)
        capsys.readouterr()
        assert verify_cli.main(["proof", str(path), "--policy", str(policy)]) == EXIT_OK
        out = capsys.readouterr().out
        assert f"VERIFIED: entry {m['decision']} is in " in out
        assert "witnessed by northmark, southvale" in out and "type decision" in out
    missing = httpx.get(server.url("/entries/99999/receipt.json"), timeout=30)
    assert missing.status_code == 404
    assert httpx.get(server.url("/entries/-1/receipt.json"), timeout=30).status_code == 404


def test_register_page_says_where_it_comes_from_and_how_to_check_a_row(demo) -> None:
    server, _ = demo
    page = get(server, "/register").text
    nav = page.split('<nav aria-label="Site">', 1)[1].split("</nav>", 1)[0]
    links = [chunk.split('"', 1)[0] for chunk in nav.split('href="')[1:]]
    assert links[:2] == ["/", "/register"], "the register is the first page the site links to"
    assert "Derived from the log." in page
    assert "verify the log itself with <code>frontier-verify</code>" in page
    assert "<code>frontier-verify proof N.receipt.json --policy witnesses.policy</code>" in page
    assert 'href="/log/witnesses.policy"' in page
    assert 'href="/register?format=csv"' in page and 'href="/api/v1/register"' in page
    # What the plan asks a row to show, for the model Acme updated twice.
    acme = page.split('id="decision-', 2)[1]
    for words in (
        "Inference configuration",
        "Scaffolding and tools: <bdi>code interpreter</bdi>, <bdi>web search</bdi>",
        "Inference compute ceiling: 1e16 FLOP per task",
        "fine tuning, 3e23 FLOP",
        "by category: <bdi>bio-uplift</bdi> pass, <bdi>autonomy</bdi> pass",
        "<strong>lesser</strong>",
        "<strong>significant</strong>",
        "Researchers' access",
        "Deregulated",
        "none: the audit found nothing against this approval",
    ):
        assert words in acme, words


# -- the home page answers first ---------------------------------------------------------


def test_home_answers_the_four_questions_first(demo, leaves) -> None:
    server, _ = demo
    data = get(server, "/", format="json").json()
    a = data["answers"]
    assert next(iter(data)) == "answers"
    approved = {m["decision"] for lv in a["approved_by_level"] for m in lv["models"]}
    assert approved == set(approvals_in_log(leaves))
    assert [lv["level"] for lv in a["approved_by_level"]] == [2, 1]
    late = {(x["run_id"], x["outcome"], x["is_update"]) for x in a["late_submissions"]}
    assert late == {("cobalt-2028", "approved", False), ("acme-2027", "approved", True)}
    assert a["regulator_late"] == [] and a["contest_replies_late"] == []
    (failed,) = a["failed_evaluations"]
    assert (failed["run_id"], failed["outcome"]) == ("acme-2028", "rejected")
    assert a["approvals_breaking_rules"] == [] and a["violations"] == 0
    page = get(server, "/").text
    order = [
        page.index(h)
        for h in (
            "Which models are approved, at which level",
            "Who was late",
            "Which evaluations failed",
            "Did any approval break a rule?",
            "Where the schedule stands on",
            "Who vouches for it",
        )
    ]
    assert order == sorted(order)
    answers = page[order[0] : order[4]]
    for link in ('href="/register"', 'href="/runs"', 'href="/compliance"', 'href="/regulator"'):
        assert link in answers, link
    assert f'href="{failed["url"]}"' in answers


# -- decisions' outcomes on the runs and the regulator's scorecard ------------------------


def test_runs_and_the_regulator_show_each_decisions_outcome(demo, leaves) -> None:
    server, _ = demo
    logged = payloads(leaves)
    outcome_of = {i: p["outcome"] for i, (t, p) in enumerate(logged) if t == "decision"}
    runs = {r["run_id"]: r for r in get(server, "/runs", format="json").json()["runs"]}
    assert runs["acme-2028"]["outcome"] == "rejected"
    assert [d["outcome"] for d in runs["borealis-2027"]["decisions"]] == ["rejected", "approved"]
    assert runs["cobalt-2027"]["outcome"] is None  # halted: never submitted
    for r in runs.values():
        for d in r["decisions"]:
            assert (
                outcome_of[d["decision"]] == d["outcome"]
                and d["url"] == f"/entries/{d['decision']}"
            )
    page = get(server, "/runs").text
    d = runs["acme-2028"]["decisions"][0]
    assert f'<a href="/entries/{d["decision"]}">rejected</a>' in page
    rows = list(csv.DictReader(io.StringIO(get(server, "/runs", format="csv").text)))
    assert {row["run_id"]: row["outcome"] for row in rows}["acme-2028"] == "rejected"
    run = get(server, runs["acme-2028"]["url"], format="json").json()
    assert [s["outcome"] for s in run["submissions"]] == ["rejected"]
    assert "<strong>rejected</strong> in entry" in get(server, runs["acme-2028"]["url"]).text
    regulator = get(server, "/regulator", format="json").json()
    for row in regulator["decisions"]:
        assert row["outcome"] == outcome_of[row["decision"]]
    summary = regulator["summary"]
    assert (summary["approved"], summary["rejected"]) == (
        sum(1 for o in outcome_of.values() if o == "approved"),
        sum(1 for o in outcome_of.values() if o == "rejected"),
    )
    assert f'<a href="/entries/{d["decision"]}">rejected</a>' in get(server, "/regulator").text
    rows = list(csv.DictReader(io.StringIO(get(server, "/regulator", format="csv").text)))
    assert {row["outcome"] for row in rows} == {"approved", "rejected"}


# -- the new entry types: pages, runs' histories, organisations, feeds --------------------


def test_the_new_entry_types_have_readable_pages(demo, leaves) -> None:
    server, _ = demo
    logged = payloads(leaves)
    seen = set()
    for index, (kind, _) in enumerate(logged):
        if kind not in PLAN_TYPES:
            continue
        seen.add(kind)
        data = get(server, f"/entries/{index}", format="json").json()
        assert data["type"] == kind
        for f in data["fields"]:
            assert "_" not in f["label"], (kind, f["label"])  # every field has a reader's label
        page = get(server, f"/entries/{index}").text
        assert f"<h1>Entry {index}: {escape(data['type_label'])}</h1>" in page
        says = page.split('id="says"', 1)[1].split("</section>", 1)[0]
        assert "<dt>" in says and "_" not in "".join(
            chunk.split("</dt>", 1)[0] for chunk in says.split("<dt>")[1:]
        ), kind
    assert seen == set(PLAN_TYPES)
    update = next(i for i, (k, p) in enumerate(logged) if k == "model_update")
    says = get(server, f"/entries/{update}").text
    for label in (
        "offered from",
        "post-training compute added (FLOP)",
        "inference compute ceiling (FLOP per task)",
        "scaffolding and tools",
        "<dt>decision</dt>",
    ):
        assert label in says, label


def test_runs_histories_hold_updates_access_attestations_and_observers(demo) -> None:
    server, _ = demo
    runs = {r["run_id"]: r for r in get(server, "/runs", format="json").json()["runs"]}
    acme = get(server, runs["acme-2027"]["url"], format="json").json()
    kinds = [e["type"] for e in acme["events"]]
    assert kinds.count("model_update") == 2 and kinds.count("research_access") == 2
    assert "compute_attestation" in kinds and "observer_statement" in kinds
    texts = {e["type"]: e["what"] for e in acme["events"]}
    assert texts["compute_attestation"].startswith("stratus attests 7.9e25 FLOP delivered")
    updates = [e["what"] for e in acme["events"] if e["type"] == "model_update"]
    assert updates[0].startswith("lesser update") and updates[1].startswith("significant update")
    # Researchers' access hangs on the approved run, not on a rejected one.
    rejected = get(server, runs["acme-2028"]["url"], format="json").json()
    assert "research_access" not in [e["type"] for e in rejected["events"]]


def test_organisation_pages_list_attestations_updates_and_access(demo, leaves) -> None:
    server, _ = demo
    logged = payloads(leaves)
    acme = get(server, "/orgs/acme", format="json").json()
    attested = [
        i
        for i, (k, p) in enumerate(logged)
        if k == "compute_attestation" and p["organisation"] == "acme"
    ]
    assert [a["index"] for a in acme["attestations"]] == attested
    assert [u["index"] for u in acme["updates"]] == [
        i for i, (k, p) in enumerate(logged) if k == "model_update"
    ]
    approved = approvals_in_log(leaves)
    acmes = {d for d, (lab, _, _) in approved.items() if lab == "acme"}
    assert {x["index"] for x in acme["research_access"]} == {
        i
        for i, (k, p) in enumerate(logged)
        if k == "research_access" and acmes & set(p["decisions"])
    }
    page = get(server, "/orgs/acme").text
    for section in ("Updates of its approved models", "Researchers' access", "Compute attested"):
        assert section in page
    borealis = get(server, "/orgs/borealis", format="json").json()
    assert {x["kind"] for x in borealis["staff_declarations"]} == {
        "conflict of interest",
        "divestment",
    }


@pytest.mark.parametrize("kind", PLAN_TYPES)
def test_the_feed_filter_covers_the_new_types(demo, leaves, kind: str) -> None:
    server, _ = demo
    assert kind in TYPES
    logged = [i for i, (k, _) in enumerate(payloads(leaves)) if k == kind]
    feed = ET.fromstring(get(server, "/feeds/entries.atom", type=kind).content)
    links = [e.find(f"{ATOM}link").get("href") for e in feed.findall(f"{ATOM}entry")]
    assert sorted(int(x.rsplit("/", 1)[1]) for x in links) == logged[-50:]


def test_an_organisations_feed_holds_the_compute_attested_for_it(demo, leaves) -> None:
    server, _ = demo
    attested = [
        i
        for i, (k, p) in enumerate(payloads(leaves))
        if k == "compute_attestation" and p["organisation"] == "cobalt"
    ]
    feed = ET.fromstring(get(server, "/feeds/entries.atom", org="cobalt").content)
    links = {e.find(f"{ATOM}link").get("href") for e in feed.findall(f"{ATOM}entry")}
    assert attested and all(any(x.endswith(f"/entries/{i}") for x in links) for i in attested)


# -- hostile strings stay inert on the new pages ------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    for server, _ in serve_demo(tmp_path_factory, "site-register-hostile", hostile_scenario()):
        yield server


@pytest.mark.parametrize("path", ["/", "/register", "/feeds/register.atom"])
def test_hostile_strings_stay_inert_on_the_new_pages(hostile, path: str) -> None:
    text = get(hostile, path).text
    assert "<script>alert" not in text and "<svg onload" not in text
    assert 'href="javascript:' not in text
    if path == "/register":
        assert "&lt;svg onload=&#34;alert(1)&#34;&gt;" in text  # the model's name, as text
        assert text.count("<script") == 0
    if path == "/feeds/register.atom":
        feed = ET.fromstring(text.encode())  # well-formed XML
        titles = [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")]
        assert any(SVG in t for t in titles)
        assert any(RTL in t and SCRIPT[:20] in t for t in titles)


@pytest.fixture(scope="module")
def contradicted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    scenario = load(Path(__file__).parent / "scenarios" / "s7_pass_with_failing_category.toml")
    # Without the approval, which admission refuses (S7): the result alone is logged.
    kept = tuple(e for e in scenario.entries if e.label != "decision-acme")
    scenario = dataclasses.replace(scenario, entries=kept)
    for server, _ in serve_demo(tmp_path_factory, "site-contradicted", scenario):
        yield server


def test_a_pass_whose_category_failed_is_listed_as_a_failed_evaluation(contradicted) -> None:
    """The result says pass, but its one category failed: the home page's "Which
    evaluations failed" lists it with the category, and the compliance page the audit's
    warning on it."""
    answers = get(contradicted, "/", format="json").json()["answers"]
    (failed,) = answers["failed_evaluations"]
    assert failed["run_id"] == "acme-2027-a" and failed["failed"] == ["bio-uplift"]
    groups = get(contradicted, "/compliance", format="json").json()["rules"]
    (s7,) = [f for g in groups if g["rule"] == "S7" for f in g["findings"]]
    assert s7["severity"] == "warning"
    assert s7["links"] == [{"index": failed["index"], "url": failed["url"]}]
    assert "says pass, yet its bio-uplift category failed" in s7["message"]
