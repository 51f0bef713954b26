"""The public site over a real server: pages, JSON twins, CSV, Atom, errors, and hostile strings.

Two logs: the three-cycle demo, and the base scenario with entries whose strings
carry HTML, script, SVG, ``javascript:`` links, right-to-left overrides and the
longest values the schemas allow. The browser checks are in test_site_browser.py.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.demo.build import DemoResult
from ledger.demo.scenario import load
from tests.serverproc import ServerProcess, serve_demo

SCENARIOS = Path(__file__).parent / "scenarios"
ATOM = "{http://www.w3.org/2005/Atom}"

SCRIPT = '<script>alert("owned")</script>'
SVG = '<svg onload="alert(1)"><circle r="9"/></svg>'
LINK = "javascript:alert(document.cookie)"
RTL = "Acme \u202egnp.exe Labs"
LONG_NAME = "N" * 200  # NAME fields allow 200 characters
LONG_TEXT = ("lorem ipsum " * 200)[:2000]  # TEXT fields allow 2,000
HOSTILE = (SCRIPT, SVG, LINK, RTL)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, DemoResult]]:
    yield from serve_demo(tmp_path_factory, "site-demo", witnessed=True)


def hostile_scenario():
    s = load(SCENARIOS / "base.toml")
    entries = []
    for e in s.entries:
        fields = json.loads(json.dumps(e.fields))
        if e.label == "org-acme":
            fields["legal_name"] = RTL + " " + SCRIPT[:120]
            fields["jurisdiction"] = LONG_NAME
        if e.label == "prereg-acme":
            fields["model_name"] = SVG
            fields["flop_method"] = LINK
            fields["halting_criteria"] = [SCRIPT, RTL, LONG_TEXT]
        entries.append(dataclasses.replace(e, fields=fields))
    return dataclasses.replace(s, entries=tuple(entries))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    for server, _ in serve_demo(tmp_path_factory, "site-hostile", hostile_scenario()):
        yield server


def get(server: ServerProcess, path: str, **params) -> httpx.Response:
    r = httpx.get(server.url(path), params=params, timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    return r


PAGES = ["/", "/entries", "/entries/0", "/entries/5", "/keys", "/compliance"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_html_with_a_strict_policy_and_a_json_twin(demo, path: str) -> None:
    server, _ = demo
    r = get(server, path)
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    # No third-party request: every src and href is on this site (or an in-page anchor).
    for attr in ("src=", "href="):
        for chunk in r.text.split(attr)[1:]:
            target = chunk[1:].split(chunk[0], 1)[0]
            assert target.startswith(("/", "#", "?")), (path, target)
    twin = get(server, path, format="json").json()
    assert isinstance(twin, dict) and twin


def test_home_says_where_the_schedule_stands(demo) -> None:
    server, result = demo
    data = get(server, "/", format="json").json()
    assert data["checkpoint"]["size"] == result.entries + result.markers
    assert data["schedule"]["simulation"] is True
    assert data["schedule"]["cycle"] == 2030 and data["schedule"]["next"]
    newest = [e["index"] for e in data["newest"]]
    assert newest == sorted(newest, reverse=True) and newest[0] == data["checkpoint"]["size"] - 1
    assert "Where the schedule stands on 2030-01-02" in get(server, "/").text


def test_entries_filters_search_and_permalinks(demo) -> None:
    server, _ = demo
    decisions = get(server, "/entries", type="decision", format="json").json()
    assert decisions["entries"] and {e["type"] for e in decisions["entries"]} == {"decision"}
    assert "Completeness comes from the log itself" in decisions["note"]
    page = get(server, "/entries", type="decision").text
    assert "Completeness comes from the log itself" in page
    for e in decisions["entries"]:
        assert f'href="/entries/{e["index"]}"' in page
        assert get(server, e["url"], format="json").json()["index"] == e["index"]
    in_2028 = get(server, "/entries", since="2028-01-01", until="2028-12-31", format="json").json()
    assert in_2028["entries"]
    assert all(e["logged_at"].startswith("2028") for e in in_2028["entries"])
    text = get(server, "/entries", q="acme", format="json").json()["entries"]
    assert text, "full-text search finds the organisation"


def test_entry_page_shows_signers_links_leaf_and_receipt(demo) -> None:
    server, _ = demo
    decisions = get(server, "/entries", type="decision", format="json").json()["entries"]
    d = get(server, decisions[0]["url"], format="json").json()
    assert d["signers"] and all(s["holder"] and s["roles"] for s in d["signers"])
    assert any(r["field"] == "submission" for r in d["refers_to"])
    submission = next(r["index"] for r in d["refers_to"] if r["field"] == "submission")
    back = get(server, f"/entries/{submission}", format="json").json()["referred_by"]
    assert any(r["index"] == d["index"] for r in back), "the submission lists the decision"
    assert d["proof"]["vkey"] == get(server, "/keys", format="json").json()["vkey"]
    page = get(server, decisions[0]["url"]).text
    assert "Verify in my browser" in page and 'id="proof-data"' in page
    assert d["receipt"] in page.replace("&#43;", "+") or d["receipt"].split("\n")[0] in page


def test_lists_download_as_csv_and_atom(demo) -> None:
    server, _ = demo
    r = get(server, "/entries", type="decision", format="csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["index", "logged_at", "type", "org", "headline", "signed_by"]
    assert len(rows) > 1 and all(row[2] == "decision" for row in rows[1:])
    findings = list(csv.reader(io.StringIO(get(server, "/compliance", format="csv").text)))
    assert findings[0] == ["rule", "severity", "entries", "finding"]
    feed = ET.fromstring(get(server, "/feeds/entries.atom").content)
    entries = feed.findall(f"{ATOM}entry")
    assert entries and feed.find(f"{ATOM}title").text == "Frontier Ledger entries"
    ids = [e.find(f"{ATOM}link").get("href") for e in entries]
    assert all("/entries/" in i for i in ids)
    typed = ET.fromstring(get(server, "/feeds/entries.atom", type="decision").content)
    titles = [e.find(f"{ATOM}title").text for e in typed.findall(f"{ATOM}entry")]
    assert titles and all(": decision" in t for t in titles)


def test_bad_requests_get_a_page_that_says_what_was_wrong(demo) -> None:
    server, _ = demo
    r = httpx.get(server.url("/entries/99999"), timeout=30)
    assert r.status_code == 404 and "no entry at index 99999" in r.text
    r = httpx.get(server.url("/entries"), params={"since": "2028-13-01"}, timeout=30)
    assert r.status_code == 400 and "not a valid" in r.text
    r = httpx.get(server.url("/entries"), params={"level": "x9"}, timeout=30)
    assert r.status_code == 400 and "level: &#39;x9&#39; is not a number from 0 to 63" in r.text
    # Blank form fields mean "any", as a browser sends them.
    blank = {"q": "", "type": "", "org": "", "level": "", "cycle": "", "since": "", "until": ""}
    assert httpx.get(server.url("/entries"), params=blank, timeout=30).status_code == 200


PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert PROBLEM_KEYS <= set(problem) <= PROBLEM_KEYS | {"instance"}
    assert problem["status"] == status and problem["type"].startswith("urn:frontier-ledger:")
    return problem


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        # Once 500s (OverflowError: beyond SQLite's integers); the API answered 400.
        ("/entries", {"after": str(2**63)}, 400),
        ("/entries", {"after": str(2**70)}, 400),
        ("/entries", {"after": "-2"}, 400),
        (f"/entries/{2**63}", {}, 404),
        (f"/entries/{2**64}", {}, 404),
        ("/entries/-1", {}, 404),
    ],
)
def test_numbers_out_of_range_get_the_error_page(
    demo, path: str, params: dict[str, str], status: int
) -> None:
    server, _ = demo
    r = httpx.get(server.url(path), params=params, timeout=30)
    assert r.status_code == status and r.headers["content-type"].startswith("text/html")
    assert "Browse the entries" in r.text
    # ... and the JSON twin the same error as a problem document.
    assert_problem(
        httpx.get(server.url(path), params={**params, "format": "json"}, timeout=30), status
    )


def test_an_error_is_a_problem_document_for_a_twin_or_a_json_client(demo) -> None:
    server, _ = demo
    detail = assert_problem(
        httpx.get(server.url("/entries/99999"), params={"format": "json"}, timeout=30), 404
    )["detail"]
    assert "no entry at index 99999" in detail
    r = httpx.get(server.url("/entries"), params={"level": "x9", "format": "csv"}, timeout=30)
    assert "level" in assert_problem(r, 400)["detail"]
    for accept in ("application/json", "application/problem+json", "text/html;q=0, */*"):
        r = httpx.get(server.url("/orgs/nobody"), headers={"accept": accept}, timeout=30)
        assert_problem(r, 404)
    # A browser (or any client that takes HTML) still gets the page.
    for accept in ("text/html,application/xhtml+xml,*/*;q=0.8", "*/*"):
        r = httpx.get(server.url("/orgs/nobody"), headers={"accept": accept}, timeout=30)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


def test_nul_in_the_search_or_a_filter_is_a_clean_answer(demo) -> None:
    # Once a 500: SQLite's full-text query ended at the NUL.
    server, _ = demo
    for params in ({"q": "a\x00b"}, {"q": "\x00"}, {"org": "\x00", "format": "json"}):
        r = httpx.get(server.url("/entries"), params=params, timeout=30)
        assert r.status_code == 200, (params, r.text[:300])
    acme = get(server, "/entries", q="acme", format="json").json()["entries"]
    assert get(server, "/entries", q="acme\x00", format="json").json()["entries"] == acme
    # The feed's title names the filter: still well-formed XML with a NUL in it.
    feed = ET.fromstring(get(server, "/feeds/entries.atom", org="a\x00b").content)
    assert feed.find(f"{ATOM}title").text == "Frontier Ledger entries by a\ufffdb"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/entries",
        "/entries/4",
        "/entries/6",
        "/keys",
        "/compliance",
        "/timeline",
        "/runs",
        "/runs/6",
        "/orgs",
        "/orgs/acme",
        "/regulator",
    ],
)
def test_hostile_strings_render_inert_and_legible(hostile, path: str) -> None:
    r = get(hostile, path)
    text = r.text
    assert "<script>alert" not in text and "<svg onload" not in text
    assert 'href="javascript:' not in text and "href='javascript:" not in text
    # The only script elements are the page's own (the proof data and the module).
    assert text.count("<script") == text.count(
        '<script type="application/json" id="proof-data">'
    ) + text.count('<script type="module" src="/static/verify.js">')
    if path == "/entries/4":  # the organisation: its name is escaped, and isolated by <bdi>
        assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in text
        assert '<bdi class="text">' + RTL.replace("\u202e", "\u202e") in text
        assert LONG_NAME in text
    if path == "/timeline":  # the model name sits in the SVG's own <title>
        assert (
            "— &lt;svg onload=&#34;alert(1)&#34;&gt;&lt;circle r=&#34;9&#34;/&gt;&lt;/svg&gt;"
            in text
        )
    if path == "/orgs/acme":
        assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in text
    if path == "/entries/6":  # the pre-registration
        assert "&lt;svg onload=&#34;alert(1)&#34;&gt;" in text
        assert LINK in text and LONG_TEXT in text


def test_hostile_strings_survive_json_csv_and_atom(hostile) -> None:
    entry = get(hostile, "/entries/6", format="json").json()
    assert entry["payload"]["model_name"] == SVG
    assert entry["payload"]["halting_criteria"] == [SCRIPT, RTL, LONG_TEXT]
    rows = list(csv.reader(io.StringIO(get(hostile, "/entries", format="csv").text)))
    assert any(SVG in row[4] for row in rows), "the headline keeps the string as data"
    feed = ET.fromstring(get(hostile, "/feeds/entries.atom").content)  # still well-formed XML
    titles = [e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")]
    assert any(SVG in t for t in titles)


def test_csv_cells_cannot_become_formulas() -> None:
    """A cell starting with = + - @ would run as a formula in a spreadsheet."""
    from public_site.render import _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _cell("-1") == "'-1"
    assert _cell("plain") == "plain" and _cell(None) == ""


# -- the schedule pages: timeline, runs, organisations, the regulator -------------------


def test_timeline_draws_every_run_and_every_threshold_change(demo) -> None:
    server, _ = demo
    data = get(server, "/timeline", format="json").json()
    runs = get(server, "/runs", format="json").json()["runs"]
    assert {r["index"] for r in data["runs"]} == {r["index"] for r in runs} and len(runs) == 6
    svg = get(server, "/timeline").text
    assert svg.count("<svg") == 1 and 'role="group"' in svg
    for r in runs:
        assert f'<a href="/runs/{r["index"]}">' in svg
        assert f"{r['org']}: {r['run_id']}" in svg
    kinds = {line["kind"] for line in data["lines"]}
    assert kinds == {"lift", "postponed", "deregulated"}, kinds
    halted = [r for r in data["runs"] if any(m["kind"] == "halted" for m in r["marks"])]
    assert [r["label"] for r in halted] == ["cobalt: cobalt-2027"]
    decided = {r["label"]: r["outcome"] for r in data["runs"] if r["outcome"]}
    assert decided["acme: acme-2028"] == "rejected" and decided["acme: acme-2027"] == "approved"


def test_a_run_page_tells_the_whole_history(demo) -> None:
    server, _ = demo
    runs = {r["run_id"]: r for r in get(server, "/runs", format="json").json()["runs"]}
    late = get(server, runs["cobalt-2028"]["url"], format="json").json()
    kinds = [e["type"] for e in late["events"]]
    assert kinds == [
        "training_started",
        "training_completed",
        "submission",
        "eval_result",
        "decision",
    ]
    assert late["status"] == "decided: approved" and late["submissions"][0]["on_time"] is False
    halted = get(server, runs["cobalt-2027"]["url"], format="json").json()
    assert halted["status"] == "halted"
    page = get(server, runs["cobalt-2028"]["url"]).text
    assert all(f'href="/entries/{e["index"]}"' in page for e in late["events"])
    assert httpx.get(server.url("/runs/0"), timeout=30).status_code == 404


def test_league_table_and_lab_scorecards(demo) -> None:
    server, _ = demo
    table = {
        o["org"]: o["score"] for o in get(server, "/orgs", format="json").json()["organisations"]
    }
    assert (table["cobalt"]["late"], table["cobalt"]["halted"], table["cobalt"]["runs"]) == (
        1,
        1,
        2,
    )
    # Acme One approved, then its RL update approved anew; Acme Two rejected.
    assert (table["acme"]["approved"], table["acme"]["rejected"]) == (2, 1)
    assert table["borealis"]["approved"] == 2 and table["openeval"]["runs"] == 0
    rows = list(csv.reader(io.StringIO(get(server, "/orgs", format="csv").text)))
    assert rows[0][:3] == ["org", "name", "runs"] and len(rows) == 1 + len(table)
    acme = get(server, "/orgs/acme", format="json").json()
    assert acme["name"] == "Acme Intelligence (fictional)" and len(acme["runs"]) == 2
    assert "Acme Intelligence (fictional)" in get(server, "/orgs/acme").text
    assert httpx.get(server.url("/orgs/nobody"), timeout=30).status_code == 404


def _late_and_amended():
    """The base scenario with an amendment before training and a decision five days late."""
    s = load(SCENARIOS / "base.toml")
    entries = []
    for original in s.entries:
        e = original
        if e.label == "decision-acme":
            e = dataclasses.replace(e, at_ms=e.at_ms + 5 * 86_400_000)
        entries.append(e)
        if e.label == "prereg-acme":
            fields = json.loads(json.dumps(e.fields))
            fields["planned_flop"] = "9e25"
            fields["supersedes"] = "@prereg-acme"
            entries.append(
                dataclasses.replace(
                    e, label="amend-acme", at_ms=e.at_ms + 86_400_000, fields=fields
                )
            )
    return dataclasses.replace(s, entries=tuple(entries))


@pytest.fixture(scope="module")
def late(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    for server, _ in serve_demo(tmp_path_factory, "site-late", _late_and_amended()):
        yield server


def test_regulator_scorecard_shows_required_and_actual_dates(late, demo) -> None:
    data = get(late, "/regulator", format="json").json()
    (d,) = data["decisions"]
    assert (d["due"], d["decided"], d["days_late"]) == ("2027-12-31", "2028-01-05", 5)
    assert data["summary"]["on_time_decided_on_the_date"] == 0
    assert [f["rule"] for f in data["findings"]] == ["S8"]
    page = get(late, "/regulator").text
    assert "2028-01-05" in page and "<td>5</td>" in page
    clean = get(demo[0], "/regulator", format="json").json()["summary"]
    assert clean["on_time_decided_on_the_date"] == clean["on_time_submissions_decided"] == 5
    assert clean["late_decided_within_limit"] == clean["late_submissions_decided"] == 2


def test_amendments_are_shown_side_by_side(late) -> None:
    runs = get(late, "/runs", format="json").json()["runs"]
    (run,) = runs
    data = get(late, run["url"], format="json").json()
    assert [v["index"] for v in data["versions"]] == [data["root"], data["latest"]]
    (amendment,) = data["amendments"]
    assert amendment["changes"] == [{"field": "planned_flop", "before": "8e25", "after": "9e25"}]
    page = get(late, run["url"]).text
    assert "<del><bdi>8e25</bdi></del>" in page and "<ins><bdi>9e25</bdi></ins>" in page


def test_ten_kilobyte_hostile_strings_in_an_unchecked_log(tmp_path: Path) -> None:
    """A synthetic (ungoverned) log checks shapes only, so any string can reach the site."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.demo.synth import SYNTHETIC_TYPE, sign_envelope
    from tests.serverproc import init_test_log

    data, _ = init_test_log(tmp_path / "data", origin="hostile.example/log")
    name = (SCRIPT + RTL + SVG) * 100  # about 10 kB
    payload = json.dumps(
        {"type": "synthetic", "v": 1, "log": "hostile.example/log", "name": name, "link": LINK}
    ).encode()
    key = Ed25519PrivateKey.generate()
    envelope = sign_envelope(key, SYNTHETIC_TYPE, payload)
    # Names an organisation payload may hold that XML may not (U+FFFF: the feed was not
    # XML), and a lone surrogate escaped in JSON (no UTF-8 has it: every page listing
    # the entry was a 500; now the payload does not parse and is shown as it is).
    org_type = "application/vnd.frontier-ledger.organisation.v1+json"
    odd = [
        sign_envelope(
            key,
            org_type,
            b'{"type": "organisation", "v": 1, "log": "%s", '
            b'"org_id": "odd", "legal_name": "%s", "jurisdiction": "J", "kind": "lab"}'
            % (b"hostile.example/log", legal_name),
        )
        for legal_name in (b"ffff \\uffff del \\u007f", b"lone \\ud800")
    ]
    server = ServerProcess(data.root)
    server.start()
    try:
        for env in (envelope, *odd):
            r = httpx.post(server.url("/api/v1/entries"), json=env, timeout=30)
            assert r.status_code == 201, r.text
        assert get(server, "/entries/1", format="json").json()["payload"]["legal_name"] == (
            "ffff \uffff del \x7f"
        )
        assert get(server, "/api/v1/entries/2").json()["payload_error"]
        for path in ("/api/v1/entries/1", "/entries/2?format=json", "/entries?format=csv"):
            get(server, path)
        ET.fromstring(get(server, "/feeds/entries.atom").content)  # well-formed XML
        for path in (
            "/",
            "/entries",
            "/entries/0",
            "/entries/1",
            "/entries/2",
            "/feeds/entries.atom",
        ):
            text = get(server, path).text
            assert "<script>alert" not in text and "<svg onload" not in text, path
            assert 'href="javascript:' not in text, path
        page = get(server, "/entries/0").text
        assert "The payload does not parse" in page  # not a governed type: shown raw, escaped
        assert page.count("&lt;script&gt;alert(") >= 100  # the payload, legible as text
        r = httpx.get(server.url("/timeline"), timeout=30)
        assert r.status_code == 404 and "no charter" in r.text
    finally:
        server.stop()


# -- who vouches: the witnesses on the home and keys pages ------------------------------


def test_home_and_keys_pages_say_who_vouches_and_when(demo) -> None:
    server, result = demo
    policy = (result.data.root / "witnesses.policy").read_text()
    home = get(server, "/", format="json").json()["witnesses"]
    assert home["policy_url"] == "/log/witnesses.policy" and home["policy"] == policy
    assert home["quorum"] == "both northmark and southvale" and home["quorum_met"] is True
    assert home["checkpoint_size"] == result.entries + result.markers
    by_name = {w["name"]: w for w in home["witnesses"]}
    assert set(by_name) == {"northmark", "southvale"} == set(home["cosigned_by"])
    north = by_name["northmark"]
    assert north["country"] == "the Northmark Ministry of Foreign Affairs"
    assert north["key_name"] == "witness.northmark.example/ledger" and north["vkey"] in policy
    # The witnesses run on the simulated calendar, as the site does: they cosigned the
    # demo's last checkpoint when it was logged, half a day before the site's "today".
    assert (north["cosigned_at"], north["age"]) == ("2030-01-01T12:00:00Z", "12 hours ago")
    page = get(server, "/").text
    assert "Who vouches for it" in page and 'href="/log/witnesses.policy"' in page
    assert "the Southvale Treaty Office (fictional)" in page
    assert "just now ago" not in page and "12 hours ago" in page
    keys = get(server, "/keys", format="json").json()
    assert keys["witnesses"]["witnesses"] == home["witnesses"] and keys["vkey"] == result.vkey
    page = get(server, "/keys").text
    for w in home["witnesses"]:
        assert w["vkey"].replace("+", "&#43;") in page or w["vkey"] in page
    assert 'id="pin-panel"' in page and 'id="witnesses"' in page


def test_a_log_without_witnesses_says_so(tmp_path_factory) -> None:
    for server, _ in serve_demo(tmp_path_factory, "site-unwitnessed"):
        assert get(server, "/", format="json").json()["witnesses"] is None
        assert "No witness has cosigned this checkpoint yet" in get(server, "/").text
        data = get(server, "/entries/3", format="json").json()["proof"]
        assert data["policy"] is None and data["cosigned_by"] == []


def test_every_page_says_it_is_a_simulation_and_its_date(demo) -> None:
    server, _ = demo
    for path in ["/", "/entries", "/entries/5", "/timeline", "/runs", "/keys", "/compliance"]:
        text = get(server, path).text
        assert 'class="simulation" role="note"' in text, path
        assert 'as of <time datetime="2030-01-02">2030-01-02</time>' in text, path
    missing = httpx.get(server.url("/entries/99999"), timeout=30)
    assert missing.status_code == 404 and 'class="simulation"' in missing.text


# -- an entry page: labels, links, documents, the whole checkpoint --------------------


def test_entry_page_carries_the_cosigned_checkpoint_and_the_policy(demo) -> None:
    server, result = demo
    d = get(server, "/entries/10", format="json").json()["proof"]
    served = httpx.get(server.url("/log/checkpoint"), timeout=30).text
    assert d["checkpoint"] == served  # what /log/checkpoint publishes, cosignatures and all
    assert d["cosigned_by"] == [
        "witness.northmark.example/ledger",
        "witness.southvale.example/ledger",
    ]
    assert d["policy"] == (result.data.root / "witnesses.policy").read_text()
    receipt = get(server, "/entries/10", format="json").json()["receipt"]
    assert receipt.endswith(served)


def test_fields_have_labels_and_protocol_fields_are_set_apart(demo) -> None:
    server, _ = demo
    subs = get(server, "/entries", type="submission", format="json").json()["entries"]
    page = get(server, subs[0]["url"]).text
    says = page.split('id="says"', 1)[1].split("</section>", 1)[0]
    assert "final compute (FLOP)" in says and "model (SHA-256 of the weights)" in says
    assert "final flop" not in says and "<dt>v</dt>" not in says and "<dt>log</dt>" not in says
    assert "schema version 1" in page  # the protocol fields, stated once as the format


def test_links_name_each_entry_by_its_type_and_field(demo) -> None:
    server, _ = demo
    result = get(server, "/entries", type="eval_result", format="json").json()["entries"][0]
    data = get(server, result["url"], format="json").json()
    (sub,) = [r for r in data["refers_to"] if r["field"] == "submission"]
    assert sub["a_type"] == "a submission"
    back = get(server, sub["url"], format="json").json()["referred_by"]
    (me,) = [r for r in back if r["index"] == data["index"]]
    assert (me["a_type"], me["field_label"]) == ("an evaluation result", "submission")
    page = get(server, sub["url"]).text
    assert (
        f'<a href="/entries/{data["index"]}">entry {data["index"]}</a>, an evaluation result '
        "(its “submission” field)" in page
    )


def test_every_document_field_links_to_its_document(demo) -> None:
    """Plans, suite descriptions, reports and evidence: each readable, with its digest."""
    import hashlib

    server, _ = demo
    size = get(server, "/", format="json").json()["checkpoint"]["size"]
    linked = 0
    for index in range(size):
        data = get(server, f"/entries/{index}", format="json").json()
        for f in data["fields"]:
            doc = f["document"]
            if doc is None:
                continue
            assert doc["url"], (index, f["name"], "every demo document is readable")
            page = get(server, f"/entries/{index}").text
            assert f'href="{doc["url"]}"' in page and f'href="{doc["raw_url"]}"' in page
            raw = get(server, doc["raw_url"]).content
            assert doc["raw_url"].endswith(hashlib.sha256(raw).hexdigest())
            text = get(server, doc["url"]).text
            assert "fictional" in text and f'href="{doc["raw_url"]}"' in text
            linked += 1
    assert linked >= 16  # 15 documents, the sealed plan shown from its entry and its reveal


def test_a_sealed_plan_links_to_its_reveal_and_the_reveal_to_the_document(demo) -> None:
    server, _ = demo
    # The first reveal is Acme's sealed 2027 plan (the second, a sealed red-team suite).
    reveal, _ = get(server, "/entries", type="reveal", format="json").json()["entries"]
    data = get(server, reveal["url"], format="json").json()
    r = data["reveal"]
    sealed = get(server, r["commitment_url"], format="json").json()
    (plan,) = [f for f in sealed["fields"] if f["name"] == "plan"]
    assert plan["document"]["sealed"] and plan["document"]["revealed_in"] == data["index"]
    assert plan["document"]["url"] == r["document_url"]
    page = get(server, reveal["url"]).text
    assert f'<a id="revealed-document" href="{r["raw_url"]}">' in page
    assert r["proof"]["index"] == r["commitment"] and r["proof"]["hashes"]
    doc = get(server, r["document_url"], format="json").json()
    assert [(n["index"], n["field"]) for n in doc["named_by"]] == [
        (data["index"], "content_sha256")
    ]
    assert doc["text"].startswith("Acme One — training plan (fictional)")
    # The commitment itself is no document's name: its page says the content is sealed.
    sealed_page = get(server, f"/documents/{plan['document']['sha256']}", format="json").json()
    assert sealed_page["available"] is False and sealed_page["sealed_in"]


def test_document_pages_refuse_what_is_not_a_document(demo) -> None:
    server, _ = demo
    for path in ("/documents/" + "0" * 64, "/documents/xyz", "/documents/" + "a" * 65):
        assert httpx.get(server.url(path), timeout=30).status_code == 404, path


def test_a_plain_text_document_is_laid_out_in_blocks() -> None:
    from public_site.pages import text_blocks

    text = (
        "Title of the plan (fictional)\nA lab\n\n"
        + "A paragraph wrapped by hand at a width that suits a terminal, not a\n"
        + "phone.\n\n- one item\n  that goes on\n- another\n"
    )
    assert text_blocks(text) == [
        {"kind": "lines", "lines": ["Title of the plan (fictional)", "A lab"]},
        {
            "kind": "paragraph",
            "text": "A paragraph wrapped by hand at a width that suits a terminal, not a phone.",
        },
        {"kind": "list", "items": ["one item that goes on", "another"]},
    ]
