"""The public site's routes: thin — parse the request, ask :mod:`public_site.pages`, render.

Every page has a JSON twin (``?format=json``); lists also have CSV
(``?format=csv``) and an Atom feed. Permalinks are log indices: ``/entries/1234``
names the same entry for as long as the log exists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from ledger.api.problems import problem_response
from ledger.errors import NotFound
from ledger.storage.protocol import SearchQuery
from public_site import pages, render, schedule, scorecards, timeline
from verifier.entries.fields import parse_date
from verifier.entries.payloads import TYPES
from verifier.errors import FormatError
from verifier.policy.calendar import DAY_MS, day_start_ms, fmt_date

router = APIRouter(include_in_schema=False)
static = StaticFiles(directory=render.STATIC)

Format = Annotated[str | None, Query(pattern="^(html|json|csv)$", alias="format")]
Short = Annotated[str | None, Query(max_length=64)]
#: Log indices are the stores' integers: 0 .. 2**63 - 1 (as the API's).
MAX_INDEX = 2**63 - 1


def _site(request: Request) -> pages.Site:
    state = request.app.state
    return pages.Site(
        state.reader,
        state.view,
        state.vkey,
        state.clock(),
        state.mldsa_vkey,
        _witness_policy(request),
    )


def _witness_policy(request: Request) -> str | None:
    """The policy text /log/witnesses.policy serves (None if the log publishes none)."""
    path = getattr(request.app.state, "witness_policy_path", None)
    try:
        return path.read_text() if path is not None else None
    except (OSError, UnicodeDecodeError):
        return None


def _page(request: Request, template: str, data: dict[str, Any], fmt: str | None) -> Response:
    if fmt == "json":
        return render.json_twin(data)
    return render.html(template, _context(request, data=data, query=str(request.url.query)))


def _error(request: Request, status: int, message: str) -> Response:
    """An error as the client asked for it: the site's error page for a browser, the
    API's problem document (RFC 9457) for a JSON or CSV twin, or a program that prefers
    JSON (docs/api.md, Errors)."""
    if request.query_params.get("format") not in ("json", "csv") and render.prefers_html(
        request.headers.get("accept", "")
    ):
        return render.html("error.html", _context(request, status=status, message=message), status)
    slug = "not-found" if status == 404 else "bad-request"
    return problem_response(
        status, slug, message, instance=request.url.path, headers=render.SECURITY_HEADERS
    )


def _context(request: Request, **values: Any) -> dict[str, Any]:
    return {
        "path": request.url.path,
        "query": "",
        # A log without a charter (a synthetic test log) has no schedule pages to link to.
        "schedule_pages": request.app.state.view.governed,
        "simulation": _simulation(request),
        **values,
    }


def _simulation(request: Request) -> dict[str, str] | None:
    """For a log whose charter says it is a simulation: the simulated date the site shows."""
    state = request.app.state
    engine = state.view.catch_up().engine if state.view.governed else None
    if engine is None or engine.state.charter is None or not engine.state.charter.simulation:
        return None
    return {"today": fmt_date(state.clock())}


def _not_found_as_page(route: Callable[..., Response]) -> Callable[..., Response]:
    """A page whose subject does not exist (an entry, a run, an organisation) answers 404."""

    @functools.wraps(route)  # FastAPI reads the wrapped signature
    def page(**kwargs: Any) -> Response:
        try:
            return route(**kwargs)
        except NotFound as exc:
            return _error(kwargs["request"], 404, str(exc))

    return page


def _small_int(text: str | None, what: str, lo: int, hi: int) -> int | None:
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and lo <= int(text) <= hi):
        raise FormatError(f"{what}: {text[:20]!r} is not a number from {lo} to {hi}")
    return int(text)


@router.get("/")
def home(request: Request, fmt: Format = None) -> Response:
    return _page(request, "home.html", pages.home(_site(request)), fmt)


@router.get("/entries")
def entries(  # noqa: PLR0917 - one parameter per filter, as FastAPI declares them
    request: Request,
    fmt: Format = None,
    type: Short = None,
    org: Short = None,
    level: Short = None,
    cycle: Short = None,
    since: Short = None,
    until: Short = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    after: int = -1,
) -> Response:
    filters = {
        "type": type or "",
        "org": org or "",
        "level": level or "",
        "cycle": cycle or "",
        "since": since or "",
        "until": until or "",
        "q": q or "",
    }
    # An HTML form sends empty fields for filters left blank: empty means "any".
    try:
        since_ms = day_start_ms(parse_date(since, "since")) if since else None
        until_ms = day_start_ms(parse_date(until, "until")) + DAY_MS if until else None
        level_n = _small_int(level, "level", 0, 63)
        cycle_n = _small_int(cycle, "cycle", 2000, 2999)
    except FormatError as exc:
        return _error(request, 400, str(exc))
    if not -1 <= after <= MAX_INDEX:
        return _error(request, 400, f"after: not a log index from -1 to {MAX_INDEX}")
    query = SearchQuery(
        entry_type=type or None,
        org=org or None,
        level=level_n,
        cycle=cycle_n,
        text=q or None,
        since_ms=since_ms,
        until_ms=until_ms,
        after=after,
        limit=pages.PAGE_SIZE,
    )
    data = pages.entry_list(_site(request), query)
    data["filters"] = filters
    data["types"] = list(TYPES)
    if fmt == "csv":
        return render.csv_response(
            (
                [
                    e["index"],
                    e["logged_at"],
                    e["type"],
                    e["org"],
                    e["headline"],
                    "; ".join(e["signers"]),
                ]
                for e in data["entries"]
            ),
            ["index", "logged_at", "type", "org", "headline", "signed_by"],
            "entries.csv",
        )
    return _page(request, "entries.html", data, fmt)


@router.get("/entries/{index}")
@_not_found_as_page
def entry(request: Request, index: int, fmt: Format = None) -> Response:
    if not 0 <= index <= MAX_INDEX:
        return _error(request, 404, f"log indices run from 0 to {MAX_INDEX}")
    data = pages.entry_page(_site(request), index)
    return _page(request, "entry.html", data, fmt)


@router.get("/documents/{digest}")
@_not_found_as_page
def document(request: Request, digest: str, fmt: Format = None) -> Response:
    # Anything but 64 lower-case hex digits is no document's name: 404, as a page.
    data = pages.document_page(_site(request), digest)
    return _page(request, "document.html", data, fmt)


@router.get("/timeline")
@_not_found_as_page
def timeline_page(request: Request, fmt: Format = None) -> Response:
    data = timeline.timeline(_site(request))
    return _page(request, "timeline.html", data, fmt)


@router.get("/runs")
@_not_found_as_page
def runs_page(request: Request, fmt: Format = None) -> Response:
    data = {"runs": schedule.runs(_site(request))}
    if fmt == "csv":
        keys = ["index", "org", "run_id", "level", "cycle", "amended", "halted", "submitted"]
        keys += ["on_time", "decided", "outcome"]
        return render.csv_response(([r[k] for k in keys] for r in data["runs"]), keys, "runs.csv")
    return _page(request, "runs.html", data, fmt)


@router.get("/runs/{index}")
@_not_found_as_page
def run_page(request: Request, index: int, fmt: Format = None) -> Response:
    data = schedule.run_page(_site(request), index)
    return _page(request, "run.html", data, fmt)


@router.get("/orgs")
@_not_found_as_page
def orgs_page(request: Request, fmt: Format = None) -> Response:
    data = scorecards.organisations(_site(request))
    if fmt == "csv":
        cols = ["runs", "on_time", "late", "halted", "approved", "rejected", "pending"]
        cols += ["violations", "findings"]
        return render.csv_response(
            ([o["org"], o["name"], *(o["score"][c] for c in cols)] for o in data["organisations"]),
            ["org", "name", *cols],
            "organisations.csv",
        )
    return _page(request, "orgs.html", data, fmt)


@router.get("/orgs/{org}")
@_not_found_as_page
def org_page(
    request: Request, org: Annotated[str, Path(max_length=64)], fmt: Format = None
) -> Response:
    data = scorecards.organisation(_site(request), org)
    return _page(request, "org.html", data, fmt)


@router.get("/regulator")
@_not_found_as_page
def regulator_page(request: Request, fmt: Format = None) -> Response:
    data = scorecards.regulator(_site(request))
    if fmt == "csv":
        keys = ["submission", "org", "run_id", "cycle", "on_time", "required", "due", "decision"]
        keys += ["decided", "outcome", "days_late"]
        rows = ([d[k] for k in keys] for d in data["decisions"])
        return render.csv_response(rows, keys, "regulator-decisions.csv")
    return _page(request, "regulator.html", data, fmt)


@router.get("/keys")
def keys(request: Request, fmt: Format = None) -> Response:
    return _page(request, "keys.html", pages.keys(_site(request)), fmt)


@router.get("/compliance")
def compliance(request: Request, fmt: Format = None) -> Response:
    data = pages.compliance(_site(request))
    if fmt == "csv":
        return render.csv_response(
            (
                [g["rule"], f["severity"], " ".join(map(str, f["indices"])), f["message"]]
                for g in data["rules"]
                for f in g["findings"]
            ),
            ["rule", "severity", "entries", "finding"],
            "findings.csv",
        )
    return _page(request, "compliance.html", data, fmt)


@router.get("/feeds/entries.atom")
def feed(request: Request, type: Short = None, org: Short = None) -> Response:
    site = _site(request)
    query = SearchQuery(entry_type=type or None, org=org or None, limit=50, newest_first=True)
    items = pages.entry_list(site, query)["entries"]
    title = (
        "Frontier Ledger entries"
        + (f" of type {type}" if type else "")
        + (f" by {org}" if org else "")
    )
    base = str(request.base_url).rstrip("/")
    return render.atom(
        {
            "title": title,
            "base": base,
            "self_url": str(request.url),
            "updated": items[0]["logged_at"] if items else "1970-01-01T00:00:00.000Z",
            "entries": items,
            "origin": site.view.store.origin,
        }
    )
