"""The public site in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

The demo is served witnessed, as ``make demo`` runs it. Home → search → entry →
"Verify in my browser" checks the whole chain of trust: leaf and inclusion proof,
the log's signature, both witnesses' cosignatures and the quorum, against keys the
reader pinned (pasted on the keys page, kept in localStorage) or else the server's,
and says which. The same control fails, visibly and in words, when the server sends
a tampered leaf, proof, checkpoint or cosignature, when the pinned policy names a
witness key the log does not carry, and on a reveal's page when the revealed
document or the sealing entry is not the one logged (the test rewrites responses on
their way to the browser). A malformed policy is refused with the line at fault.
Every kind of page, at 1280 and 390 px, reads in whole words without sideways
scrolling; the timeline's labels do not overlap; the pages work with JavaScript off.
Screenshots of every kind of page at both widths go to ``test-artifacts/screenshots/``
(ignored by git) for people to look at.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.demo.build import scenario_path
from ledger.demo.scenario import load
from tests.serverproc import REPO, ServerProcess
from tests.sitebrowser import TIMEOUT_MS, chromium, demo_server, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api")
SHOTS = REPO / "test-artifacts" / "screenshots"
pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from demo_server(tmp_path_factory, "browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from chromium(sync_api)


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.errors = errors  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        context.close()


def shot(pg, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def part(pg, selector: str, name: str) -> None:
    """A screenshot of one part of the page (docs/images/ shows some of these)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.locator(selector).screenshot(path=str(SHOTS / f"{name}.png"))


def test_home_search_entry_and_verify_in_the_browser(server, page) -> None:
    page.goto(server.url("/"))
    assert "Where the schedule stands" in page.inner_text("main")
    assert "Who vouches for it" in page.inner_text("main")
    page.click("text=Entries")
    page.fill("input[name=org]", "acme")
    page.select_option("select[name=type]", "decision")
    page.click("button[type=submit]")
    assert "type=decision" in page.url and "org=acme" in page.url
    assert "Completeness comes from the log itself" in page.inner_text("main")
    shot(page, "search")
    first = page.locator("table.entries tbody a").first
    index = first.inner_text()
    first.click()
    assert page.url.endswith(f"/entries/{index}")
    assert page.inner_text("h1").startswith(f"Entry {index}: decision")
    # Nothing pinned: the check runs against the keys this server sends, and says so.
    # (verify.js fills the panel once it has loaded: wait for it, within the timeout)
    sync_api.expect(page.locator("#pin-status")).to_contain_text("You have pinned no keys")
    verdict = verify(page, "ok")
    assert verdict.startswith("Verified against the keys this server sends, not keys you pinned")
    assert f"entry {index} is in the log" in verdict
    assert page.get_attribute("#verify-result", "data-source") == "served"
    assert page.errors == [], page.errors  # type: ignore[attr-defined]


def verify(page, expected: str) -> str:
    """Click "Verify in my browser", wait for the verdict (class ok or bad); return its text."""
    page.click("#verify-button")
    result = page.locator("#verify-result")
    sync_api.expect(result).to_have_class(expected)
    return result.inner_text()


def pin(page, server, text: str) -> str:
    """Pin *text* on the keys page, as a reader pastes it; return what the panel says."""
    page.goto(server.url("/keys"))
    page.click("#pin-details summary")
    page.fill("#pin-text", text)
    page.click("#pin-save")
    sync_api.expect(page.locator("#pin-status")).not_to_contain_text("You have pinned no keys")
    return page.inner_text("#pin-panel")


def served_policy(server) -> str:
    """The policy the server publishes. In these tests it stands for the copy a reader
    obtains from an independent source (a gazette, each witness's own website)."""
    return httpx.get(server.url("/log/witnesses.policy"), timeout=30).text


def test_the_whole_trust_chain_verifies_against_a_pinned_policy(server, page) -> None:
    panel = pin(page, server, served_policy(server))
    assert "Pinned by you on" in panel and "quorum: both northmark and southvale" in panel
    page.goto(server.url("/entries/10"))
    verdict = verify(page, "ok")
    lines = verdict.splitlines()
    assert lines[0].startswith("Verified against your pinned policy: entry 10 is in the log ")
    assert "cosigned by northmark and southvale; the quorum of your policy is met" in lines[0]
    checks = [x for x in lines[1:] if x.strip()]
    assert checks[0].startswith("✓ The entry: its bytes hash to ")
    assert "inclusion proof leads to the root of the checkpoint" in checks[0]
    assert checks[1].startswith("✓ The log's signature:") and "(pinned by you)" in checks[1]
    assert checks[2].startswith("✓ northmark (witness.northmark.example/ledger+")
    # The witnesses cosign on the simulated calendar, when the demo's last entry is logged.
    home = httpx.get(server.url("/"), params={"format": "json"}, timeout=30).json()
    (north,) = [w for w in home["witnesses"]["witnesses"] if w["name"] == "northmark"]
    assert north["cosigned_at"] == home["checkpoint"]["last_entry_at"][:19] + "Z"
    assert f"pinned by you) cosigned this checkpoint at {north['cosigned_at']}" in checks[2]
    assert checks[3].startswith("✓ southvale (witness.southvale.example/ledger+")
    assert checks[4] == (
        "✓ The quorum of your pinned policy (both northmark and southvale) is met."
    )
    assert page.get_attribute("#verify-result", "data-source") == "pinned"
    shot(page, "entry-verified")
    part(page, 'section[aria-labelledby="check"]', "entry-trust-chain")
    page.goto(server.url("/keys"))
    part(page, 'section[aria-labelledby="witnesses"]', "keys-witnesses")
    # Forgotten: back to the server's keys, and the verdict says so.
    page.goto(server.url("/keys"))
    page.click("#pin-details summary")
    page.click("#pin-forget")
    sync_api.expect(page.locator("#pin-status")).to_contain_text("You have pinned no keys")
    page.goto(server.url("/entries/10"))
    assert verify(page, "ok").startswith("Verified against the keys this server sends")
    assert page.errors == [], page.errors  # type: ignore[attr-defined]


def test_pinned_bare_keys_require_every_witness_listed(server, page) -> None:
    vkeys = [line.split()[-1] for line in served_policy(server).splitlines()[:1]]
    vkeys += [
        line.split()[2]
        for line in served_policy(server).splitlines()
        if line.startswith("witness ")
    ]
    panel = pin(page, server, "\n".join(vkeys) + "\n")
    assert (
        "quorum: both witness.northmark.example/ledger and witness.southvale.example/ledger"
        in panel
    )
    page.goto(server.url("/entries/3"))
    assert verify(page, "ok").startswith("Verified against your pinned policy: entry 3")


def _other_witness_key(name: str) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from verifier.core.cosignature import CosignatureVerifier

    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return CosignatureVerifier.from_public_key(name, raw).vkey


def test_a_pinned_witness_key_the_log_does_not_carry_means_no_quorum(server, page) -> None:
    policy = served_policy(server).splitlines()
    policy = [
        f"witness northmark {_other_witness_key('witness.northmark.example/ledger')}"
        if line.startswith("witness northmark ")
        else line
        for line in policy
    ]
    pin(page, server, "\n".join(policy) + "\n")
    page.goto(server.url("/entries/10"))
    verdict = verify(page, "bad")
    assert verdict.startswith(
        "NOT verified: the quorum of your pinned policy (both northmark and southvale) is not "
        "met: valid cosignatures by southvale."
    ), verdict
    assert "✗ northmark (witness.northmark.example/ledger+" in verdict
    assert "no cosignature by this key on this checkpoint" in verdict
    assert "✓ southvale" in verdict and "✓ The log's signature" in verdict


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("log demo.frontier-ledger.invalid/log+00000000+AQ==\nquorum none\n", "policy line 1:"),
        ("{log}\nwitnes northmark x\nquorum none\n", 'policy line 2: unknown keyword "witnes"'),
        ("{log}\ngroup g 1 nobody\nquorum g\n", 'policy line 2: the group member "nobody"'),
        ("{log}\nquorum none\nquorum none\n", 'policy line 3: expected one "quorum'),
        ("{log}\n", 'the policy has no "quorum" line'),
        ("{bad_hash}\nquorum none\n", "does not match the name"),
    ],
)
def test_a_malformed_policy_is_refused_with_the_line_that_is_wrong(
    server, page, policy: str, message: str
) -> None:
    log_line = served_policy(server).splitlines()[0]
    name, _, key = log_line.split()[1].split("+", 2)
    text = policy.format(log=log_line, bad_hash=f"log {name}+{'0' * 8}+{key}")
    page.goto(server.url("/keys"))
    page.click("#pin-details summary")
    page.fill("#pin-text", text)
    page.click("#pin-save")
    error = page.locator("#pin-error")
    sync_api.expect(error).to_contain_text("Not pinned: ")
    assert message in error.inner_text(), error.inner_text()
    # (verify.js fills the panel once it has loaded: wait for it, within the timeout)
    sync_api.expect(page.locator("#pin-status")).to_contain_text("You have pinned no keys")


def _tampered(server, page, index: int, edit) -> str:
    """Load /entries/INDEX with its proof data edited on the way; click; return the verdict."""

    def handle(route) -> None:
        response = route.fetch()
        html = response.text()
        m = re.search(
            r'(<script type="application/json" id="proof-data">)(.*?)(</script>)', html, re.S
        )
        assert m, "the page carries its proof data"
        data = json.loads(m.group(2))
        edit(data)
        html = html[: m.start(2)] + json.dumps(data) + html[m.end(2) :]
        route.fulfill(response=response, body=html)

    page.route(f"**/entries/{index}", handle)
    page.goto(server.url(f"/entries/{index}"))
    return verify(page, "bad")


def _flip_leaf(data: dict) -> None:
    leaf = bytearray(base64.b64decode(data["leaf"]))
    leaf[40] ^= 0x01
    data["leaf"] = base64.b64encode(bytes(leaf)).decode()


def _flip_proof(data: dict) -> None:
    h = bytearray(base64.b64decode(data["hashes"][0]))
    h[0] ^= 0x80
    data["hashes"][0] = base64.b64encode(bytes(h)).decode()


def _flip_checkpoint(data: dict) -> None:
    lines = data["checkpoint"].split("\n")
    lines[1] = str(int(lines[1]) + 1)  # claim a bigger tree under the same signature
    data["checkpoint"] = "\n".join(lines)
    data["tree_size"] += 1


def _flip_cosignature(data: dict) -> None:
    lines = data["checkpoint"].split("\n")
    for i, line in enumerate(lines):
        if line.startswith("— witness.northmark.example/ledger "):
            prefix, sig = line.rsplit(" ", 1)
            raw = bytearray(base64.b64decode(sig))
            raw[4 + 8 + 10] ^= 0x01  # inside the Ed25519 signature, after key ID and time
            lines[i] = f"{prefix} {base64.b64encode(bytes(raw)).decode()}"
    data["checkpoint"] = "\n".join(lines)


def _backdate_cosignature(data: dict) -> None:
    """Change the time a witness states: the time is signed too."""
    lines = data["checkpoint"].split("\n")
    for i, line in enumerate(lines):
        if line.startswith("— witness.southvale.example/ledger "):
            prefix, sig = line.rsplit(" ", 1)
            raw = bytearray(base64.b64decode(sig))
            raw[4 + 7] ^= 0x01  # the last byte of the 8-byte timestamp
            lines[i] = f"{prefix} {base64.b64encode(bytes(raw)).decode()}"
    data["checkpoint"] = "\n".join(lines)


@pytest.mark.parametrize(
    ("name", "edit", "words"),
    [
        ("leaf", _flip_leaf, "the inclusion proof does not lead to the checkpoint's root"),
        ("proof", _flip_proof, "the inclusion proof does not lead to the checkpoint's root"),
        ("checkpoint", _flip_checkpoint, "the checkpoint's signature does not verify under the"),
        (
            "cosignature",
            _flip_cosignature,
            "the cosignature of the witness northmark (witness.northmark.example/ledger+",
        ),
        ("cosignature time", _backdate_cosignature, "the cosignature of the witness southvale"),
    ],
)
def test_verify_in_the_browser_fails_visibly_on_tampering(server, page, name, edit, words) -> None:
    pin(page, server, served_policy(server))
    verdict = _tampered(server, page, 10, edit)
    assert verdict.startswith("NOT verified: ") and words in verdict, (name, verdict)


def _reveal_index(server) -> int:
    entries = httpx.get(
        server.url("/entries"), params={"type": "reveal", "format": "json"}, timeout=30
    ).json()["entries"]
    return int(entries[0]["index"])


def test_a_revealed_document_is_checked_against_its_commitment(server, page) -> None:
    pin(page, server, served_policy(server))
    index = _reveal_index(server)
    page.goto(server.url(f"/entries/{index}"))
    verdict = verify(page, "ok")
    (sealed,) = [x for x in verdict.splitlines() if x.startswith("✓ The sealed document:")]
    assert "with the reveal's salt gives the commitment in the plan field of entry" in sealed
    assert sealed.endswith("it is the document that was sealed.")
    shot(page, "reveal-verified")
    page.click("text=Read the revealed document")
    assert page.inner_text("h1").startswith("Document")
    assert "Acme One — training plan (fictional)" in page.inner_text("div.document")
    shot(page, "document")


def test_a_substituted_revealed_document_fails(server, page) -> None:
    pin(page, server, served_policy(server))
    index = _reveal_index(server)
    page.route(
        "**/log/blobs/sha256/*",
        lambda route: route.fulfill(status=200, body=b"Acme One training plan (a forgery)"),
    )
    page.goto(server.url(f"/entries/{index}"))
    verdict = verify(page, "bad")
    assert "the revealed document this site serves does not have the SHA-256" in verdict


def _other_sealing_leaf(data: dict) -> None:
    leaf = bytearray(base64.b64decode(data["commitment"]["leaf"]))
    leaf[60] ^= 0x01
    data["commitment"]["leaf"] = base64.b64encode(bytes(leaf)).decode()


def test_a_reveal_whose_sealing_entry_is_not_the_logs_fails(server, page) -> None:
    pin(page, server, served_policy(server))
    verdict = _tampered(server, page, _reveal_index(server), _other_sealing_leaf)
    assert "which sealed the document, is not the one the log holds" in verdict, verdict


def test_pages_work_without_javascript(server, browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        for path in ("/keys", "/compliance", "/entries", "/entries/10"):
            pg.goto(server.url(path))
            assert pg.locator("main h1").count() == 1
            # The pinning panel needs the script: without it, it stays hidden.
            assert pg.locator("#pin-panel:visible").count() == 0
        pg.goto(server.url("/entries"))
        pg.fill("input[name=org]", "acme")
        pg.click("button[type=submit]")
        assert "org=acme" in pg.url and pg.locator("table.entries tbody tr").count() > 0
    finally:
        context.close()


#: Every kind of page, by name (a screenshot's name) and path; "{prereg}" is the demo's
#: first pre-registration, "{document}" a document it names.
PAGE_KINDS = {
    "home": "/",
    "timeline": "/timeline",
    "entries": "/entries",
    "entry": "/entries/{prereg}",
    "runs": "/runs",
    "run": "/runs/{prereg}",
    "orgs": "/orgs",
    "org": "/orgs/cobalt",
    "regulator": "/regulator",
    "compliance": "/compliance",
    "keys": "/keys",
    "document": "{document}",
}
WIDTHS = (1280, 390)

#: Words of the page's text that the browser broke across lines: a word is what lies
#: between spaces, hyphens, slashes and dashes; hashes, keys and code may wrap anywhere.
BROKEN_WORDS = r"""() => {
  const broken = [];
  const exempt = (el) => el.closest("svg, pre, code, .hash, script, style, textarea, .sr-only");
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || exempt(el) || el.getClientRects().length === 0) continue;
    const word = /[^\s\-\/\u2013\u2014]{2,}/g;
    for (let m = word.exec(node.textContent); m; m = word.exec(node.textContent)) {
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0)
        .map((r) => Math.round(r.top)));
      if (lines.size > 1) broken.push(`<${el.tagName.toLowerCase()}> ${m[0]}`);
    }
  }
  return broken;
}"""


@pytest.fixture(scope="module")
def paths(server) -> dict[str, str]:
    entries = httpx.get(
        server.url("/entries"), params={"type": "preregistration", "format": "json"}, timeout=30
    ).json()["entries"]
    prereg = entries[0]["index"]
    fields = httpx.get(server.url(f"/entries/{prereg}"), params={"format": "json"}, timeout=30)
    (plan,) = [f["document"] for f in fields.json()["fields"] if f["name"] == "plan"]
    return {k: v.format(prereg=prereg, document=plan["url"]) for k, v in PAGE_KINDS.items()}


def check_layout(pg, where: str) -> None:
    """No sideways scrolling of the page, and no word broken across two lines."""
    width, client = pg.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width <= client, f"{where}: the page scrolls sideways ({width} > {client} px)"
    broken = pg.evaluate(BROKEN_WORDS)
    assert broken == [], f"{where}: words broken across lines: {broken[:10]}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_every_page_reads_whole_words_at_desktop_and_phone_widths(
    server, browser, paths, kind: str, width: int
) -> None:
    """Each kind of page at 1280 and 390 px: no sideways scrolling (tables scroll in their
    own box, the timeline in its frame), no word broken inside; a screenshot of each."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        if kind == "entry":  # the entry page as a reader sees it after checking it
            pin(pg, server, served_policy(server))
        pg.goto(server.url(paths[kind]))
        if kind == "entry":
            verify(pg, "ok")
        check_layout(pg, f"{paths[kind]} at {width} px")
        shot(pg, f"{kind}-{width}")
    finally:
        context.close()


def test_the_layout_check_finds_a_broken_word(server, page) -> None:
    page.goto(server.url("/runs"))
    # Styled through the CSSOM: the page's CSP refuses style attributes.
    page.evaluate(
        """() => {
        const cell = document.createElement('td');
        cell.textContent = 'Organisation';
        cell.style.overflowWrap = 'anywhere';
        const table = document.createElement('table');
        table.style.width = '40px';
        table.insertRow().append(cell);
        document.querySelector('main').append(table);
        }"""
    )
    assert page.evaluate(BROKEN_WORDS) == ["<td> Organisation"]


def test_timeline_labels_do_not_overlap(server, browser) -> None:
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        try:
            pg = context.new_page()
            pg.goto(server.url("/timeline"))
            boxes = pg.eval_on_selector_all(
                "svg text",
                "els => els.map(e => { const b = e.getBBox();"
                " return [e.textContent, b.x, b.y, b.x + b.width, b.y + b.height]; })",
            )
            assert len(boxes) > 20
            for i, (a, ax0, ay0, ax1, ay1) in enumerate(boxes):
                for b, bx0, by0, bx1, by1 in boxes[i + 1 :]:
                    apart = ax1 <= bx0 + 0.5 or bx1 <= ax0 + 0.5 or ay1 <= by0 + 0.5
                    assert apart or by1 <= ay0 + 0.5, f"{a!r} overlaps {b!r}"
        finally:
            context.close()


def test_organisation_pages(server, page) -> None:
    page.goto(server.url("/orgs"))
    assert page.locator("table tbody tr").count() == 4
    page.click("text=Cobalt Research (fictional)")
    assert page.url.endswith("/orgs/cobalt")
    assert "Late submissions" in page.inner_text("main")
    assert page.errors == [], page.errors  # type: ignore[attr-defined]


def test_csv_and_atom_downloads_parse(server, browser) -> None:
    import csv
    import io
    import xml.etree.ElementTree as ET

    context = browser.new_context(accept_downloads=True)
    try:
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        pg.goto(server.url("/entries?type=decision"))
        with pg.expect_download() as info:
            pg.click("text=Download CSV")
        rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text())))
        decisions = pg.request.get(server.url("/entries?type=decision&format=json")).json()
        assert rows[0][:3] == ["index", "logged_at", "type"]
        logged = sum(1 for e in load(scenario_path()).entries if e.type == "decision")
        assert len(rows) == 1 + len(decisions["entries"]) == 1 + logged
        assert {r[2] for r in rows[1:]} == {"decision"}
        response = pg.goto(server.url("/feeds/entries.atom?org=acme"))
        assert response is not None and response.ok
        feed = ET.fromstring(response.body())
        atom = "{http://www.w3.org/2005/Atom}"
        assert feed.findtext(f"{atom}title") == "Frontier Ledger entries by acme"
        links = [e.find(f"{atom}link").get("href") for e in feed.findall(f"{atom}entry")]
        listed = pg.request.get(server.url("/entries?org=acme&format=json")).json()["entries"]
        assert links and {x.rsplit("/", 1)[1] for x in links} == {str(e["index"]) for e in listed}
    finally:
        context.close()
