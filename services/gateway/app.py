"""The gateway's app factory: ``uvicorn services.gateway.app:create_app --factory``.

Its parts: Redis (rate limits and the anonymous cache), the user pool's JWKS and one pooled client per
service behind a public prefix, all read from reference/ when the app starts. /readyz needs Redis and
the JWKS (critical, as before: a gateway that cannot verify tokens is not ready).
"""

from __future__ import annotations

import logging
from contextlib import suppress

import boto3
import httpx
from botocore.config import Config
from fastapi import FastAPI
from starlette import routing
from starlette.middleware import Middleware

from reference.services import route_table
from services.common.app import RequestContext, create_service_app
from services.common.runtime import Runtime
from services.gateway import clickstream
from services.gateway.adapters.cognito_revoke import CognitoRevoker
from services.gateway.adapters.jwks import JwksVerifier
from services.gateway.adapters.kms_envelope import KmsEnvelope
from services.gateway.adapters.redis_edge import RedisEdge
from services.gateway.adapters.redis_sessions import RedisSessions
from services.gateway.adapters.upstream import HttpUpstream
from services.gateway.api import openapi, router
from services.gateway.bff import Sessions
from services.gateway.csrf import CsrfGuard
from services.gateway.domain import Route
from services.gateway.ports import KeysUnavailable
from services.gateway.service import Gateway
from services.gateway.settings import GatewaySettings


def create_app(
    settings: GatewaySettings | None = None, *, upstream_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build the gateway; the routes are read from reference/ and the adapters built when the app starts.

    ``upstream_transport`` replaces the network under every upstream client (tests pass an ASGI app).
    """
    settings = settings or GatewaySettings()

    async def parts(rt: Runtime) -> None:
        table = route_table()
        upstream = HttpUpstream.for_routes(table, settings, upstream_transport)
        rt.on_close(upstream.aclose)
        redis = rt.redis(settings.redis_url, timeout_s=settings.redis_timeout_s)
        edge = RedisEdge(redis, settings.redis_prefix, retry_s=settings.redis_retry_s)
        rt.check("redis", edge.check)
        verifier = JwksVerifier(
            await rt.enter(httpx.AsyncClient(timeout=2.0)),
            jwks_url=settings.jwks_url,
            issuer=settings.cognito_issuer,
            leeway_s=settings.jwt_leeway_s,
            min_refresh_s=settings.jwks_min_refresh_s,
        )
        with suppress(KeysUnavailable):
            await verifier.check()  # warm the keys; /readyz says so if they cannot be fetched
        rt.check("jwks", verifier.check)
        routes = {prefix: Route(s.name, s.public_cache_s) for prefix, s in table.items()}
        sessions = browser_sessions(settings, redis, verifier, upstream, routes)
        rt.check("kms", sessions.sealer.check, critical=False)  # browser sign-ins only
        rt.state.gateway = Gateway(settings, routes, verifier, edge, upstream, sessions)
        rt.background("clickstream", producer.run, ready=producer.ready)

    app = create_service_app("gateway", settings, [router], parts=parts, body_prefix="/api")
    # Inside the request context (the problem carries the request id), ahead of the body guard and the routes.
    at = next(i for i, m in enumerate(app.user_middleware) if m.cls is RequestContext)
    app.user_middleware.insert(at + 1, Middleware(CsrfGuard, settings=settings))
    producer = clickstream.install(app)  # POST /api/clickstream and the server-side events (clickstream.py)
    # /openapi.json is the public document (services' paths under /api), as /api/openapi.json is
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != app.openapi_url]
    app.router.routes.insert(0, routing.Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False))
    if not settings.access_log:
        logging.getLogger("services.access").setLevel(logging.WARNING)
    return app


def browser_sessions(
    settings: GatewaySettings, redis: object, verifier: JwksVerifier, upstream: HttpUpstream, routes: dict[str, Route]
) -> Sessions:
    """The BFF's token handler: sessions in Redis sealed with a KMS data key, sign-out revoking at Cognito."""
    quick = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=5)
    kms = boto3.client("kms", region_name=settings.aws_region, config=quick)
    idp = boto3.client("cognito-idp", region_name=settings.aws_region, config=quick)
    # service=gateway is what the IAM policy allows (cfn/iam.py, Verb.SEAL); the stage keeps stages apart.
    context = {"service": "gateway", "purpose": "session", "stage": settings.stage}
    sealer = KmsEnvelope(kms, settings.kms_key, context, rotate_s=settings.session_key_rotate_s)
    revoker = CognitoRevoker(idp, settings.client_ids[0] if settings.client_ids else "")
    auth = routes["auth"].service if "auth" in routes else "profile"
    return Sessions(settings, RedisSessions(redis, settings.redis_prefix), sealer, verifier, upstream, revoker, auth)  # type: ignore[arg-type]
