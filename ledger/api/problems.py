"""RFC 9457 problem details: one error shape for every error the API returns.

``{"type": "urn:frontier-ledger:problem:<slug>", "title": …, "status": …, "detail": …}``
served as ``application/problem+json``.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match, Mount

PROBLEM_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raise from a route to answer with a problem+json body."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


def problem_body(
    status: int,
    slug: str,
    detail: str,
    *,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """The JSON of a problem document."""
    body: dict[str, Any] = {
        "type": f"urn:frontier-ledger:problem:{slug}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra or {})
    return orjson.dumps(body)


def problem_response(
    status: int,
    slug: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body = problem_body(status, slug, detail, instance=instance, extra=extra)
    return Response(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.status,
        exc.slug,
        exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        extra=exc.extra,
    )


async def handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no resource at {request.url.path}"
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        # A 405 must say what the resource allows (RFC 9110 §15.5.6): every method of
        # every route at this path (the router names only the first route it tried).
        # Static files (a mount, which takes any method to refuse it) serve GET and HEAD.
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed) if allowed else headers.get("Allow", "GET, HEAD")
    return problem_response(
        exc.status_code, slug, detail, instance=request.url.path, headers=headers or None
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """The methods the app's routes (not its mounts) answer at the request's path."""
    routes = [r for r in request.app.routes if not isinstance(r, Mount)]
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    ]


async def handle_store(request: Request, exc: Exception) -> Response:
    """The store failed a read (its database is unreachable, e.g. PostgreSQL restarting).

    The store reconnects by itself on the next request: 503 with Retry-After.
    """
    return problem_response(
        503,
        "store-unavailable",
        f"the log's store cannot be read right now: {exc}",
        instance=request.url.path,
        headers={"Retry-After": "5"},
    )


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Anything unforeseen still answers in the one error shape, without internals."""
    return problem_response(
        500, "internal-error", "the server failed to answer this request", instance=request.url.path
    )


async def handle_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return problem_response(
        400, "invalid-request", "; ".join(parts) or "invalid request", instance=request.url.path
    )
