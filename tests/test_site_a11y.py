"""Accessibility of the public site: axe-core in Debian's chromium, page by page.

axe-core comes from the npm registry, pinned in ``package.json`` /
``package-lock.json`` and installed into ``node_modules/`` by ``make test``. The
pages send a strict CSP (``script-src 'self'``), so axe is injected into a browser
context with ``bypass_csp=True``; nothing else about the page changes.

Every page must have no violation of impact "serious" or "critical"; minor and
moderate ones are printed (``pytest -rP`` or ``-s`` shows them) and written with
the rest of axe's results to ``test-artifacts/a11y/<page>.json`` (ignored by git).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.serverproc import REPO, ServerProcess
from tests.sitebrowser import REQUIRED, TIMEOUT_MS, chromium, demo_server, needs_chromium

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
REPORTS = REPO / "test-artifacts" / "a11y"
BLOCKING = ("serious", "critical")
IMPACTS = ("critical", "serious", "moderate", "minor")

if REQUIRED:
    # make test installs chromium and axe-core first: missing here is a broken
    # set-up, not a reason to skip.
    if not AXE.is_file():
        raise RuntimeError(
            f"{AXE.relative_to(REPO)} is missing: run 'npm install --no-audit --no-fund' "
            "in the repository (make test does)"
        )
    from playwright import sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [
    needs_chromium,
    pytest.mark.skipif(
        not AXE.is_file(),
        reason="axe-core is not installed (make test runs 'npm install'; see package.json)",
    ),
]

#: Pages that exist now: each must answer 200.
PAGES = [
    "/",
    "/entries",
    "/entries?type=decision",
    "/entries/10",
    "/keys",
    "/compliance",
]
#: Pages of the schedule; ``{prereg}`` is the index of the demo's first pre-registration.
SCHEDULE_PAGES = ["/timeline", "/runs", "/runs/{prereg}", "/orgs", "/orgs/acme", "/regulator"]
#: A document the demo publishes (the first pre-registration's plan), and a reveal.
DOCUMENT_PAGES = ["{document}", "/entries/{reveal}"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from demo_server(tmp_path_factory, "a11y")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium(sync_api)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp: the pages allow scripts from 'self' only; axe is injected inline.
    context = browser.new_context(viewport={"width": 1200, "height": 900}, bypass_csp=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="module")
def prereg_index(server: ServerProcess) -> int:
    r = httpx.get(
        server.url("/entries"), params={"type": "preregistration", "format": "json"}, timeout=30
    )
    r.raise_for_status()
    entries = r.json()["entries"]
    assert entries, "the demo has pre-registrations"
    return int(entries[0]["index"])


def run_axe(pg: Any) -> dict[str, Any]:
    pg.add_script_tag(path=str(AXE))
    result: dict[str, Any] = pg.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return result


def describe(violations: list[dict[str, Any]], nodes: int = 3) -> str:
    """One paragraph per violation: id, impact, help, where, and the first elements."""
    lines = []
    for v in violations:
        lines.append(
            f"- {v['id']} [{v['impact']}] {v['help']} ({len(v['nodes'])} element(s); "
            f"{v['helpUrl']})"
        )
        for node in v["nodes"][:nodes]:
            target = " ".join(" >> ".join(t) if isinstance(t, list) else t for t in node["target"])
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    at {target}: {node['html'][:160]}")
            if summary:
                lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


def check(pg: Any, name: str) -> None:
    result = run_axe(pg)
    violations = result["violations"]
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    counts = {i: sum(1 for v in violations if v["impact"] == i) for i in IMPACTS}
    print(f"axe {result['testEngine']['version']} on {pg.url}: {counts}")
    if violations:
        print(describe(violations))
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, (
        f"axe found {len(blocking)} serious/critical accessibility violation(s) on {pg.url}:\n"
        + describe(blocking)
    )


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_serious_accessibility_violations(server, page, path: str) -> None:
    response = page.goto(server.url(path))
    assert response is not None and response.status == 200, (path, response and response.status)
    check(page, slug(path))


@pytest.mark.parametrize("template", SCHEDULE_PAGES)
def test_schedule_page_has_no_serious_accessibility_violations(
    server, page, prereg_index: int, template: str
) -> None:
    response = page.goto(server.url(template.format(prereg=prereg_index)))
    assert response is not None and response.status == 200, (template, response and response.status)
    check(page, slug(template.replace("{prereg}", "run")))


@pytest.fixture(scope="module")
def document_paths(server: ServerProcess, prereg_index: int) -> dict[str, str]:
    entry = httpx.get(server.url(f"/entries/{prereg_index}"), params={"format": "json"}, timeout=30)
    (plan,) = [f["document"] for f in entry.json()["fields"] if f["name"] == "plan"]
    reveals = httpx.get(
        server.url("/entries"), params={"type": "reveal", "format": "json"}, timeout=30
    ).json()["entries"]
    return {"document": plan["url"], "reveal": str(reveals[0]["index"])}


@pytest.mark.parametrize("template", DOCUMENT_PAGES)
def test_document_pages_have_no_serious_accessibility_violations(
    server, page, document_paths: dict[str, str], template: str
) -> None:
    response = page.goto(server.url(template.format(**document_paths)))
    assert response is not None and response.status == 200
    check(page, slug(template.strip("{}")))


def test_entry_page_after_verifying_in_the_browser(server, page) -> None:
    """The verdict the page writes after "Verify in my browser" is checked too."""
    page.goto(server.url("/entries/10"))
    page.click("#verify-button")
    sync_api.expect(page.locator("#verify-result")).to_have_class("ok")
    check(page, "entries-10-verified")


def test_pinning_and_a_failed_check_are_accessible(server, page) -> None:
    """The pinning panel opened, an error in it, and a verdict that fails."""
    page.goto(server.url("/keys"))
    page.click("#pin-details summary")
    page.fill("#pin-text", "witnes nobody\n")
    page.click("#pin-save")
    sync_api.expect(page.locator("#pin-error")).to_contain_text("Not pinned")
    check(page, "keys-pin-error")
    # A policy naming a northmark key the log does not carry: the quorum is not met.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from verifier.core.cosignature import CosignatureVerifier

    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    other = CosignatureVerifier.from_public_key("witness.northmark.example/ledger", raw).vkey
    policy = httpx.get(server.url("/log/witnesses.policy"), timeout=30).text
    lines = [f"witness northmark {other}" if x.startswith("witness northmark ") else x
             for x in policy.splitlines()]  # fmt: skip
    page.fill("#pin-text", "\n".join(lines) + "\n")
    page.click("#pin-save")
    sync_api.expect(page.locator("#pin-status")).to_contain_text("Pinned by you")
    page.goto(server.url("/entries/10"))
    page.click("#verify-button")
    sync_api.expect(page.locator("#verify-result")).to_have_class("bad")
    check(page, "entries-10-not-verified")


@pytest.mark.parametrize("path", ["/entries", "/entries/10", "/keys", "/regulator"])
def test_phone_viewport(server, browser, path: str) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, is_mobile=True, bypass_csp=True
    )
    try:
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        pg.goto(server.url(path))
        check(pg, slug(path) + "-phone")
    finally:
        context.close()


def test_axe_finds_a_planted_violation(server, page) -> None:
    """The harness itself: an image without alt text and faint text must be caught."""
    page.goto(server.url("/keys"))
    page.evaluate(
        """() => document.querySelector('main').insertAdjacentHTML('beforeend',
        '<img src="/static/favicon.svg"><p style="color:#ccc;background:#fff">faint</p>')"""
    )
    with pytest.raises(AssertionError) as failure:
        check(page, "planted")
    message = str(failure.value)
    assert "image-alt [critical]" in message and "color-contrast [serious]" in message, message
