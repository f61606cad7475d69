"""The front door on :8080: the local stand-in for WAF + CloudFront (+ the ALB) in front of the shop.

Every viewer request goes through the web ACL first (reference/waf.py, evaluated by
localcloud.edge.waf), then to the behaviour reference/edge.py picks for its path:

- ``/api/*``: the API gateway service (the ALB origin), never cached (CachingDisabled);
- ``/media/*``: the media bucket, object key = the path without its leading slash;
- everything else: the static-site bucket (``/`` is index.html; a key the bucket lacks is
  index.html with 200, the distribution's custom error responses for a single-page app).

Bucket answers are cached as CloudFront does (localcloud.edge.cache); responses carry the
response headers policy's security headers and CloudFront's X-Cache, Via and X-Amz-Cf-* headers;
every request leaves an access line in CloudFront's real-time log format. Local-only routes:
``/healthz`` (every component and service), ``/_edge/waf/metrics``, ``/_edge/cache``,
``POST /_edge/invalidations``. See docs/edge.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp
from starlette.concurrency import run_in_threadpool

from localcloud import health
from localcloud.edge import logs
from localcloud.edge.cache import EdgeCache, Stored, cache_key, ttl
from localcloud.edge.origins import ApiOrigin, OriginError, S3Origin, Upstream
from localcloud.edge.settings import EdgeSettings
from localcloud.edge.waf import Decision, Evaluator, WafRequest, new_request_id
from localcloud.settings import AwsMode, LocalCloudSettings
from reference import physical_name
from reference.edge import (
    DEFAULT_ROOT_OBJECT,
    ERROR_CACHING_MIN_TTL,
    SPA_ERROR_CODES,
    SPA_PAGE,
    Behavior,
    behavior_for,
)
from reference.waf import WEB_ACL, WebAcl

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SERVICE_URL_PREFIX = "SHOP_SERVICE_"
MAX_BODY = 10 * 1024 * 1024  # larger viewer bodies get 413 before the WAF (CloudFront's own limit is higher)
log = logging.getLogger("localcloud.frontdoor")

NOT_PUBLISHED = b"""<!doctype html><html lang="en"><meta charset="utf-8"><title>The shop is not published yet</title>
<body style="font-family:system-ui;max-width:40em;margin:4em auto">
<h1>The storefront is not published yet</h1>
<p>The edge serves the single-page app from the static-site bucket, which has no <code>index.html</code>.
Publish it with <code>python -m storefront.publish</code> (it uploads <code>storefront/</code>), then reload.</p>
<p>The API answers meanwhile under <a href="/api/">/api/</a>;
the stack's status is at <a href="/healthz">/healthz</a>.</p>
</body></html>
"""


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


class Exchange:
    """What the access line of one request needs, filled in as the request goes."""

    __slots__ = ("behavior", "body_len", "client_ip", "content_len", "content_type", "country", "detailed",
                 "first_byte", "headers", "request_id", "result", "scope", "sent", "started", "status")  # fmt: skip

    def __init__(self, scope: Scope, headers: list[tuple[str, str]], client_ip: str, country: str | None):
        self.scope, self.headers, self.client_ip, self.country = scope, headers, client_ip, country
        self.started = time.perf_counter()
        self.first_byte = 0.0
        self.status = 0
        self.sent = 0
        self.content_type = self.content_len = ""
        self.result = self.detailed = "Miss"
        self.behavior = "*"
        self.request_id = new_request_id()
        self.body_len = 0


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
        self.probes = _probes(settings)
        gateway = self.services.get("gateway")
        self.api = ApiOrigin(gateway, edge.origin_timeout_s) if gateway else None
        self.buckets: dict[str, S3Origin] = {}
        self.session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ lifespan

    async def startup(self) -> None:
        endpoint = str(self.settings.aws_endpoint_url) if self.settings.aws_endpoint_url else None
        s3 = health.aws_client("s3", endpoint_url=endpoint, region=self.settings.aws_region)
        for origin, role in (("static", "static-site"), ("media", "media")):
            self.buckets[origin] = S3Origin(s3, physical_name(role, self.settings.stage))
        if self.api is not None:
            await self.api.start()
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        self._tasks.append(asyncio.create_task(self._flush_logs()))
        if self.edge.metrics_interval_s and endpoint and self.settings.aws_mode is AwsMode.EMULATOR:
            self._tasks.append(asyncio.create_task(self._push_metrics(endpoint)))

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.access_log.flush()
        self.waf_log.flush()
        if self.api is not None:
            await self.api.close()
        if self.session is not None:
            await self.session.close()

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
                await self._healthz(send)
            elif path.startswith("/_edge/"):
                await self._local(scope, receive, send)
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
        try:
            body = await _read_body(receive)
        except _TooLarge:
            await self._error(send, ex, 413, "Request body too large", "the edge accepts bodies up to 10 MiB")
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
                await self._blocked(send, ex, decision, hmap)
                return self._log(ex)
        if method not in behavior.methods:
            await self._error(send, ex, 403, "Method not allowed here", f"{ex.behavior} takes {behavior.methods}")
            return self._log(ex)
        try:
            if behavior.origin == "api":
                await self._from_api(scope, send, ex, body, hmap)
            else:
                await self._from_bucket(scope, send, ex, behavior, hmap)
        except OriginError as exc:
            title = "Bad gateway" if exc.status == 502 else "Gateway timeout"
            await self._error(send, ex, exc.status, title, exc.detail)
        self._log(ex)

    def _record(self, decision: Decision, request: WafRequest) -> None:
        self.metrics.record(decision)
        if decision.blocked or decision.counted:
            self.waf_log.add(logs.dumps(logs.waf_log_record(self.acl, decision, request)))

    async def _from_api(self, scope: Scope, send: Send, ex: Exchange, body: bytes, hmap: dict[str, str]) -> None:
        if self.api is None:
            await self._error(send, ex, 502, "Bad gateway", "the API gateway service is not running")
            return
        forwarded_for = ", ".join(filter(None, [hmap.get("x-forwarded-for"), ex.client_ip]))
        out = [(k, v) for k, v in ex.headers if k not in _NOT_FORWARDED]
        out += [("x-forwarded-for", forwarded_for), ("x-forwarded-proto", scope.get("scheme", "http")),
                ("via", f"1.1 {self.edge.location}.local (CloudFront)"), ("x-amz-cf-id", ex.request_id)]  # fmt: skip
        if ex.country:
            out.append(("cloudfront-viewer-country", ex.country))
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope["query_string"].decode("latin-1")
        upstream = await self.api.send(scope["method"], raw_path + (f"?{query}" if query else ""), out, body)
        ex.result = ex.detailed = "Error" if upstream.status >= 400 else "Miss"
        await self._send_upstream(send, ex, upstream)

    async def _send_upstream(self, send: Send, ex: Exchange, up: Upstream) -> None:
        headers = self._edge_headers(up.headers, ex, age=None)
        if up.body is not None:
            await self._start(send, ex, up.status, [*headers, ("content-length", str(len(up.body)))])
            await self._body(send, ex, up.body)
            return
        try:
            await self._start(send, ex, up.status, headers)
            assert up.chunks is not None
            async for chunk in up.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                ex.sent += len(chunk)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            up.release()

    async def _from_bucket(
        self, scope: Scope, send: Send, ex: Exchange, behavior: Behavior, hmap: dict[str, str]
    ) -> None:
        policy = behavior.cache_policy
        path = scope["path"]
        key = cache_key(policy, path, scope["query_string"].decode("latin-1"), hmap)
        entry = self.cache.get(key) if key is not None else None
        age: int | None = None
        if entry is not None:
            ex.result = ex.detailed = "Hit"
            age = self.cache.age(entry)
        else:

            async def fetch() -> tuple[Stored, float]:
                return await self._bucket_object(behavior, path)

            if key is None:
                entry, ttl_s = await fetch()
            else:
                (entry, ttl_s), fetched = await self.cache.fetch_once(key, fetch)
                if fetched:
                    self.cache.put(key, entry, ttl_s)
            ex.result = ex.detailed = "Miss" if entry.status < 400 else "Error"
        headers = self._edge_headers(entry.headers, ex, age)
        etag = entry.header("etag")
        if entry.status == 200 and etag and _matches(hmap.get("if-none-match"), etag):
            await self._start(send, ex, 304, [h for h in headers if h[0] != "content-type"])
            await self._body(send, ex, b"")
            return
        await self._start(send, ex, entry.status, [*headers, ("content-length", str(len(entry.body)))])
        await self._body(send, ex, b"" if scope["method"] == "HEAD" else entry.body)

    async def _bucket_object(self, behavior: Behavior, path: str) -> tuple[Stored, float]:
        """The object for a path and how long to cache it; the static site falls back to index.html."""
        bucket = self.buckets[behavior.origin]
        key = path.lstrip("/") or DEFAULT_ROOT_OBJECT
        stored = await bucket.get(key)
        if stored.status == 200:
            return stored, ttl(behavior.cache_policy, stored.header("cache-control"))
        if behavior.origin == "media":
            body = json.dumps({"type": "about:blank", "title": "Not found", "status": 404, "detail": f"no {key}"})
            return Stored(404, [("content-type", "application/problem+json")], body.encode()), ERROR_CACHING_MIN_TTL
        if stored.status in SPA_ERROR_CODES:
            page = await bucket.get(SPA_PAGE.lstrip("/"))
            if page.status == 200:
                return Stored(200, page.headers, page.body), float(ERROR_CACHING_MIN_TTL)
            # Not cached: the page must go as soon as the storefront is published.
            return Stored(404, [("content-type", "text/html; charset=utf-8")], NOT_PUBLISHED), 0.0
        return stored, 0.0

    def _edge_headers(self, origin: list[tuple[str, str]], ex: Exchange, age: int | None) -> list[tuple[str, str]]:
        """The origin's headers plus the response headers policy and CloudFront's own headers."""
        policy = behavior_for(ex.scope["path"]).response_headers
        present = {k for k, _ in origin}
        names = {k for k, _ in policy.headers} if policy.override else set()
        out = [(k, v) for k, v in origin if k != "content-length" and k not in names]
        out += [(k, v) for k, v in policy.headers if policy.override or k not in present]
        out += [("x-cache", f"{ex.result} from cloudfront"), ("via", f"1.1 {self.edge.location}.local (CloudFront)"),
                ("x-amz-cf-pop", self.edge.location), ("x-amz-cf-id", ex.request_id)]  # fmt: skip
        if age is not None:
            out.append(("age", str(age)))
        return out

    async def _blocked(self, send: Send, ex: Exchange, decision: Decision, hmap: dict[str, str]) -> None:
        """WAF's block: 403 and CloudFront's error page naming the request id."""
        ex.result = "Error"
        if "json" in hmap.get("accept", ""):
            body = json.dumps({"type": "about:blank", "title": "Request blocked", "status": 403,
                               "detail": "The request was blocked by the web application firewall.",
                               "requestId": ex.request_id}).encode()  # fmt: skip
            content_type = "application/problem+json"
        else:
            body = _CLOUDFRONT_403.format(request_id=ex.request_id).encode()
            content_type = "text/html"
        headers = self._edge_headers([("content-type", content_type)], ex, None)
        await self._start(send, ex, 403, [*headers, ("content-length", str(len(body)))])
        await self._body(send, ex, body)

    async def _error(self, send: Send, ex: Exchange, status: int, title: str, detail: str) -> None:
        ex.result = ex.detailed = "Error"
        body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail,
                           "requestId": ex.request_id}).encode()  # fmt: skip
        headers = self._edge_headers([("content-type", "application/problem+json")], ex, None)
        await self._start(send, ex, status, [*headers, ("content-length", str(len(body)))])
        await self._body(send, ex, body)

    async def _start(self, send: Send, ex: Exchange, status: int, headers: list[tuple[str, str]]) -> None:
        ex.status = status
        ex.first_byte = time.perf_counter()
        for k, v in headers:
            if k == "content-type":
                ex.content_type = v
            elif k == "content-length":
                ex.content_len = v
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        ex.sent += sum(len(k) + len(v) + 4 for k, v in raw) + 17
        await send({"type": "http.response.start", "status": status, "headers": raw})

    @staticmethod
    async def _body(send: Send, ex: Exchange, body: bytes) -> None:
        ex.sent += len(body)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def _log(self, ex: Exchange) -> None:
        if self.access_log.path is None:
            return
        self.access_log.add(logs.access_line(access_record(ex, self.edge.location)))

    # ------------------------------------------------------------------ local-only routes

    async def _healthz(self, send: Send) -> None:
        components = await run_in_threadpool(health.check, self.probes)
        statuses = {name: await self._service_health(url) for name, url in self.services.items()}
        ok = all(c["status"] == "up" for c in (*components.values(), *statuses.values()))
        body = {"status": "ok" if ok else "degraded", "stage": self.settings.stage, "components": components}
        body["services"] = statuses
        await _json(send, 200 if ok else 503, body)

    async def _service_health(self, url: str) -> dict[str, object]:
        assert self.session is not None
        try:
            async with self.session.get(f"{url}/healthz") as response:
                return {"status": "up" if response.status == 200 else "down", "url": url}
        except (TimeoutError, aiohttp.ClientError) as exc:
            return {"status": "down", "url": url, "detail": type(exc).__name__}

    async def _local(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/_edge/waf/metrics" and method == "GET":
            await _json(send, 200, self.metrics.snapshot())
        elif path == "/_edge/cache" and method == "GET":
            await _json(send, 200, {"objects": len(self.cache), "bytes": self.cache.bytes})
        elif path == "/_edge/invalidations" and method == "POST":
            # CloudFront's CreateInvalidation: {"paths": ["/index.html", "/js/*"]}
            try:
                paths = json.loads(await _read_body(receive) or b"{}").get("paths", [])
            except (ValueError, AttributeError, _TooLarge):
                paths = None
            if not isinstance(paths, list) or not all(isinstance(p, str) and p.startswith("/") for p in paths):
                await _json(send, 400, {"title": "Bad request", "status": 400, "detail": 'send {"paths": ["/..."]}'})
                return
            await _json(send, 201, {"paths": paths, "invalidated": self.cache.invalidate(paths)})
        else:
            await _json(send, 404, {"title": "Not found", "status": 404, "detail": f"no local edge route {path}"})


_NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding",
     "upgrade", "host", "content-length", "x-forwarded-for", "x-forwarded-proto", "via"}
)  # fmt: skip
_CLOUDFRONT_403 = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">
<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">
<TITLE>ERROR: The request could not be satisfied</TITLE>
</HEAD><BODY>
<H1>403 ERROR</H1>
<H2>The request could not be satisfied.</H2>
<HR noshade size="1px">
Request blocked.
We can't connect to the server for this app or website at this time. There might be too much traffic or a configuration
error. Try again later, or contact the app or website owner.
<BR clear="all">
<HR noshade size="1px">
<PRE>
Generated by cloudfront (CloudFront)
Request ID: {request_id}
</PRE>
<ADDRESS>
</ADDRESS>
</BODY></HTML>"""


def access_record(ex: Exchange, location: str) -> dict[str, object]:
    """The real-time log fields of one exchange."""
    scope = ex.scope
    now = time.perf_counter()
    hmap = dict(ex.headers)
    server = scope.get("server") or ("", 0)
    client_port = scope["client"][1] if scope.get("client") else ""
    query = scope["query_string"].decode("latin-1")
    return {
        "timestamp": f"{time.time():.3f}",
        "c-ip": ex.client_ip,
        "time-to-first-byte": (ex.first_byte or now) - ex.started,
        "sc-status": ex.status,
        "sc-bytes": ex.sent,
        "cs-method": scope["method"],
        "cs-protocol": scope.get("scheme", "http"),
        "cs-host": hmap.get("host", f"{server[0]}:{server[1]}"),
        "cs-uri-stem": logs.encode(scope["path"]),
        "cs-bytes": ex.body_len + sum(len(k) + len(v) + 4 for k, v in ex.headers),
        "x-edge-location": location,
        "x-edge-request-id": ex.request_id,
        "x-host-header": hmap.get("host", ""),
        "time-taken": now - ex.started,
        "cs-protocol-version": f"HTTP/{scope.get('http_version', '1.1')}",
        "c-ip-version": "IPv6" if ":" in ex.client_ip else "IPv4",
        "cs-user-agent": logs.encode(hmap.get("user-agent", "")),
        "cs-referer": logs.encode(hmap.get("referer", "")),
        "cs-cookie": logs.encode(hmap.get("cookie", "")),
        "cs-uri-query": logs.encode(query),
        "x-edge-response-result-type": ex.result,
        "x-forwarded-for": hmap.get("x-forwarded-for", ""),
        "x-edge-result-type": ex.result,
        "sc-content-type": ex.content_type,
        "sc-content-len": ex.content_len,
        "c-port": client_port,
        "x-edge-detailed-result-type": ex.detailed,
        "c-country": ex.country or "",
        "cs-accept-encoding": logs.encode(hmap.get("accept-encoding", "")),
        "cs-accept": logs.encode(hmap.get("accept", "")),
        "cache-behavior-path-pattern": ex.behavior,
        "cs-headers": logs.encode("\n".join(f"{k}:{v}" for k, v in ex.headers)),
        "cs-header-names": logs.encode("\n".join(k for k, _ in ex.headers)),
        "cs-headers-count": len(ex.headers),
    }


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    bare = etag.removeprefix("W/")
    return any(t.strip() == "*" or t.strip().removeprefix("W/") == bare for t in if_none_match.split(","))


async def _json(send: Send, status: int, body: object) -> None:
    data = json.dumps(body).encode()
    content_type = b"application/json" if status < 400 else b"application/problem+json"
    headers = [(b"content-type", content_type), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


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
