"""The front door's local-only routes (no CloudFront counterpart): ``/healthz`` for the whole stack and the
``/_edge/...`` routes (WAF metrics, cache size, CloudFront's CreateInvalidation)."""

from __future__ import annotations

import json
from collections.abc import Callable

import aiohttp
from starlette.concurrency import run_in_threadpool

from localcloud import health
from localcloud.edge import responses
from localcloud.edge.cache import EdgeCache
from localcloud.edge.exchange import Receive, Scope, Send
from localcloud.edge.logs import WafMetrics
from localcloud.settings import AwsMode, LocalCloudSettings


class LocalRoutes:
    """``/healthz`` (every backing server and service) and ``/_edge/*``."""

    def __init__(self, settings: LocalCloudSettings, services: dict[str, str], metrics: WafMetrics, cache: EdgeCache):
        self.settings, self.services, self.metrics, self.cache = settings, services, metrics, cache
        self.probes = probes(settings)
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def healthz(self, send: Send) -> None:
        components = await run_in_threadpool(health.check, self.probes)
        statuses = {name: await self.service_health(url) for name, url in self.services.items()}
        ok = all(c["status"] == "up" for c in (*components.values(), *statuses.values()))
        body = {"status": "ok" if ok else "degraded", "stage": self.settings.stage, "components": components}
        body["services"] = statuses
        await responses.send_json(send, 200 if ok else 503, body)

    async def service_health(self, url: str) -> dict[str, object]:
        assert self.session is not None
        try:
            async with self.session.get(f"{url}/healthz") as response:
                return {"status": "up" if response.status == 200 else "down", "url": url}
        except (TimeoutError, aiohttp.ClientError) as exc:
            return {"status": "down", "url": url, "detail": type(exc).__name__}

    async def edge(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/_edge/waf/metrics" and method == "GET":
            await responses.send_json(send, 200, self.metrics.snapshot())
        elif path == "/_edge/cache" and method == "GET":
            await responses.send_json(send, 200, {"objects": len(self.cache), "bytes": self.cache.bytes})
        elif path == "/_edge/invalidations" and method == "POST":
            # CloudFront's CreateInvalidation: {"paths": ["/index.html", "/js/*"]}
            try:
                paths = json.loads(await responses.read_body(receive) or b"{}").get("paths", [])
            except (ValueError, AttributeError, responses.TooLarge):
                paths = None
            if not isinstance(paths, list) or not all(isinstance(p, str) and p.startswith("/") for p in paths):
                bad = {"title": "Bad request", "status": 400, "detail": 'send {"paths": ["/..."]}'}
                await responses.send_json(send, 400, bad)
                return
            await responses.send_json(send, 201, {"paths": paths, "invalidated": self.cache.invalidate(paths)})
        else:
            missing = {"title": "Not found", "status": 404, "detail": f"no local edge route {path}"}
            await responses.send_json(send, 404, missing)


def probes(settings: LocalCloudSettings) -> dict[str, Callable[[], str]]:
    """The backing servers ``/healthz`` reports: those the settings name (and AWS itself in AWS mode)."""
    found: dict[str, Callable[[], str]] = {}
    if settings.database_url:
        found["postgres"] = lambda: health.probe_postgres(str(settings.database_url))
    if settings.redis_url:
        found["valkey"] = lambda: health.probe_redis(str(settings.redis_url))
    endpoint = str(settings.aws_endpoint_url) if settings.aws_endpoint_url else None
    if endpoint or settings.aws_mode is AwsMode.AWS:
        found["aws"] = lambda: health.probe_aws(endpoint, settings.aws_region)
    return found
