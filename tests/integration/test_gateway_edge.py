"""Rate limits and the anonymous cache, in the real Valkey; the gateway keeps serving when Redis is gone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from gateway_support import Echo, Pool, gateway_settings, running, sign_in

PRODUCT = "/api/catalog/products/42"


@pytest.fixture
def anonymous_pool(servers: Any) -> Pool:
    """Settings for tests that send no token: no user pool needs to exist."""
    return Pool("us-east-1_none", "none", servers.region, servers.aws.url)


async def test_a_burst_over_the_per_address_limit_gets_429_with_retry_after_and_recovers_after_the_window(
    anonymous_pool, redis_space
):
    settings = gateway_settings(anonymous_pool, redis_space.url, redis_space.prefix, rate_per_ip=3, rate_window_s=1)
    async with running(settings, Echo().app()) as (_, client):
        statuses = [(await client.get("/api/cart/current")).status_code for _ in range(4)]
        refused = await client.get("/api/cart/current")
        await asyncio.sleep(1.05)
        recovered = [(await client.get("/api/cart/current")).status_code for _ in range(3)]
    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["title"] == "Too many requests"
    assert recovered == [200, 200, 200]


async def test_the_limit_counts_the_address_the_front_door_saw_not_what_the_client_claims(anonymous_pool, redis_space):
    settings = gateway_settings(anonymous_pool, redis_space.url, redis_space.prefix, rate_per_ip=2, rate_window_s=60)
    async with running(settings, Echo().app()) as (_, client):

        async def get(forwarded_for: str) -> int:
            response = await client.get("/api/cart/current", headers={"X-Forwarded-For": forwarded_for})
            return response.status_code

        spoofing = [await get(f"10.0.0.{i}, 198.51.100.1") for i in range(3)]
        other_client = await get("198.51.100.2")
    assert spoofing == [200, 200, 429]
    assert other_client == 200


async def test_each_signed_in_user_has_a_budget_of_their_own(provisioned, aws, redis_space):
    pool = Pool(provisioned.user_pool_id, provisioned.user_pool_clients["web"], aws.region, aws.endpoint_url)
    idp = aws.client("cognito-idp")
    ada = sign_in(idp, pool.id, pool.client_id, "ada@example.com")["AccessToken"]
    bob = sign_in(idp, pool.id, pool.client_id, "bob@example.com")["AccessToken"]
    settings = gateway_settings(pool, redis_space.url, redis_space.prefix, rate_per_user=2, rate_window_s=60)
    async with running(settings, Echo().app()) as (_, client):

        async def get(token: str) -> int:
            response = await client.get("/api/me/profile", headers={"Authorization": f"Bearer {token}"})
            return response.status_code

        ada_statuses = [await get(ada) for _ in range(3)]
        bob_status = await get(bob)
    assert ada_statuses == [200, 200, 429]
    assert bob_status == 200


async def test_the_second_anonymous_get_of_a_product_is_served_from_the_cache(anonymous_pool, redis_space):
    echo = Echo()
    async with running(gateway_settings(anonymous_pool, redis_space.url, redis_space.prefix), echo.app()) as (_, c):
        first = await c.get(PRODUCT, params={"a": "1", "b": "2"})
        second = await c.get(PRODUCT, params={"b": "2", "a": "1"})
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert second.content == first.content
    assert second.headers["content-type"] == "application/json"
    assert len(echo.calls) == 1
    ttl = redis_space.client().ttl(f"{redis_space.prefix}cache:GET /catalog/products/42?a=1&b=2")
    assert 0 < ttl <= 30  # catalog's public_cache_s in reference/services.py


async def test_an_authenticated_get_is_never_cached(provisioned, aws, redis_space):
    pool = Pool(provisioned.user_pool_id, provisioned.user_pool_clients["web"], aws.region, aws.endpoint_url)
    token = sign_in(aws.client("cognito-idp"), pool.id, pool.client_id, "ada@example.com")["AccessToken"]
    echo = Echo()
    async with running(gateway_settings(pool, redis_space.url, redis_space.prefix), echo.app()) as (_, client):
        await client.get(PRODUCT)  # an anonymous copy is in the cache now
        responses = [await client.get(PRODUCT, headers={"Authorization": f"Bearer {token}"}) for _ in range(2)]
    assert [r.headers.get("x-cache") for r in responses] == [None, None]
    assert [call["headers"].get("x-shop-user") for call in echo.calls[1:]] == [
        responses[0].json()["headers"]["x-shop-user"]
    ] * 2


async def test_a_limit_too_large_to_count_in_milliseconds_still_admits_and_caches(anonymous_pool, redis_space):
    settings = gateway_settings(anonymous_pool, redis_space.url, redis_space.prefix, rate_per_ip=10**9)
    echo = Echo()
    async with running(settings, echo.app()) as (_, client):
        responses = [await client.get(PRODUCT) for _ in range(2)]
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT"]
    assert len(echo.calls) == 1


@pytest.mark.parametrize(
    "path",
    ["/api/catalog/products/missing", "/api/catalog/set-cookie", "/api/cart/current"],
    ids=["not a 200", "sets a cookie", "service with no public cache time"],
)
async def test_responses_that_must_not_be_shared_are_not_cached(anonymous_pool, redis_space, path):
    echo = Echo()
    async with running(gateway_settings(anonymous_pool, redis_space.url, redis_space.prefix), echo.app()) as (_, c):
        responses = [await c.get(path) for _ in range(2)]
    assert "HIT" not in [r.headers.get("x-cache") for r in responses]
    assert len(echo.calls) == 2


async def test_with_redis_down_the_gateway_serves_without_limits_or_cache_and_is_not_ready(
    anonymous_pool, redis_space, refused_port
):
    gone = f"redis://127.0.0.1:{refused_port}/0"
    settings = gateway_settings(anonymous_pool, gone, redis_space.prefix, rate_per_ip=1)
    echo = Echo()
    async with running(settings, echo.app()) as (_, client):
        statuses = [(await client.get(PRODUCT)).status_code for _ in range(3)]
        ready = await client.get("/readyz")
    assert statuses == [200, 200, 200]
    assert len(echo.calls) == 3
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"]["status"] == "down"
