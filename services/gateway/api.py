"""The gateway's routes: every public path under /api, and the gateway's own OpenAPI under /api as well."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

router = APIRouter(tags=["gateway"])
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.get("/api/openapi.json", summary="This OpenAPI document, through the front door", include_in_schema=False)
async def openapi(request: Request) -> dict[str, Any]:
    return request.app.openapi()


async def proxy(request: Request, path: str) -> Response:
    return await request.app.state.gateway.handle(request, path)


for method in METHODS:
    router.add_api_route(
        "/api/{path:path}",
        proxy,
        methods=[method],
        operation_id=f"forward_{method.lower()}",
        summary="Forward /api/<prefix>/... to the service that owns <prefix> (see reference/services.py)",
        description=(
            "A bearer access token from the user pool is verified and its identity passed on; requests are "
            "rate-limited per client address and per user (429 with Retry-After); anonymous GETs of cacheable "
            "services are served from the cache (X-Cache: HIT or MISS)."
        ),
        response_class=Response,
        responses={
            401: {"description": "bad, expired or foreign token"},
            404: {"description": "no public route has this prefix"},
            429: {"description": "over the rate limit"},
            503: {"description": "the service is down"},
            504: {"description": "the service did not answer in time"},
        },
    )
