"""Calls between services over real sockets: the chassis' client (httpx over aiohttp's pool, services/common/http.py).

The unit lane runs the client against in-process apps (httpx's ASGI transport); here it uses its own transport
on loopback, as the services do: a JSON round trip with the request id passed on, idempotent retries, and every
failure of the connection arriving as httpx's ``TransportError`` (never as aiohttp's), which is what the callers
catch (services/checkout/adapters/downstream.py, the gateway's upstream).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
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
