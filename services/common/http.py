"""Calls between services: pooled, with timeouts, request ids passed on, retries on idempotent calls only."""

from __future__ import annotations

import httpx
import stamina
from httpx_aiohttp import AiohttpTransport

from services.common import telemetry
from services.common.context import REQUEST_ID_HEADER, request_id

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
DEFAULT_TIMEOUT = httpx.Timeout(connect=1.0, read=5.0, write=5.0, pool=2.0)


async def _add_request_id(request: httpx.Request) -> None:
    if REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id.get()
    # The trace's context, also where instrumentation is suppressed (an unsampled request, telemetry.TraceGate);
    # in a sampled one httpx's instrumentation then writes its client span's context over it.
    request.headers.update(telemetry.carrier())


def client(
    base_url: str,
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    max_connections: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A pooled client for one downstream service: httpx's interface over aiohttp's connection pool.

    The transport is [httpx-aiohttp](https://pypi.org/project/httpx-aiohttp/)'s: a call costs the caller about half
    the CPU of httpx's own transport (issue 13, docs/commerce-core.md). Its errors arrive as httpx's (a refused or
    dropped connection as ``ConnectTimeout``, a read timeout as ``ReadTimeout``): ``request`` retries idempotent
    calls on any of them; a POST is never retried here, whatever failed (its retries are the caller's, with a key).
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        limits=limits,
        transport=transport or AiohttpTransport(limits=limits),
        event_hooks={"request": [_add_request_id]},
    )


class RetryableStatus(Exception):
    def __init__(self, response: httpx.Response):
        super().__init__(f"{response.request.method} {response.request.url} answered {response.status_code}")
        self.response = response


async def request(
    http: httpx.AsyncClient, method: str, url: str, *, attempts: int = 3, **kwargs: object
) -> httpx.Response:
    """Send a request; idempotent ones are retried with jittered backoff on timeouts, 502, 503 and 504.

    Non-idempotent calls (POST, PATCH) are sent once: their retries are the caller's
    business, with an Idempotency-Key.
    """
    if method.upper() not in IDEMPOTENT:
        return await http.request(method, url, **kwargs)  # type: ignore[arg-type]
    try:
        async for attempt in stamina.retry_context(
            on=(httpx.TimeoutException, httpx.TransportError, RetryableStatus), attempts=attempts, timeout=10.0
        ):
            with attempt:
                response = await http.request(method, url, **kwargs)  # type: ignore[arg-type]
                if response.status_code in (502, 503, 504):
                    raise RetryableStatus(response)
                return response
    except RetryableStatus as exc:
        return exc.response
    raise AssertionError("unreachable")  # pragma: no cover
