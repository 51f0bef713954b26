"""Fuzzing the HTTP API from its OpenAPI schema, and the public site's routes, in-process.

Two logs, each built once for the module:

- *governed*: the base scenario (tests/scenarios/base.toml), served read-only on
  its simulated clock, as a mirror or a read replica serves it;
- *synthetic*: a log created with ``init --synthetic`` holding entries with hostile
  strings (NUL and other controls, U+FFFF, right-to-left overrides, a lone surrogate
  escaped in JSON, payloads that are not JSON), served writable: a synthetic log
  logs any well-formed envelope, so what schemathesis sends reaches the sequencer.

Schemathesis generates requests for every operation of ``/openapi.json``: valid ones
and invalid ones (wrong types, numbers out of range or oddly spelled, missing
parameters, bodies that break the envelope's schema, other methods), and checks
every answer with its default checks: never a 5xx, only documented status codes
and content types, bodies that match the declared schemas, schema-violating
requests refused and schema-valid ones accepted; and, added here, every 4xx one
problem+json shape. The schema is taken from the app's routes when the module is
imported (``from_dict``; schemathesis' fixture-based loader does not run under
pytest 9.2), and each request goes to the module's app in-process.

The site's pages are mostly not in the schema: hypothesis drives them (and the API's
paths, beyond what the schema lets schemathesis send) with indices around every
integer boundary, and query values of any code point, lone surrogates sent as the
invalid UTF-8 they are on the wire, up to 3,000 characters long. No answer may be a
5xx; an error is the site's HTML page only for a browser, else a problem document;
what is answered parses as the type it claims (the Atom feed as XML).

``make test`` runs 20 generated requests per API operation (plus schemathesis'
deterministic coverage cases) and 60 per site property and log; with
``FRONTIER_FUZZ_EXAMPLES=N`` (``make fuzz-api``: 2,000) N each.
"""

from __future__ import annotations

import functools
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.from_thread
import httpx
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from frontier_ledger.app import create_app
from ledger.api.app import ServerOptions
from ledger.demo.build import build_demo
from ledger.demo.scenario import load
from ledger.demo.synth import SYNTHETIC_TYPE, sign_envelope
from ledger.ops.clock import FileClock
from ledger.ops.datadir import DataDir, WriterLock
from ledger.write.open_log import open_writer
from ledger.write.sequencer import prepare
from tests.serverproc import init_test_log

SCENARIOS = Path(__file__).parent / "scenarios"
SYNTHETIC_ORIGIN = "fuzz.example/log"
#: FRONTIER_FUZZ_EXAMPLES=N: N examples per operation and per property (make fuzz-api).
FUZZ_EXAMPLES = int(os.environ.get("FRONTIER_FUZZ_EXAMPLES", "0") or 0)
API_EXAMPLES = FUZZ_EXAMPLES or 20
SITE_EXAMPLES = FUZZ_EXAMPLES or 60
PROBLEM_KEYS = {"type", "title", "status", "detail"}
#: Keys a problem document may carry besides the four (RFC 9457 extensions).
PROBLEM_EXTRA = {"instance", "code", "rule"}

FUZZ_SETTINGS = settings(
    deadline=None,
    database=None,  # no example database: runs do not depend on earlier runs
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# -- the logs and the apps ---------------------------------------------------------------


def _organisation(legal_name_json: str) -> bytes:
    """An organisation payload whose legal_name is the JSON text given (escapes and all)."""
    body = {"type": "organisation", "v": 1, "log": SYNTHETIC_ORIGIN, "org_id": "hostile"}
    body |= {"legal_name": "@", "jurisdiction": "J", "kind": "lab"}
    return json.dumps(body).replace('"@"', legal_name_json).encode()


def _hostile_envelopes() -> list[dict[str, Any]]:
    """Entries whose strings a page, a feed, a JSON answer or a search must survive."""
    key = Ed25519PrivateKey.generate()
    names = [
        "nul \x00 inside",
        "controls \x01\x07\x1b[31m\x7f\x85",
        "rtl \u202egnp.exe",
        "noncharacters \ufffe\uffff",
        "<script>alert(1)</script>]]>&amp;",
        "long " + "x" * 5000,
    ]
    payloads = [
        json.dumps({"type": "synthetic", "v": 1, "log": SYNTHETIC_ORIGIN, "name": v}).encode()
        for v in names
    ]
    payloads += [b"\x00\xff not JSON at all", b"", b"[]", b'{"type": "decision"}']
    # Payloads that parse as a governed type: strings the verifier's text fields admit
    # (tab, newline, DEL, C1 controls, noncharacters), and a lone surrogate (a JSON escape).
    payloads += [
        _organisation(json.dumps("tab\tnl\ndel\x7f c1\x85 \ufffe\uffff \u202e")),
        _organisation('"lone \\ud800 surrogate"'),
    ]
    ptype = "application/vnd.frontier-ledger.{}.v1+json"
    return [
        sign_envelope(
            key,
            ptype.format("organisation") if p.startswith(b'{"type": "org') else SYNTHETIC_TYPE,
            p,
        )
        for p in payloads
    ]


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    result = build_demo(
        tmp_path_factory.mktemp("fuzz-governed") / "data", load(SCENARIOS / "base.toml")
    )
    return result.data


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    data, _ = init_test_log(tmp_path_factory.mktemp("fuzz-synthetic") / "data", SYNTHETIC_ORIGIN)
    with WriterLock(data):
        writer = open_writer(data)
        try:
            writer.commit([prepare(e) for e in _hostile_envelopes()], receipts=False)
        finally:
            writer.store.close()
    return data


def _stop_schemathesis_apps() -> None:
    # Schemathesis runs an ASGI app's lifespan at the app's first request and keeps it
    # for the process; stop them here (closing the stores, releasing the writer lock).
    from schemathesis.python import asgi

    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def governed_app(governed: DataDir) -> Iterator[Any]:
    yield create_app(
        ServerOptions(governed, read_only=True, clock=FileClock(governed.root / "clock"))
    )
    _stop_schemathesis_apps()


@pytest.fixture(scope="module")
def synthetic_app(synthetic: DataDir) -> Iterator[Any]:
    yield create_app(ServerOptions(synthetic, max_batch=16, max_queue=64))
    _stop_schemathesis_apps()


def _openapi() -> dict[str, Any]:
    """The app's OpenAPI document: the routes' declarations, independent of any log."""
    return create_app(ServerOptions(DataDir.at(Path("unused")))).openapi()


# -- checks ------------------------------------------------------------------------------


def problem_shape(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any
) -> bool:
    """Every refusal is one RFC 9457 problem document (docs/api.md, Errors). (A 5xx is a
    failure of its own, not_a_server_error.)"""
    if not 400 <= response.status_code < 500:
        return True
    ctype = response.headers.get("content-type", [""])[0]
    assert ctype.split(";")[0].strip() == "application/problem+json", (
        f"{response.status_code} answered as {ctype!r}: {response.content[:200]!r}"
    )
    assert_problem(response.content, response.status_code)
    return True


def assert_problem(body: bytes, status: int) -> None:
    obj = json.loads(body)
    assert isinstance(obj, dict), obj
    assert PROBLEM_KEYS <= set(obj) <= PROBLEM_KEYS | PROBLEM_EXTRA, sorted(obj)
    assert obj["status"] == status, obj
    assert isinstance(obj["type"], str) and obj["type"].startswith("urn:frontier-ledger:problem:")
    assert isinstance(obj["title"], str) and obj["title"]
    assert isinstance(obj["detail"], str) and obj["detail"]


# -- the API, from its schema -----------------------------------------------------------

SCHEMA = schemathesis.openapi.from_dict(_openapi())


@SCHEMA.exclude(method="POST").parametrize()
@settings(FUZZ_SETTINGS, max_examples=API_EXAMPLES)
def test_api_of_a_governed_log(case: schemathesis.Case, governed_app: Any) -> None:
    case.call_and_validate(app=governed_app, additional_checks=[problem_shape])


#: Checks that cannot hold for an operation, and why.
EXCUSED = {
    # An envelope's schema cannot say that its keyids differ, or that its leaf fits in
    # 65,535 bytes: such envelopes match it, and are refused (400).
    "POST /api/v1/entries": [positive_data_acceptance],
}


@SCHEMA.parametrize()
@settings(FUZZ_SETTINGS, max_examples=API_EXAMPLES)
def test_api_of_a_writable_synthetic_log(case: schemathesis.Case, synthetic_app: Any) -> None:
    case.call_and_validate(
        app=synthetic_app,
        additional_checks=[problem_shape],
        excluded_checks=EXCUSED.get(case.operation.label, []),
    )


def test_the_schema_says_what_the_api_answers() -> None:
    """What the fuzzing relies on: each error is a problem document, no FastAPI 422 that
    this server never sends, and the append's body is described."""
    doc = _openapi()
    assert "HTTPValidationError" not in json.dumps(doc)
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) < 400 or path in ("/healthz", "/readyz"):
                    continue  # the health checks answer their report with 503 too
                assert list(response["content"]) == ["application/problem+json"], (
                    method,
                    path,
                    status,
                )
    body = doc["paths"]["/api/v1/entries"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/Envelope"}


# -- the site, with hypothesis -------------------------------------------------------------


class InProcess:
    """An app served in-process: its lifespan and its requests on one event loop (an anyio
    portal thread), through httpx's ASGI transport. An exception the app raises fails
    the test with its traceback, unless *raise_app_exceptions* is false (then the
    client gets the answer the app sent before raising it)."""

    def __init__(self, app: Any, *, raise_app_exceptions: bool = True) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self._stack = ExitStack()

    def __enter__(self) -> InProcess:
        self.portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        self._stack.enter_context(
            self.portal.wrap_async_context_manager(self.app.router.lifespan_context(self.app))
        )
        transport = httpx.ASGITransport(
            app=self.app, raise_app_exceptions=self.raise_app_exceptions
        )
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self._stack.callback(self.portal.call, self.client.aclose)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def get(self, target: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET *target* (path and query, already percent-encoded) as sent."""
        return self.portal.call(functools.partial(self.client.get, target, headers=headers))


@pytest.fixture(scope="module", params=["governed", "synthetic"])
def site(request: pytest.FixtureRequest) -> Iterator[InProcess]:
    """The same app as served, read-only, over each log (its own instance and lifespan)."""
    data: DataDir = request.getfixturevalue(request.param)
    clock = data.root / "clock"
    options = ServerOptions(
        data, read_only=True, clock=FileClock(clock) if clock.exists() else None
    )
    with InProcess(create_app(options)) as served:
        yield served


def encode(text: str) -> str:
    """Percent-encode *text* as UTF-8; a lone surrogate becomes the invalid bytes it would
    be on the wire (the server must decode them, not crash)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


#: Numbers around every boundary a path or filter has: negative, 0, 2**63 - 1 (SQLite's
#: largest integer), 2**63 and 2**64 (one past), far beyond.
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**40]),
)
#: Text a client may send: any code point (NUL, controls, lone surrogates, right-to-left
#: overrides), short or very long.
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec=None), max_size=40),
    st.text(min_size=201, max_size=3000),
    st.sampled_from(["", "\x00", "a\x00b", "\ud800", "1e3", "+5", " 5", "5_0", "٣", "０", "-0"]),
)
INDEX_TEXT = st.one_of(NUMBERS.map(str), TEXT)
FORMATS = st.one_of(st.none(), st.sampled_from(["html", "json", "csv", "xml", ""]), TEXT)
ACCEPTS = st.sampled_from(
    [
        None,
        "*/*",
        "text/html",
        "application/json",
        "application/problem+json",
        "text/csv",
        "text/html;q=0, */*",
        "application/json;q=0.5, text/html;q=0.9",
        "image/png",
    ]
)
#: The Accept headers above that would rather have HTML than JSON.
HTML_ACCEPTS = {None, "*/*", "text/html", "application/json;q=0.5, text/html;q=0.9"}
ENTRY_FILTERS = ["type", "org", "level", "cycle", "since", "until", "q", "after", "format"]


def query_string(params: dict[str, str | None]) -> str:
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in params.items() if v is not None)


def check_answer(r: httpx.Response, target: str, accept: str | None) -> None:
    """Never a 5xx; an error is the site's HTML page for a browser, else problem+json;
    what is answered parses as what it says it is."""
    assert r.status_code < 500, (target, r.status_code, r.text[:500])
    ctype = r.headers.get("content-type", "").split(";")[0].strip()
    if r.status_code >= 400:
        if ctype == "text/html":
            # The site's page, only for a browser: not for a JSON or CSV twin, nor for a
            # client that prefers JSON or refuses HTML.
            assert "format=json" not in target and "format=csv" not in target, target
            assert accept in HTML_ACCEPTS, (target, accept)
            assert "<h1>" in r.text, target
        else:
            assert ctype == "application/problem+json", (target, r.status_code, ctype)
            assert_problem(r.content, r.status_code)
        return
    if ctype in ("application/json", "application/problem+json"):
        json.loads(r.content)
    elif ctype == "application/atom+xml":
        ET.fromstring(r.content)  # well-formed XML, whatever the entries hold
    elif ctype == "text/html":
        r.content.decode("utf-8")


@given(
    page=st.sampled_from(
        [
            "/entries/{}",
            "/runs/{}",
            "/orgs/{}",
            "/api/v1/entries/{}",
            "/api/v1/entries/{}/receipt",
            "/api/v1/checkpoints/{}",
        ]
    ),
    index=INDEX_TEXT,
    fmt=FORMATS,
    accept=ACCEPTS,
)
@settings(FUZZ_SETTINGS, max_examples=SITE_EXAMPLES)
def test_pages_named_by_any_index(
    site: InProcess, page: str, index: str, fmt: str | None, accept: str | None
) -> None:
    target = page.format(encode(index)) + (
        "?" + query_string({"format": fmt}) if fmt is not None else ""
    )
    r = site.get(target, headers={"accept": accept} if accept else None)
    check_answer(r, target, accept)


@given(
    filters=st.dictionaries(
        st.sampled_from(ENTRY_FILTERS),
        st.one_of(
            NUMBERS.map(str), TEXT, st.sampled_from(["2027-01-01", "2027-02-30", "json", "csv"])
        ),
        max_size=5,
    ),
    accept=ACCEPTS,
)
@settings(FUZZ_SETTINGS, max_examples=SITE_EXAMPLES)
def test_the_entry_list_with_any_filters(
    site: InProcess, filters: dict[str, str], accept: str | None
) -> None:
    target = "/entries?" + query_string(dict(filters))
    check_answer(site.get(target, headers={"accept": accept} if accept else None), target, accept)


@given(
    page=st.sampled_from(
        [
            "/",
            "/timeline",
            "/runs",
            "/orgs",
            "/regulator",
            "/keys",
            "/compliance",
            "/feeds/entries.atom",
            "/api/v1/entries",
            "/downloads/ledger.sqlite",
        ]
    ),
    params=st.dictionaries(
        st.sampled_from(["type", "org", "format", "q", "run", "limit", "after", "x"]),
        TEXT,
        max_size=3,
    ),
)
@settings(FUZZ_SETTINGS, max_examples=SITE_EXAMPLES)
def test_every_page_with_any_query(site: InProcess, page: str, params: dict[str, str]) -> None:
    target = page + "?" + query_string(dict(params))
    check_answer(site.get(target), target, None)


def test_an_unforeseen_failure_is_a_problem_document_without_internals(
    governed: DataDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last resort: an exception no handler expected answers 500 in the one shape."""
    from ledger.api import routes_api

    def broken(entry_type: str) -> dict[str, Any]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(routes_api, "json_schema", broken)
    options = ServerOptions(governed, read_only=True)
    with InProcess(create_app(options), raise_app_exceptions=False) as served:
        r = served.get("/api/v1/schemas/decision")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert_problem(r.content, 500)
    assert "secret" not in r.text
