"""Routing follows reference/: each public prefix goes to its service, nothing else is reachable, outages are fast."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from gateway_support import Echo, Pool, gateway_settings, running

import reference.services
from reference.model import Service
from reference.services import SERVICES


@pytest.fixture
def pool(servers: Any) -> Pool:
    return Pool("us-east-1_none", "none", servers.region, servers.aws.url)


@pytest.fixture
def settings(pool: Pool, redis_space: Any) -> Any:
    return gateway_settings(pool, redis_space.url, redis_space.prefix)


@pytest.mark.parametrize(
    ("path", "service"),
    [("/api/catalog/products/1", "catalog"), ("/api/auth/sign-in", "profile"), ("/api/me", "profile"),
     ("/api/orders/o-1", "order"), ("/api/search/?q=boots", "search")],
)  # fmt: skip
async def test_each_public_prefix_reaches_the_service_that_owns_it_with_the_path_kept(settings, path, service):
    echo = Echo()
    async with running(settings, echo.app()) as (_, client):
        response = await client.get(path)
    assert response.status_code == 200
    call = echo.calls[0]
    assert call["host"] == f"127.0.0.1:{reference.services.service(service).port}"
    assert call["path"] + (f"?{call['query']}" if call["query"] else "") == path.removeprefix("/api")


async def test_a_prefix_added_to_the_reference_table_is_routed_without_gateway_changes(settings, monkeypatch):
    wishlist = Service("wishlist", "WISH", 8199, "wish lists", public_prefixes=("wishlist",), public_cache_s=5)
    monkeypatch.setattr(reference.services, "SERVICES", (*SERVICES, wishlist))
    echo = Echo()
    async with running(settings, echo.app()) as (_, client):
        first = await client.get("/api/wishlist/mine")
        second = await client.get("/api/wishlist/mine")
    assert first.status_code == 200
    assert echo.calls[0]["host"] == "127.0.0.1:8199"
    assert second.headers["x-cache"] == "HIT"


@pytest.mark.parametrize(
    "path",
    ["/api/nowhere/1", "/api/internal/stock", "/api/catalog/internal/stock", "/api/catalog/%2e%2e/internal/x",
     "/api/catalog/..%2Finternal", "/api/"],
)  # fmt: skip
async def test_unknown_prefixes_and_internal_paths_are_a_404_problem_and_reach_no_service(settings, path):
    echo = Echo()
    async with running(settings, echo.app()) as (_, client):
        response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert echo.calls == []


async def test_a_json_body_and_the_request_id_are_passed_on(settings):
    echo = Echo()
    async with running(settings, echo.app()) as (_, client):
        response = await client.post(
            "/api/cart/items", json={"sku": "A-1", "qty": 2}, headers={"X-Request-Id": "trace-0001-abc"}
        )
    assert response.status_code == 200
    assert echo.calls[0]["method"] == "POST"
    assert echo.calls[0]["body"] == '{"sku":"A-1","qty":2}'
    assert echo.calls[0]["headers"]["x-request-id"] == "trace-0001-abc"
    assert response.headers["x-request-id"] == "trace-0001-abc"


async def test_a_body_that_is_not_json_is_refused_with_415_before_any_service_sees_it(settings):
    echo = Echo()
    async with running(settings, echo.app()) as (_, client):
        response = await client.post("/api/cart/items", content=b"sku=A-1", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["field"] == "body"
    assert echo.calls == []


async def test_a_service_that_is_down_gives_a_503_problem(settings, monkeypatch, refused_port):
    monkeypatch.setenv("SHOP_SERVICE_CATALOG_URL", f"http://127.0.0.1:{refused_port}")
    async with running(settings) as (_, client):
        response = await client.get("/api/catalog/products/1")
    assert response.status_code == 503
    assert response.json()["detail"] == "the catalog service is not reachable"


async def test_a_service_that_hangs_gives_a_504_problem_after_the_timeout(settings, monkeypatch):
    connections = 0

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read(65536)
        await asyncio.sleep(30)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("SHOP_SERVICE_CATALOG_URL", f"http://127.0.0.1:{port}")
    quick = settings.model_copy(update={"upstream_read_timeout_s": 0.3, "upstream_attempts": 2})
    try:
        async with running(quick) as (_, client):
            response = await client.get("/api/catalog/products/1")
    finally:
        server.close()
    assert response.status_code == 504
    assert response.json()["title"] == "Gateway timeout"
    assert connections == 2  # two attempts (a GET is safe to retry), each given up after the read timeout


async def test_readyz_names_the_jwks_when_the_signing_keys_cannot_be_fetched(settings, refused_port):
    unreachable = settings.model_copy(update={"jwks_url": f"http://127.0.0.1:{refused_port}/jwks.json"})
    async with running(unreachable) as (_, client):
        response = await client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert (checks["redis"]["status"], checks["jwks"]["status"]) == ("up", "down")


async def test_readyz_is_200_when_redis_and_the_jwks_answer(provisioned, aws, redis_space):
    pool = Pool(provisioned.user_pool_id, provisioned.user_pool_clients["web"], aws.region, aws.endpoint_url)
    async with running(gateway_settings(pool, redis_space.url, redis_space.prefix)) as (_, client):
        response = await client.get("/readyz")
    assert response.status_code == 200, response.json()


async def test_the_gateway_publishes_its_openapi_at_the_root_and_under_api(settings):
    async with running(settings, Echo().app()) as (_, client):  # no service document can be read from an echo
        root = await client.get("/openapi.json")
        through_front_door = await client.get("/api/openapi.json")
    assert root.status_code == through_front_door.status_code == 200
    assert "/api/{path}" in root.json()["paths"]  # the generic operations stand in for the services meanwhile
    assert "not yet read from: catalog" in root.json()["info"]["description"]
    assert through_front_door.json() == root.json()


async def test_a_slow_checkout_is_outwaited_while_other_services_get_the_default_timeout(settings, monkeypatch):
    """reference/ gives checkout a longer gateway timeout: a saga slower than the default is not a 504."""

    async def answer_after(delay_s: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(delay_s)
        body = b'{"status": "completed"}'
        writer.write(
            b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()
        writer.close()

    slow = await asyncio.start_server(lambda r, w: answer_after(0.6, r, w), "127.0.0.1", 0)
    for service in ("checkout", "catalog"):
        monkeypatch.setenv(
            f"SHOP_SERVICE_{service.upper()}_URL", f"http://127.0.0.1:{slow.sockets[0].getsockname()[1]}"
        )
    quick = settings.model_copy(update={"upstream_read_timeout_s": 0.3, "upstream_attempts": 1})
    try:
        async with running(quick) as (_, client):
            checkout = await client.post("/api/checkout", json={})
            catalog = await client.get("/api/catalog/products/1")
    finally:
        slow.close()
    assert (checkout.status_code, catalog.status_code) == (201, 504)
