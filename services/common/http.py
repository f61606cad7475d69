"""Calls between services: pooled, with timeouts, request ids passed on, retries on idempotent calls only."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp
import httpx
import stamina
from multidict import CIMultiDict
from yarl import URL

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


class Answer:
    """What a service answered a ``Client`` call: the part of httpx's ``Response`` the callers read (``status_code``,
    ``content``, ``json()``, ``text``, ``headers`` with ``.raw``, ``request``), read whole before it is returned."""

    __slots__ = ("_raw", "content", "method", "status_code", "url")

    def __init__(self, status_code: int, raw: Iterable[tuple[bytes, bytes]], content: bytes, method: str, url: URL):
        self.status_code, self.content, self._raw, self.method, self.url = status_code, content, raw, method, url

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def headers(self) -> httpx.Headers:
        return httpx.Headers(list(self._raw))

    @property
    def request(self) -> httpx.Request:
        return httpx.Request(self.method, str(self.url))

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class _Call:
    """A call as ``telemetry.traced_call`` reads it (method, URL, headers to add the trace's to)."""

    __slots__ = ("headers", "method", "url")

    def __init__(self, method: str, url: URL, headers: CIMultiDict[str]):
        self.method, self.url, self.headers = method, url, headers


class Client:
    """A pooled client for one downstream service on aiohttp, with httpx's errors and the answer's interface.

    ``request(method, url, json=, params=, headers=, content=)`` sends one call and returns an ``Answer`` read
    whole; a connection that could not be made raises ``httpx.ConnectError``, one the server closed before answering
    ``httpx.RemoteProtocolError``, one reset mid-way ``httpx.ReadError``, a timeout ``httpx.ConnectTimeout`` or
    ``httpx.ReadTimeout``: what the callers and ``request``'s retries catch, whichever client made the call. Every call
    carries the request id, and with tracing on the trace (a kept request's calls are client spans).

    Why not httpx (over aiohttp's pool, as before): httpx's request and response objects cost a call's caller more
    CPU than aiohttp's whole round trip (issue 13: ``nox -s bench -- clients``).
    """

    def __init__(self, base_url: str, *, timeout: httpx.Timeout = DEFAULT_TIMEOUT, max_connections: int = 100):
        self.base_url = base_url
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=(timeout.pool or 0) + (timeout.connect or 0) or None,
            sock_connect=timeout.connect,
            sock_read=timeout.read,
        )
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._traced = telemetry.enabled()

    @property
    def base_url(self) -> httpx.URL:
        return httpx.URL(self._base)

    @base_url.setter
    def base_url(self, url: str | httpx.URL) -> None:  # as httpx's client allows (a test points it elsewhere)
        self._base = str(url).rstrip("/")

    def _open(self) -> aiohttp.ClientSession:
        # Made on the first call, in the event loop that runs it (aiohttp binds a session to its loop).
        connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=self._max_connections)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Iterable[tuple[Any, Any]] | Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> Answer:
        target = URL(self._base + url, encoded=True)  # as the caller wrote it (the gateway: as the shopper sent it)
        if params:
            target = target.extend_query(_query(params))
        sent = _headers(headers)
        if REQUEST_ID_HEADER not in sent:
            sent[REQUEST_ID_HEADER] = request_id.get()
        body = content if json is None else _dumps(json).encode()
        if json is not None:
            sent.setdefault("content-type", "application/json")
        call = _Call(method, target, sent)
        if not self._traced:
            return await self._send(call, body)
        return await telemetry.traced_call(call, lambda c: self._send(c, body))

    async def _send(self, call: _Call, body: bytes | None) -> Answer:
        session = self._session or self._open()
        try:
            async with session.request(
                call.method, call.url, headers=call.headers, data=body, allow_redirects=False
            ) as answer:
                content = await answer.read()
                return Answer(answer.status, answer.raw_headers, content, call.method, call.url)
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc)) from exc
        except TimeoutError as exc:  # aiohttp's SocketTimeoutError (the read) and the total
            raise httpx.ReadTimeout(str(exc) or "no answer in time") from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc)) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:  # reset mid-way, a broken payload: any other failure of the call
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _query(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """httpx's way with a list value (``ids=a&ids=b``) and with None (left out)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for one in value if isinstance(value, list | tuple) else [value]:
            if one is not None:
                pairs.append((key, str(one)))
    return pairs


def _headers(given: Iterable[tuple[Any, Any]] | Mapping[str, str] | None) -> CIMultiDict[str]:
    """The caller's headers, a name given twice kept twice (the gateway passes a shopper's on as they came)."""
    out: CIMultiDict[str] = CIMultiDict()
    if given:
        for key, value in given.items() if isinstance(given, Mapping) else given:
            out.add(
                key.decode("latin-1") if isinstance(key, bytes) else key,
                value.decode("latin-1") if isinstance(value, bytes) else value,
            )
    return out


def client(
    base_url: str,
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    max_connections: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Client | httpx.AsyncClient:
    """A pooled client for one downstream service: ``Client``, on aiohttp (issue 13, docs/commerce-core.md).

    ``request`` retries idempotent calls on any of httpx's transport errors; a POST is never retried here, whatever
    failed (its retries are the caller's, with a key).

    Given a ``transport`` (tests: httpx's ASGI transport, an app in the same process), an httpx client over it, with
    the same request id and trace headers: the callers read either's answer the same way."""
    if transport is None:
        return Client(base_url, timeout=timeout, max_connections=max_connections)
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
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
    http: Client | httpx.AsyncClient, method: str, url: str, *, attempts: int = 3, **kwargs: object
) -> Answer | httpx.Response:
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
