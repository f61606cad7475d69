"""The front door on :8080: for now, the health of every component behind it.

Later issues put the storefront and ``/api/*`` behind this same address (the
CloudFront + ALB role); ``/healthz`` stays the one place that says whether the
whole local stack is up.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from localcloud import health
from localcloud.settings import AwsMode, LocalCloudSettings


def create_app(settings: LocalCloudSettings | None = None) -> FastAPI:
    """Build the front door; nothing connects until a request asks."""
    settings = settings or LocalCloudSettings()
    app = FastAPI(title="shop front door", version="0.1.0", docs_url=None, redoc_url=None)
    probes = _probes(settings)

    @app.get("/healthz", summary="Status of every component of the local stack")
    def healthz() -> JSONResponse:
        components = health.check(probes)
        ok = all(c["status"] == "up" for c in components.values())
        body = {"status": "ok" if ok else "degraded", "stage": settings.stage, "components": components}
        return JSONResponse(body, status_code=200 if ok else 503)

    return app


def _probes(settings: LocalCloudSettings) -> dict[str, Callable[[], str]]:
    probes: dict[str, Callable[[], str]] = {}
    if settings.database_url:
        probes["postgres"] = lambda: health.probe_postgres(str(settings.database_url))
    if settings.redis_url:
        probes["valkey"] = lambda: health.probe_redis(str(settings.redis_url))
    endpoint = str(settings.aws_endpoint_url) if settings.aws_endpoint_url else None
    if endpoint or settings.aws_mode is AwsMode.AWS:
        probes["aws"] = lambda: health.probe_aws(endpoint, settings.aws_region)
    return probes
