"""The front door's ASGI application: the local stand-in for WAF + CloudFront (+ the ALB) in front of the shop.

Every viewer request goes through the web ACL first (``waf``), then to the behaviour reference/edge.py
picks for its path: ``/api/*`` to the API gateway (``proxy``), the rest to the buckets (``static``).
Every answer carries the response headers policy and CloudFront's headers (``headers``) and leaves
an access line (``exchange``, ``logs``); ``/healthz`` and ``/_edge/*`` are local-only (``local``; the CSP
violation reports: ``csp``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from localcloud import health
from localcloud.edge import csp, logs, proxy, responses
from localcloud.edge.cache import EdgeCache
from localcloud.edge.exchange import Exchange, Receive, Scope, Send, access_record
from localcloud.edge.local import LocalRoutes
from localcloud.edge.origins import ApiOrigin, OriginError
from localcloud.edge.settings import EdgeSettings
from localcloud.edge.static import Buckets
from localcloud.edge.waf import Decision, Evaluator, WafRequest
from localcloud.settings import AwsMode, LocalCloudSettings
from reference.edge import behavior_for
from reference.waf import WEB_ACL, WebAcl

SERVICE_URL_PREFIX = "SHOP_SERVICE_"
log = logging.getLogger("localcloud.frontdoor")


def service_urls() -> dict[str, str]:
    """The services the supervisor started, from their ``SHOP_SERVICE_<NAME>_URL`` variables."""
    return {
        key[len(SERVICE_URL_PREFIX) : -len("_URL")].lower(): value
        for key, value in os.environ.items()
        if key.startswith(SERVICE_URL_PREFIX) and key.endswith("_URL")
    }


def create_app(
    settings: LocalCloudSettings | None = None,
    edge: EdgeSettings | None = None,
    *,
    acl: WebAcl = WEB_ACL,
    services: dict[str, str] | None = None,
) -> FrontDoor:
    """Build the front door; nothing connects until it starts serving."""
    return FrontDoor(settings or LocalCloudSettings(), edge or EdgeSettings(), acl, services)


class FrontDoor:
    """The ASGI application (plain ASGI: no framework between the viewer and the edge's own work)."""

    def __init__(self, settings: LocalCloudSettings, edge: EdgeSettings, acl: WebAcl, services: dict[str, str] | None):
        self.settings, self.edge, self.acl = settings, edge, acl
        self.services = service_urls() if services is None else services
        self.waf = Evaluator(acl, rate_limit=edge.waf_rate_limit) if edge.waf_enabled else None
        self.metrics = logs.WafMetrics(acl)
        self.access_log = logs.AccessLog(edge.access_log, logs.edge_shipper(settings))  # + the edge-logs stream
        self.waf_log = logs.LineFile(edge.waf_log)
        self.cache = EdgeCache(edge.cache_bytes)
        self.buckets = Buckets(self.cache)
        self.local = LocalRoutes(settings, self.services, self.metrics, self.cache)
        self.csp_reports = csp.CspReports()
        gateway = self.services.get("gateway")
        self.api = ApiOrigin(gateway, edge.origin_timeout_s) if gateway else None
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ lifespan

    async def startup(self) -> None:
        endpoint = str(self.settings.aws_endpoint_url) if self.settings.aws_endpoint_url else None
        self.buckets.connect(health.aws_client("s3", endpoint_url=endpoint, region=self.settings.aws_region),
                             self.settings.stage)  # fmt: skip
        if self.api is not None:
            await self.api.start()
        await self.local.start()
        self._tasks.append(asyncio.create_task(self._flush_logs()))
        if self.edge.metrics_interval_s and endpoint and self.settings.aws_mode is AwsMode.EMULATOR:
            self._tasks.append(asyncio.create_task(self._push_metrics(endpoint)))

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.access_log.close()
        self.waf_log.flush()
        if self.api is not None:
            await self.api.close()
        await self.local.close()

    async def _flush_logs(self) -> None:
        while True:
            await asyncio.sleep(self.edge.log_flush_s)
            self.access_log.flush()
            self.waf_log.flush()

    async def _push_metrics(self, endpoint: str) -> None:
        """The emulator's CloudWatch gets the per-rule counts in batches, as WAF publishes them once a minute."""
        cloudwatch = health.aws_client("cloudwatch", endpoint_url=endpoint, region=self.settings.aws_region)
        while True:
            await asyncio.sleep(self.edge.metrics_interval_s)
            data = self.metrics.unsent()
            for i in range(0, len(data), 1000):
                try:
                    await asyncio.to_thread(
                        cloudwatch.put_metric_data, Namespace=self.metrics.NAMESPACE, MetricData=data[i : i + 1000]
                    )
                except Exception as exc:  # noqa: BLE001 - the emulator being down must not take the edge with it
                    log.warning("PutMetricData failed: %s", exc)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            path = scope["path"]
            if path == "/healthz":
                await self.local.healthz(send)
            elif path == csp.PATH:
                await self.csp_reports(scope, receive, send)
            elif path.startswith("/_edge/"):
                await self.local.edge(scope, receive, send)
            else:
                await self._viewer(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ------------------------------------------------------------------ viewer requests

    async def _viewer(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        hmap = dict(headers)
        peer = scope["client"][0] if scope.get("client") else "127.0.0.1"
        client_ip = (hmap.get(self.edge.client_ip_header) if self.edge.client_ip_header else None) or peer
        country = hmap.get(self.edge.country_header, "").strip().upper() or None
        ex = Exchange(scope, headers, client_ip, country)
        location = self.edge.location
        try:
            body = await responses.read_body(receive)
        except responses.TooLarge:
            await responses.problem(send, ex, 413, "Request body too large", "the edge accepts bodies up to 10 MiB",
                                    location)  # fmt: skip
            return self._log(ex)
        ex.body_len = len(body)
        method, path = scope["method"], scope["path"]
        behavior = behavior_for(path)
        ex.behavior = behavior.path or "*"
        if self.waf is not None:
            raw_path = (scope.get("raw_path") or path.encode()).decode("latin-1")
            query = scope["query_string"].decode("latin-1")
            request = WafRequest(method, raw_path, query, headers, body, client_ip, country, ex.request_id)
            decision = self.waf.evaluate(request)
            self._record(decision, request)
            if decision.blocked:
                ex.detailed = "Error"
                await responses.blocked(send, ex, hmap, location)
                return self._log(ex)
        if method not in behavior.methods:
            detail = f"{ex.behavior} takes {behavior.methods}"
            await responses.problem(send, ex, 403, "Method not allowed here", detail, location)
            return self._log(ex)
        try:
            if behavior.origin == "api":
                await proxy.from_api(self.api, scope, send, ex, body, hmap, location)
            else:
                await self.buckets.serve(scope, send, ex, behavior, hmap, location)
        except OriginError as exc:
            title = "Bad gateway" if exc.status == 502 else "Gateway timeout"
            await responses.problem(send, ex, exc.status, title, exc.detail, location)
        self._log(ex)

    def _record(self, decision: Decision, request: WafRequest) -> None:
        self.metrics.record(decision)
        if decision.blocked or decision.counted:
            self.waf_log.add(logs.dumps(logs.waf_log_record(self.acl, decision, request)))

    def _log(self, ex: Exchange) -> None:
        if self.access_log.path is None:
            return
        self.access_log.add(logs.access_line(access_record(ex, self.edge.location)))
