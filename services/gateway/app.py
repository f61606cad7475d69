"""The gateway's app factory: ``uvicorn services.gateway.app:create_app --factory``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from reference.services import route_table
from services.common.app import Check, create_service_app
from services.common.settings import service_url
from services.gateway import clickstream
from services.gateway.adapters.jwks import JwksVerifier
from services.gateway.adapters.redis_edge import RedisEdge
from services.gateway.adapters.upstream import HttpUpstream
from services.gateway.api import documented, router
from services.gateway.domain import Route
from services.gateway.ports import KeysUnavailable
from services.gateway.proxy import Gateway
from services.gateway.settings import GatewaySettings


def create_app(
    settings: GatewaySettings | None = None, *, upstream_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build the gateway; the routes are read from reference/ and the adapters built when the app starts.

    ``upstream_transport`` replaces the network under every upstream client (tests pass an ASGI app).
    """
    settings = settings or GatewaySettings()
    app = create_service_app(
        "gateway", settings, [router], lifespan=lambda app: _adapters(app, settings, upstream_transport), checks=_checks
    )
    clickstream.install(app)  # POST /api/clickstream and the server-side events (services/gateway/clickstream.py)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    if not settings.access_log:
        logging.getLogger("services.access").setLevel(logging.WARNING)
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema of the served routes plus the documented proxy operations (see api.py)."""
    if app.openapi_schema is None:
        app.openapi_schema = get_openapi(title=app.title, version=app.version, routes=[*app.routes, *documented.routes])
    return app.openapi_schema


def _checks(app: FastAPI) -> dict[str, Check]:
    gateway: Gateway = app.state.gateway
    return {"redis": gateway.edge.check, "jwks": gateway.verifier.check}


@asynccontextmanager
async def _adapters(
    app: FastAPI, settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None
) -> AsyncIterator[None]:
    """Wire the adapters from the settings and the route table as it is when the app starts."""
    table = route_table()
    routes = {prefix: Route(s.name, s.public_cache_s) for prefix, s in table.items()}

    def timeout(read_s: float | None) -> httpx.Timeout:
        read = read_s or settings.upstream_read_timeout_s  # reference/ may give a service longer (checkout)
        connect = settings.upstream_connect_timeout_s
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    upstream = HttpUpstream(
        {s.name: service_url(s.name) for s in table.values()},
        timeouts={s.name: timeout(s.gateway_timeout_s) for s in table.values()},
        attempts=settings.upstream_attempts,
        max_connections=settings.upstream_max_connections,
        transport=transport,
    )
    edge = RedisEdge.from_url(
        settings.redis_url, settings.redis_prefix, timeout_s=settings.redis_timeout_s, retry_s=settings.redis_retry_s
    )
    async with httpx.AsyncClient(timeout=2.0) as jwks_http:
        verifier = JwksVerifier(
            jwks_http,
            jwks_url=settings.jwks_url,
            issuer=settings.cognito_issuer,
            leeway_s=settings.jwt_leeway_s,
            min_refresh_s=settings.jwks_min_refresh_s,
        )
        with suppress(KeysUnavailable):
            await verifier.check()  # warm the keys; /readyz says so if they cannot be fetched
        app.state.gateway = Gateway(settings, routes, verifier, edge, upstream)
        try:
            yield
        finally:
            await upstream.aclose()
            await edge.aclose()
