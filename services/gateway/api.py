"""The gateway's routes: every public path under /api, and the public API's OpenAPI document.

The proxy is a plain Starlette route: FastAPI's per-request parameter machinery cost about a
fifth of the cache-hit path (load/bench profile) and the proxy has no parameters to validate.

The OpenAPI document (``/openapi.json``, and ``/api/openapi.json`` through the front door) is the
public surface as clients see it: each service's own document (made from its route declarations and
the one error model, ``services.common.openapi``), its public paths under ``/api`` (never
``/internal``), with what the gateway itself may answer on every operation (401 for a bad token, 429,
503, 504). A service whose document cannot be read is covered by the generic ``/api/{path}``
operations of ``documented`` until it can.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import Route

from reference.services import route_table
from services.common import openapi as docs
from services.gateway import deps, session_api

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
PROXY_PATH = "/api/{path:path}"
GATEWAY_ERRORS = {
    401: "a bad, expired or foreign access token",
    429: "over the rate limit (per client address and per user); Retry-After says when to try again",
    503: "the service is down, or tokens cannot be verified right now",
    504: "the service did not answer in time",
}
SHARED_SCHEMAS = ("Problem", "FieldError")
log = logging.getLogger("services.gateway")

router = APIRouter(tags=["gateway"])
documented = APIRouter(tags=["gateway"])


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(await public_document(request.app))


async def proxy(request: Request) -> Response:
    return await deps.gateway(request).handle(request, request.path_params["path"])


router.routes.append(Route("/api/openapi.json", openapi, methods=["GET"], include_in_schema=False))
router.routes.extend(session_api.router.routes)  # /api/session, ahead of the catch-all proxy route
router.routes.append(Route(PROXY_PATH, proxy, methods=METHODS, include_in_schema=False))


async def _documented(path: str) -> Response:  # pragma: no cover - never served, see the module docstring
    raise NotImplementedError


for method in METHODS:
    documented.add_api_route(
        PROXY_PATH,
        _documented,
        methods=[method],
        operation_id=f"forward_{method.lower()}",
        summary="Forward /api/<prefix>/... to the service that owns <prefix> (see reference/services.py)",
        description=(
            "A bearer access token from the user pool is verified and its identity passed on; requests are "
            "rate-limited per client address and per user (429 with Retry-After); anonymous GETs of cacheable "
            "services are served from the cache (X-Cache: HIT or MISS), no longer than their Cache-Control allows."
        ),
        response_class=Response,
        responses={**docs.errors(401, 404, 429, 503, 504, _404="no public route has this prefix")},
    )


def own_document(app: FastAPI) -> dict[str, Any]:
    """The gateway's own routes (health, clickstream) with the error model."""
    return docs.document(app)


async def public_document(app: FastAPI) -> dict[str, Any]:
    """The gateway's routes and every service's public paths under /api (kept once every service answered)."""
    cached = getattr(app.state, "public_openapi", None)
    if cached is not None:
        return cached
    document = copy.deepcopy(own_document(app))
    gateway = getattr(app.state, "gateway", None)
    missing = []
    for name, prefixes in _owners().items():
        service_doc = await _fetch(gateway, name) if gateway is not None else None
        if service_doc is None or not merge(document, name, service_doc, prefixes):
            missing.append(name)  # unreadable, or not a document of the service's public paths
    if missing:
        generic = docs.post_process(
            _generic(app), documented.routes
        )  # what the gateway does for any path, until the service's own document can be read
        document["paths"].update(generic["paths"])
        document["info"]["description"] = f"not yet read from: {', '.join(missing)}"
    else:
        app.state.public_openapi = document
    return document


def _owners() -> dict[str, tuple[str, ...]]:
    owners: dict[str, tuple[str, ...]] = {}
    for prefix, service in route_table().items():
        owners[service.name] = (*owners.get(service.name, ()), prefix)
    return owners


async def _fetch(gateway: Any, name: str) -> dict[str, Any] | None:
    try:
        reply = await gateway.upstream.send(name, "GET", "/openapi.json", [], b"")
        document = json.loads(reply.body) if reply.status == 200 else None
    except Exception:
        log.warning("the %s service's OpenAPI document could not be read", name, exc_info=True)
        return None
    return document if isinstance(document, dict) and isinstance(document.get("paths"), dict) else None


def merge(into: dict[str, Any], service: str, document: dict[str, Any], prefixes: tuple[str, ...]) -> int:
    """Add ``service``'s public paths to ``into`` under /api, its schemas named ``<service>.<Name>``; how many."""
    public = [p for p in document["paths"] if p.strip("/").split("/")[0] in prefixes and "internal" not in p.split("/")]
    if not public:
        return 0
    schemas = document.get("components", {}).get("schemas", {})
    text = json.dumps({"paths": document["paths"], "schemas": schemas})
    for name in schemas:
        if name not in SHARED_SCHEMAS:
            text = text.replace(f'"#/components/schemas/{name}"', f'"#/components/schemas/{service}.{name}"')
    renamed = json.loads(text)
    target = into.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in renamed["schemas"].items():
        target[name if name in SHARED_SCHEMAS else f"{service}.{name}"] = schema
    for path, item in renamed["paths"].items():
        segments = path.strip("/").split("/")
        if segments[0] not in prefixes or "internal" in segments:
            continue
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["operationId"] = f"{service}_{operation.get('operationId', '')}"
                for status, description in GATEWAY_ERRORS.items():
                    operation["responses"].setdefault(str(status), docs.problem(status, description))
        into["paths"]["/api" + path] = item
    return len(public)


def _generic(app: FastAPI) -> dict[str, Any]:
    from fastapi.openapi.utils import get_openapi

    return get_openapi(title=app.title, version=app.version, routes=documented.routes)
