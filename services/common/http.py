"""Calls between services: pooled, with timeouts, request ids passed on, retries on idempotent calls only."""

from __future__ import annotations

import aiohttp
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


class TracedTransport(httpx.AsyncBaseTransport):
    """A transport passing the trace on: every call carries the trace's headers (an unsampled request's, made
    once by its gate), and a kept request's calls are client spans (``telemetry.traced_call``). Used only when
    tracing is on: with it off, a client is the plain transport."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner
        self._send = inner.handle_async_request

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = telemetry.unsampled_headers()
        if headers is not None:  # most calls: an unsampled request's, no span
            request.headers.update(headers)
            return await self._send(request)
        return await telemetry.traced_call(request, self._send)

    async def __aenter__(self) -> TracedTransport:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inner.__aexit__(*exc)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        await self.inner.aclose()


class Transport(AiohttpTransport):
    """httpx-aiohttp's transport, its errors told apart as httpx's own transport tells them.

    httpx-aiohttp maps every failed connection to ``ConnectTimeout``: a refused connection (the gateway's 503) would
    read as a timeout (its 504), and a connection dropped after the request was sent as one never made. Here a
    connection that could not be made is ``ConnectError``, one the server closed before answering
    ``RemoteProtocolError``, one reset mid-way ``ReadError``; a real timeout stays what httpx-aiohttp says.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, TimeoutError) or not isinstance(cause, aiohttp.ClientConnectionError):
                raise
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(cause), request=request) from cause
            if isinstance(cause, aiohttp.ServerDisconnectedError):
                raise httpx.RemoteProtocolError(str(cause), request=request) from cause
            raise httpx.ReadError(str(cause), request=request) from cause


def client(
    base_url: str,
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    max_connections: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A pooled client for one downstream service: httpx's interface over aiohttp's connection pool.

    The transport is [httpx-aiohttp](https://pypi.org/project/httpx-aiohttp/)'s: a call costs the caller about half
    the CPU of httpx's own transport (issue 13, docs/commerce-core.md). Its errors arrive as httpx's (``Transport``):
    ``request`` retries idempotent calls on any of them; a POST is never retried here, whatever failed (its retries
    are the caller's, with a key).

    With tracing on (``telemetry.setup`` ran before: the app factory calls it before any client is made) its calls
    carry the trace on and a kept request's are client spans (``TracedTransport``)."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    transport = transport or Transport(limits=limits)
    if telemetry.enabled():
        transport = TracedTransport(transport)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        limits=limits,
        transport=transport,
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
