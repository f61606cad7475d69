"""Every service's OpenAPI document from the one error model: each status a route can answer, as problem+json.

Routes declare the errors their rules raise with ``errors(...)`` (``responses=errors(NotFound, Conflict)``);
``document(app)`` adds what the chassis answers for every route of its kind, so no route has to repeat it:

- 422 (a parameter or body field broke its type; the ``errors`` list names each) wherever there is input;
- 400 (a body that cannot be read), 413 (past the route's size limit) and 415 (a content type the route does
  not take, ``reference/bodies.py``) on every method that takes a body;
- 401 where the route needs a signed-in caller, 403 where it needs the admin group (``services.common.identity``);
- 405 for a method the path does not serve, with an ``Allow`` header naming every method it does.

Every problem is ``application/problem+json`` with the ``Problem`` schema, in place of FastAPI's default
``HTTPValidationError``, and a route whose body is not JSON says so (``reference/bodies.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, routing
from fastapi.openapi.utils import _get_api_route_for_openapi, get_openapi
from starlette.routing import BaseRoute

from reference.bodies import BODY_RULES
from services.common.errors import DomainError
from services.common.identity import admin_caller, required_caller

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BODY_METHODS = {"post", "put", "patch"}
DESCRIPTIONS = {
    400: "the body could not be read (not UTF-8, not JSON)",
    401: "sign in first: no, or no valid, access token",
    403: "the caller may not do this (the admin group is needed)",
    404: "no such thing (or not the caller's to see)",
    405: "the path does not take this method; Allow names the ones it does",
    409: "the request clashes with the current state",
    412: "the If-Match version is not the current one",
    413: "the body is past the route's size limit",
    415: "the route does not take this content type",
    422: "a parameter or field breaks a rule; errors[] names each (field, in, message)",
    429: "too many requests; Retry-After says when to try again",
    502: "a service this one needs answered badly",
    503: "a dependency is down; try again shortly",
    504: "a service this one needs did not answer in time",
}

FIELD_ERROR = {
    "type": "object",
    "required": ["field", "in", "message"],
    "properties": {
        "field": {"type": "string", "description": "the dotted path of the field, or the parameter or header name"},
        "in": {"type": "string", "enum": ["body", "query", "path", "header", "cookie"]},
        "message": {"type": "string"},
    },
}
PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details, as every service and the gateway answer an error",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string", "description": "quote it when asking about this request"},
        "field": {"type": "string", "description": "the field, parameter or header at fault"},
        "code": {"type": "string", "description": "a stable machine-readable reason, where a service gives one"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
    },
    "additionalProperties": True,
}


def problem(status: int, description: str | None = None) -> dict[str, Any]:
    """One OpenAPI response entry: a problem+json answer with this status."""
    content = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    return {"description": description or DESCRIPTIONS.get(status, "an error"), "content": content}


def errors(*raised: type[DomainError] | int, **described: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: the domain errors (or bare statuses) it can answer, as problem+json.

    ``errors(NotFound, Conflict)``; ``errors(409, _409="the id exists with another body")`` to say why.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for item in raised:
        status = item if isinstance(item, int) else item.status
        out[status] = problem(status, described.get(f"_{status}"))
    return out


def _needs(route: Any) -> set[Any]:
    calls: set[Any] = set()
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        calls.add(dependant.call)
        stack.extend(dependant.dependencies)
    return calls


def _route_statuses(route: Any) -> dict[str, set[int]]:
    """The statuses the chassis may answer for each method of ``route``."""
    needs = _needs(route)
    out: dict[str, set[int]] = {}
    has_input = bool(route.dependant.path_params or route.dependant.query_params or route.dependant.header_params)
    for method in route.methods or ():
        method = method.lower()
        statuses: set[int] = set()
        if has_input or route.body_field is not None:
            statuses.add(422)
        if method in BODY_METHODS:
            statuses |= {400, 413, 415, 422}
        if required_caller in needs or admin_caller in needs:
            statuses.add(401)
        if admin_caller in needs:
            statuses.add(403)
        out[method] = statuses
    return out


def _openapi_path(path: str) -> str:
    return re.sub(r"\{([^}:]+)(:[^}]+)?\}", r"{\1}", path)


def post_process(schema: dict[str, Any], routes: Iterable[BaseRoute], *, prefix: str = "") -> dict[str, Any]:
    """Put the error model into a generated document: problem+json everywhere, the chassis' statuses, body types."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Problem"] = PROBLEM
    components["FieldError"] = FIELD_ERROR
    chassis: dict[tuple[str, str], set[int]] = {}
    for context in routing.iter_route_contexts(list(routes)):
        route = _get_api_route_for_openapi(context) if hasattr(context, "original_route") else context
        if getattr(route, "dependant", None) is not None and getattr(route, "include_in_schema", True):
            for method, statuses in _route_statuses(route).items():
                chassis[(prefix + _openapi_path(route.path_format), method)] = statuses
    rules = {(prefix + r.path, r.method.lower()): r for r in BODY_RULES}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in sorted(chassis.get((path, method), set())):
                responses.setdefault(str(status), problem(status))
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
                    if not response.get("description") or response["description"] == "Validation Error":
                        response["description"] = DESCRIPTIONS.get(int(status), "an error")
            responses.setdefault("405", _method_not_allowed())
            rule = rules.get((path, method))
            if rule is not None:
                binary = {"type": "string", "format": "binary", "maxLength": rule.max_bytes}
                operation["requestBody"] = {
                    "required": True,
                    "content": {t: {"schema": binary} for t in rule.types},
                }
    return schema


def _method_not_allowed() -> dict[str, Any]:
    allow = {"description": "every method this path serves", "schema": {"type": "string"}}
    return {**problem(405), "headers": {"Allow": allow}}


def document(app: FastAPI, routes: Iterable[BaseRoute] | None = None, *, prefix: str = "") -> dict[str, Any]:
    """The app's OpenAPI document, made once: FastAPI's generation, then ``post_process``."""
    if app.openapi_schema is None:
        routes = list(routes if routes is not None else app.routes)
        schema = get_openapi(title=app.title, version=app.version, routes=routes, description=app.description)
        app.openapi_schema = post_process(schema, routes, prefix=prefix)
    return app.openapi_schema
