"""Calls between services over real sockets: the chassis' client (``http.Client``, on aiohttp: services/common/http.py).

The unit lane runs the callers against in-process apps (an httpx client over httpx's ASGI transport); here the
client the services use runs on loopback: a JSON round trip with the request id passed on, idempotent retries, and every
failure of the connection arriving as httpx's ``TransportError`` (never as aiohttp's), which is what the callers
catch (services/checkout/adapters/downstream.py, the gateway's upstream).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator

import httpx
import pytest
import stamina
import uvicorn
from fastapi import FastAPI, Request, Response

from services.common import http
from services.common.context import REQUEST_ID_HEADER, request_id


@contextlib.asynccontextmanager
async def serving(app) -> AsyncIterator[str]:
    """``app`` on uvicorn on a free loopback port, in this event loop."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def no_backoff():
    stamina.set_testing(True, attempts=3)  # no sleeping between attempts
    yield
    stamina.set_testing(False)


async def test_a_json_call_carries_the_request_id_and_a_get_is_retried_until_it_answers(no_backoff):
    app, calls, seen = FastAPI(), {"GET": 0}, []

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        seen.append(request.headers.get(REQUEST_ID_HEADER))
        return {"got": await request.json()}

    @app.get("/flaky")
    async def flaky() -> Response:
        calls["GET"] += 1
        return Response(status_code=503 if calls["GET"] < 3 else 200)

    token = request_id.set("req-0123abcd")
    try:
        async with serving(app) as url, http.client(url) as c:
            posted = await http.request(c, "POST", "/echo", json={"sku": "p-1", "n": 2})
            got = await http.request(c, "GET", "/flaky")
    finally:
        request_id.reset(token)
    assert (posted.status_code, posted.json()) == (200, {"got": {"sku": "p-1", "n": 2}})
    assert seen == ["req-0123abcd"]
    assert (got.status_code, calls["GET"]) == (200, 3)


async def test_what_the_gateway_passes_on_arrives_as_sent_and_the_answer_reads_as_httpx_s():
    app, seen = FastAPI(), {}

    @app.get("/internal/products")
    async def products(request: Request) -> dict:
        seen["ids"] = request.query_params.getlist("ids")
        return {"ids": seen["ids"]}

    @app.get("/api/catalog/{rest:path}")
    async def page(request: Request) -> Response:
        seen["query"] = request.url.query
        seen["tags"] = request.headers.getlist("x-tag")
        return Response(b"{}", media_type="application/json", headers={"set-cookie": "a=1"})

    @app.get("/moved")
    async def moved() -> Response:
        return Response(status_code=307, headers={"location": "/elsewhere"})

    async with serving(app) as url, http.client(url) as c:
        listed = await http.request(c, "GET", "/internal/products", params={"ids": ["p-1", "p 2"]})
        proxied = await http.request(
            c, "GET", "/api/catalog/products?category=shoes&page=2", headers=[(b"x-tag", b"a"), (b"x-tag", b"b")]
        )
        redirect = await http.request(c, "GET", "/moved")
    assert listed.json() == {"ids": ["p-1", "p 2"]}
    assert seen["ids"] == ["p-1", "p 2"]
    assert (seen["query"], seen["tags"]) == ("category=shoes&page=2", ["a", "b"])  # a name given twice, twice
    assert (b"set-cookie", b"a=1") in proxied.headers.raw
    assert proxied.headers["content-type"] == "application/json"
    assert (redirect.status_code, redirect.headers["location"]) == (307, "/elsewhere")  # not followed: the caller's
    assert redirect.request.method == "GET"
    assert str(redirect.request.url).endswith("/moved")


async def test_a_kept_request_s_call_is_a_client_span_whose_id_the_callee_gets(monkeypatch):
    from opentelemetry import propagate, trace
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from services.common import telemetry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_provider", provider)  # tracing on, for this test only
    monkeypatch.setattr(propagate, "_HTTP_TEXT_FORMAT", CompositePropagator([TraceContextTextMapPropagator()]))
    app, seen = FastAPI(), []

    @app.post("/internal/payments/authorize")
    async def authorize(request: Request) -> Response:
        seen.append(request.headers.get("traceparent"))
        return Response(status_code=402)

    async with serving(app) as url, http.client(url) as c:
        with provider.get_tracer("t").start_as_current_span("checkout", kind=trace.SpanKind.SERVER):
            answer = await http.request(c, "POST", "/internal/payments/authorize", json={})
    call, _ = exporter.get_finished_spans()
    assert answer.status_code == 402
    assert (call.kind, call.name, call.attributes["http.response.status_code"]) == (trace.SpanKind.CLIENT, "POST", 402)
    assert call.attributes["server.address"] == "127.0.0.1"
    assert call.attributes["url.full"] == f"{url}/internal/payments/authorize"
    assert call.status.status_code is trace.StatusCode.ERROR  # a 4xx fails a client span
    _, trace_id, parent, flags = seen[0].split("-")
    assert (len(seen), trace_id, parent) == (1, f"{call.context.trace_id:032x}", f"{call.context.span_id:016x}")
    assert int(flags, 16) & 1  # sampled


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_refused_connection_is_a_connect_error_not_a_timeout(no_backoff):
    async with http.client(f"http://127.0.0.1:{_free_port()}") as c:
        for method in ("GET", "POST"):
            with pytest.raises(httpx.ConnectError):  # the gateway's 503 "not reachable", not its 504
                await http.request(c, method, "/x")


async def test_a_connection_dropped_before_the_answer_is_an_httpx_transport_error(no_backoff):
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request's head, then no answer at all
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with http.client(f"http://127.0.0.1:{port}") as c:
            with pytest.raises(httpx.TransportError) as raised:
                await http.request(c, "POST", "/x", json={})
    finally:
        server.close()
        await server.wait_closed()
    assert not isinstance(raised.value, httpx.TimeoutException)  # sent, then dropped: not a connect timeout


async def test_a_connection_reset_mid_answer_is_an_httpx_transport_error(no_backoff):
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{")  # part of the answer, then a reset
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with http.client(f"http://127.0.0.1:{port}") as c:
            with pytest.raises(httpx.TransportError):  # never aiohttp's own error: callers catch httpx's
                await http.request(c, "POST", "/x", json={})
    finally:
        server.close()
        await server.wait_closed()


async def test_a_server_that_never_answers_is_a_read_timeout(no_backoff):
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read()  # no answer: until the client gives up and closes

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    quick = httpx.Timeout(connect=1.0, read=0.2, write=1.0, pool=1.0)
    try:
        async with http.client(f"http://127.0.0.1:{port}", timeout=quick) as c:
            with pytest.raises(httpx.TimeoutException):
                await http.request(c, "POST", "/x", json={})
    finally:
        server.close()
        await server.wait_closed()
