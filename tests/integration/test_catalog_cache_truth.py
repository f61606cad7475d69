"""Cache truth (issue 11): a stock change is visible to guests through the gateway within the bound reference/ states.

The real catalog (its Redis cache included) sits behind the real gateway (its Redis cache included). A
guest's product page is cached by both; after a stock change, every guest read sent once the bound has
passed shows the new stock, whether the catalog's invalidation ran or was missed (stock changed behind
the service's back).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from catalog_support import ADMIN, add_product, sql
from gateway_support import Pool, gateway_settings, running

from reference.services import STOCK_VISIBLE_S

pytest_plugins = ("catalog_fixtures",)

PAGE = "/api/catalog/products/p-kettle"


@pytest.fixture
def anonymous_pool(servers: Any) -> Pool:
    return Pool("us-east-1_none", "none", servers.region, servers.aws.url)


@pytest.fixture
async def kettle(client: httpx.AsyncClient) -> dict[str, Any]:
    """A product with 5 in stock."""
    r = await client.post("/catalog/categories", json={"slug": "kitchen", "name": "Kitchen"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return await add_product(client, id="p-kettle", stock=5)


async def reads_after(guest: httpx.AsyncClient, changed_at: float, until_s: float) -> list[tuple[float, int, str]]:
    """Guest reads of the page until ``until_s`` after the change: (seconds after the change it was sent, available,
    X-Cache)."""
    seen = []
    while (sent := time.monotonic() - changed_at) < until_s:
        r = await guest.get(PAGE)
        assert r.status_code == 200, r.text
        seen.append((sent, r.json()["availability"]["available"], r.headers["x-cache"]))
        await asyncio.sleep(0.2)
    return seen


async def warm(guest: httpx.AsyncClient) -> httpx.Response:
    """Two guest reads: the second is the gateway's cached copy of the first."""
    first, second = await guest.get(PAGE), await guest.get(PAGE)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    return second


async def test_a_product_page_says_it_may_be_shared_for_the_stock_bound_and_a_cached_copy_says_its_age(
    client, catalog_app, anonymous_pool, redis_space, kettle
):
    settings = gateway_settings(anonymous_pool, redis_space.url, redis_space.prefix)
    async with running(settings, catalog_app) as (_, guest):
        await guest.get(PAGE)
        await asyncio.sleep(1.1)
        cached = await guest.get(PAGE)
    assert cached.headers["x-cache"] == "HIT"
    assert cached.headers["cache-control"] == f"public, max-age={STOCK_VISIBLE_S}"
    assert 1 <= int(cached.headers["age"]) <= STOCK_VISIBLE_S
    listing = await client.get("/catalog/products")
    assert listing.headers["cache-control"] == "public, max-age=30"  # no stock in it: the gateway's ceiling
    written = await client.put("/catalog/products/p-kettle/stock", json={"on_hand": 4}, headers=ADMIN)
    assert written.headers["cache-control"] == "no-store"
    missing = await client.get("/catalog/products/p-none")
    assert (missing.status_code, missing.headers["cache-control"]) == (404, "no-store")


async def test_a_guest_sees_a_stock_change_within_the_bound_and_never_later(
    client, catalog_app, anonymous_pool, redis_space, kettle
):
    settings = gateway_settings(anonymous_pool, redis_space.url, redis_space.prefix)
    async with running(settings, catalog_app) as (_, guest):
        await warm(guest)
        r = await client.put("/catalog/products/p-kettle/stock", json={"on_hand": 2}, headers=ADMIN)
        assert r.status_code == 200, r.text
        changed_at = time.monotonic()
        seen = await reads_after(guest, changed_at, STOCK_VISIBLE_S + 1.5)
    assert seen[0][1:] == (5, "HIT"), "the gateway held no copy: this test would prove nothing"
    late = [(sent, available) for sent, available, _ in seen if sent >= STOCK_VISIBLE_S]
    assert late, "no read was sent after the bound"
    assert {available for _, available in late} == {2}, seen


async def test_the_bound_holds_even_when_the_catalog_misses_the_invalidation(
    client, catalog_app, anonymous_pool, redis_space, pg_url, kettle
):
    settings = gateway_settings(anonymous_pool, redis_space.url, redis_space.prefix)
    async with running(settings, catalog_app) as (_, guest):
        await warm(guest)
        sql(pg_url, "update inventory set on_hand = 1 where product_id = 'p-kettle'")  # no invalidation at all
        changed_at = time.monotonic()
        seen = await reads_after(guest, changed_at, STOCK_VISIBLE_S + 1.5)
    assert seen[0][1] == 5, "no cache held the old stock: this test would prove nothing"
    late = [(sent, available) for sent, available, _ in seen if sent >= STOCK_VISIBLE_S]
    assert late, "no read was sent after the bound"
    assert {available for _, available in late} == {1}, seen
