"""The public site in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Home → search → entry → "Verify in my browser" succeeds; the same control fails,
visibly and in words, when the server sends a tampered leaf, proof or
checkpoint (the test rewrites the response on its way to the browser); the
pages work with JavaScript off. Screenshots of the pages go to
``test-artifacts/screenshots/`` (ignored by git) for people to look at.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def test_home_search_entry_and_verify_in_the_browser(server, page) -> None:
    page.goto(server.url("/"))
    assert "Where the schedule stands" in page.inner_text("main")
    shot(page, "home")
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
    page.click("#verify-button")
    result = page.locator("#verify-result")
    sync_api.expect(result).to_have_class("ok")
    assert result.inner_text().startswith(f"Verified: entry {index} is in the log")
    shot(page, "entry")
    assert page.errors == [], page.errors  # type: ignore[attr-defined]


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
    page.click("#verify-button")
    result = page.locator("#verify-result")
    sync_api.expect(result).to_have_class("bad")
    return result.inner_text()


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


@pytest.mark.parametrize(
    ("name", "edit", "words"),
    [
        ("leaf", _flip_leaf, "does not lead to the checkpoint's root"),
        ("proof", _flip_proof, "does not lead to the checkpoint's root"),
        ("checkpoint", _flip_checkpoint, "signature does not verify"),
    ],
)
def test_verify_in_the_browser_fails_visibly_on_tampering(server, page, name, edit, words) -> None:
    verdict = _tampered(server, page, 10, edit)
    assert verdict.startswith("NOT verified") and words in verdict, (name, verdict)


def test_pages_work_without_javascript(server, browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        for path, name in (("/keys", "keys"), ("/compliance", "compliance"), ("/entries", None)):
            pg.goto(server.url(path))
            assert pg.locator("main h1").count() == 1
            if name:
                shot(pg, name)
        pg.goto(server.url("/entries"))
        pg.fill("input[name=org]", "acme")
        pg.click("button[type=submit]")
        assert "org=acme" in pg.url and pg.locator("table.entries tbody tr").count() > 0
    finally:
        context.close()


def test_readable_on_a_phone(server, browser) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        pg = context.new_page()
        pg.goto(server.url("/entries/10"))
        # Nothing wider than the screen: no sideways scrolling to read an entry.
        width = pg.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, width
        shot(pg, "entry-phone")
    finally:
        context.close()


def test_the_timeline_renders_the_demo_runs(server, page) -> None:
    page.goto(server.url("/timeline"))
    bars = page.locator('svg a[href^="/runs/"] rect.bar')
    assert bars.count() == 6
    for i in range(bars.count()):
        box = bars.nth(i).bounding_box()
        assert box is not None and box["height"] >= 2 and box["width"] > 0
    labels = page.eval_on_selector_all("svg text", "els => els.map(e => e.textContent)")
    assert "cobalt: cobalt-2027" in labels and "Level 2" in labels
    shot(page, "timeline")
    bars.first.click()
    assert "/runs/" in page.url and page.inner_text("h1").startswith("Run ")
    shot(page, "run")
    assert page.errors == [], page.errors  # type: ignore[attr-defined]


def test_organisation_pages(server, page) -> None:
    page.goto(server.url("/orgs"))
    assert page.locator("table tbody tr").count() == 4
    shot(page, "organisations")
    page.click("text=Cobalt Research (fictional)")
    assert page.url.endswith("/orgs/cobalt")
    assert "Late submissions" in page.inner_text("main")
    shot(page, "organisation")
    page.goto(server.url("/regulator"))
    shot(page, "regulator")
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
        assert rows[0][:3] == ["index", "logged_at", "type"] and len(rows) == 6
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
