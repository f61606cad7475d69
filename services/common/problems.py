"""Errors are part of the API: every failure is an RFC 9457 problem+json body.

``Problem`` (and its subclasses) can be raised anywhere in a handler; request validation
errors become 422 problems that name each bad field; anything unexpected becomes a 500
problem carrying the request id, and is logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.context import request_id
from services.common.errors import (  # noqa: F401 - re-exported: routes raise them from here
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionFailed,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)

Unprocessable = Invalid

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("services.problems")
TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Content too large",
    415: "Unsupported media type",
}


# One error model: the domain's errors (services.common.errors) are the problems. ``Problem`` is
# the name the HTTP layer has always raised; it is the same class.
Problem = DomainError


def problem_response(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extensions: Any
) -> JSONResponse:
    body = {
        "type": f"https://httpstatuses.io/{status}",
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": request_id.get(),
        **extensions,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def from_error(exc: DomainError) -> JSONResponse:
    """The problem answer of a domain error: its status and title, ``field`` and (on 422) ``errors`` naming it."""
    extensions = dict(exc.extensions)
    if exc.field:
        extensions["field"] = exc.field
        if exc.status == 422:
            extensions.setdefault("errors", [{"field": exc.field, "in": exc.location, "message": exc.detail}])
    return problem_response(exc.status, exc.title, exc.detail, exc.headers or None, **extensions)


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic errors as ``{"field", "in", "message"}``: ``field`` is the dotted path inside its location.

    A body that is not JSON at all names ``body`` (the decoder's byte offset goes into the message,
    never into the field's place).
    """
    out = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        where = loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
        path = loc[1:] if loc and loc[0] == where else loc
        message = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "not valid JSON")
            at = f" at character {path[0]}" if path else ""
            path, message = [], f"the body is not valid JSON{at}: {reason}"
        out.append({"field": ".".join(path) or where, "in": where, "message": message})
    return out


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method some route of ``app`` serves at ``path`` (the complete ``Allow`` of a 405)."""
    methods: set[str] = set()
    for route in routing.iter_route_contexts(getattr(app, "routes", ())):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path) and getattr(route, "methods", None):
            methods |= set(route.methods)
    return sorted(methods)


# A dependency the SDK or driver gave up on (after its own retries) is the caller's 503, with a
# Retry-After, not our 500: nothing in the request was wrong and trying again later may work.
# Matched by class name and module, so this module imports no SDK (a service pays only for its parts).
_DEPENDENCY_ERRORS = {
    "botocore": {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"},
    "redis": {"ConnectionError", "TimeoutError", "BusyLoadingError"},
    "sqlalchemy": {"OperationalError", "InterfaceError"},
    "psycopg": {"OperationalError"},
    # SQLSTATE classes 08 (the connection lost or refused), 57 (the server shutting down, starting, a statement
    # cancelled) and 53 (too many connections); and the chassis' pool unable to connect at all.
    "asyncpg": {"PostgresConnectionError", "OperatorInterventionError", "InsufficientResourcesError"},
    "services": {"DatabaseUnreachable"},
}
_AWS_RETRYABLE_CODES = {
    "ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "RequestThrottled", "SlowDown", "ServiceUnavailable",
    "InternalError", "InternalFailure", "InternalServerError", "LimitExceededException",
}  # fmt: skip


def dependency_failure(exc: BaseException) -> str | None:
    """What failed, if ``exc`` is a dependency being down, throttled or timing out; else None."""
    for error in (exc, exc.__cause__):
        if error is None:
            continue
        package = type(error).__module__.split(".", 1)[0]
        names = {c.__name__ for c in type(error).__mro__}
        if names & _DEPENDENCY_ERRORS.get(package, set()):
            return f"{package}: {type(error).__name__}"
        if package == "botocore" and "ClientError" in names:
            response = getattr(error, "response", {}) or {}
            code = response.get("Error", {}).get("Code", "")
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _AWS_RETRYABLE_CODES or status >= 500:
                return f"{getattr(error, 'operation_name', 'AWS')}: {code or status}"
    return None


def unavailable_response(what: str) -> JSONResponse:
    """The 503 problem for a dependency that is down (``dependency_failure``'s answer)."""
    detail = f"a dependency of this service is unavailable ({what}); try again shortly"
    return problem_response(503, "Service unavailable", detail, {"Retry-After": "1"})


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem body."""

    @app.exception_handler(DomainError)
    async def _problem(_: Request, exc: Exception) -> JSONResponse:
        return from_error(exc)  # type: ignore[arg-type]

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc.errors())
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(
            422, "Invalid request", detail, field=errors[0]["field"] if errors else "body", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = TITLES.get(exc.status_code, "HTTP error")
        detail, extensions = str(exc.detail), {}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route whose path matched; a path served by several
            # routes (GET, PATCH and DELETE of one product) takes them all.
            allowed = allowed_methods(request.app, request.url.path)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not served here; this path takes {', '.join(allowed)}"
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's answer to a body it cannot decode (not UTF-8, not JSON it can read): name the body.
            detail = "the body could not be read: send UTF-8 JSON"
            extensions = {"field": "body", "errors": [{"field": "body", "in": "body", "message": detail}]}
        elif exc.status_code in (413, 415):
            extensions = {"field": "body"}
        return problem_response(exc.status_code, title, detail, headers, **extensions)

    # Unexpected exceptions become 500 problems in services.common.app.RequestContext, where the
    # request id is still known.
