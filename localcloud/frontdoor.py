"""The front door on :8080: the local stand-in for CloudFront + ALB in front of the cluster.

- ``/api/*`` goes to the API gateway service (CloudFront's ALB origin, the ingress rule);
- ``/media/*`` is read from the S3 media bucket, object key = the path without its
  leading slash, as CloudFront's media origin fetches it;
- ``/healthz`` reports every component and every running service.

The edge issue turns this into the full local CloudFront (static site, caching, WAF).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from localcloud import health
from localcloud.settings import AwsMode, LocalCloudSettings
from reference import physical_name

# Hop-by-hop headers (RFC 9110 7.6.1) are never forwarded; identity headers only the gateway may set.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding",
     "upgrade", "host", "content-length"}
)  # fmt: skip
SERVICE_URL_PREFIX = "SHOP_SERVICE_"


def service_urls() -> dict[str, str]:
    """The services the supervisor started, from their ``SHOP_SERVICE_<NAME>_URL`` variables."""
    return {
        key[len(SERVICE_URL_PREFIX) : -len("_URL")].lower(): value
        for key, value in os.environ.items()
        if key.startswith(SERVICE_URL_PREFIX) and key.endswith("_URL")
    }


def create_app(settings: LocalCloudSettings | None = None) -> FastAPI:
    """Build the front door; nothing connects until a request asks."""
    settings = settings or LocalCloudSettings()
    probes = _probes(settings)
    services = service_urls()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        timeout = httpx.Timeout(connect=2.0, read=30.0, write=30.0, pool=5.0)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            app.state.http = client
            yield

    app = FastAPI(title="shop front door", version="0.1.0", docs_url=None, redoc_url=None, lifespan=lifespan)

    @app.get("/healthz", summary="Status of every component and service of the local stack")
    async def healthz(request: Request) -> JSONResponse:
        components = await run_in_threadpool(health.check, probes)
        statuses = {name: await _service_health(request.app.state.http, url) for name, url in services.items()}
        ok = all(c["status"] == "up" for c in (*components.values(), *statuses.values()))
        body = {"status": "ok" if ok else "degraded", "stage": settings.stage, "components": components}
        body["services"] = statuses
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.api_route("/api/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    async def api(request: Request, path: str) -> Response:
        gateway = services.get("gateway")
        if gateway is None:
            return _problem(503, "the API gateway service is not running")
        return await _forward(request, f"{gateway}/api/{path}")

    @app.get("/media/{key:path}", summary="Product images from the S3 media bucket")
    async def media(key: str) -> Response:
        return await run_in_threadpool(_media_object, settings, key)

    return app


async def _service_health(client: httpx.AsyncClient, url: str) -> dict[str, object]:
    try:
        response = await client.get(f"{url}/healthz", timeout=2.0)
        return {"status": "up" if response.status_code == 200 else "down", "url": url}
    except httpx.HTTPError as exc:
        return {"status": "down", "url": url, "detail": type(exc).__name__}


async def _forward(request: Request, url: str) -> Response:
    client: httpx.AsyncClient = request.app.state.http
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
    peer = request.client.host if request.client else ""
    forwarded_for = ", ".join(filter(None, [request.headers.get("x-forwarded-for"), peer]))
    headers += [("x-forwarded-for", forwarded_for), ("x-forwarded-proto", request.url.scheme)]
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    # A body-less request must stay body-less: a stream would go out chunked, which reads as "a body".
    content = request.stream() if has_body else b""
    upstream = client.build_request(request.method, url, params=request.query_params, headers=headers, content=content)
    try:
        response = await client.send(upstream, stream=True)
    except httpx.TimeoutException:
        return _problem(504, "the API gateway did not answer in time")
    except httpx.TransportError:
        return _problem(503, "the API gateway is not reachable")
    out_headers = {k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP}
    return StreamingResponse(
        response.aiter_raw(),
        status_code=response.status_code,
        headers=out_headers,
        background=BackgroundTask(response.aclose),
    )


def _media_object(settings: LocalCloudSettings, key: str) -> Response:
    endpoint = str(settings.aws_endpoint_url) if settings.aws_endpoint_url else None
    s3 = health.aws_client("s3", endpoint_url=endpoint, region=settings.aws_region)
    bucket = physical_name("media", settings.stage)
    try:
        obj = s3.get_object(Bucket=bucket, Key=f"media/{key}")  # CloudFront fetches the path as the key
    except s3.exceptions.NoSuchKey:
        return _problem(404, f"no media object {key}")
    headers = {"Cache-Control": "public, max-age=86400", "ETag": obj["ETag"]}
    return Response(obj["Body"].read(), media_type=obj.get("ContentType", "application/octet-stream"), headers=headers)


def _problem(status: int, detail: str) -> JSONResponse:
    title = {404: "Not found", 503: "Service unavailable", 504: "Gateway timeout"}[status]
    body = {"type": f"https://httpstatuses.io/{status}", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


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
