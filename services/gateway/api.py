"""The gateway's routes: every public path under /api, and the gateway's own OpenAPI under /api as well.

The proxy is a plain Starlette route: FastAPI's per-request parameter machinery cost about a
fifth of the cache-hit path (load/bench profile) and the proxy has no parameters to validate.
``documented`` holds the same operation as FastAPI routes, for the OpenAPI document only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.routing import Route

from services.gateway import deps
from services.gateway.schemas import problem

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
PROXY_PATH = "/api/{path:path}"

router = APIRouter(tags=["gateway"])
documented = APIRouter(tags=["gateway"])


@router.get("/api/openapi.json", summary="This OpenAPI document, through the front door", include_in_schema=False)
async def openapi(request: Request) -> dict[str, Any]:
    return request.app.openapi()


async def proxy(request: Request) -> Response:
    return await deps.gateway(request).handle(request, request.path_params["path"])


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
        responses={
            401: problem("bad, expired or foreign token"),
            404: problem("no public route has this prefix"),
            429: problem("over the rate limit"),
            503: problem("the service is down"),
            504: problem("the service did not answer in time"),
        },
    )


def openapi_of(app: FastAPI) -> dict[str, Any]:
    """The schema of the served routes plus the documented proxy operations."""
    if app.openapi_schema is None:
        app.openapi_schema = get_openapi(title=app.title, version=app.version, routes=[*app.routes, *documented.routes])
    return app.openapi_schema
