"""Catalog writes reach the search index through the outbox, SNS and SQS, and a reindex rebuilds it from the tables.

The real catalog (with its relay) and the real search service (with its indexer) run against
the provisioned emulator and the test's own PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from dataclasses import replace

import httpx
import pytest
from asgi_lifespan import LifespanManager
from catalog_support import ADMIN, seed

from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.search import reindex as module
from services.search.adapters.tantivy_index import TantivyIndex
from services.search.app import create_app as create_search
from services.search.domain import make_query
from services.search.reindex import reindex
from services.search.settings import SearchSettings


class Stack:
    def __init__(self, catalog: httpx.AsyncClient, index: TantivyIndex, url: str):
        self.catalog, self.index, self.url = catalog, index, url

    async def ids(self, q: str) -> list[str]:
        return [d.product_id for d in (await self.index.search(make_query(q))).items]

    async def until(self, check, timeout_s: float = 15.0) -> float:
        """Seconds until ``check()`` holds (fails the test after ``timeout_s``)."""
        start = time.perf_counter()
        while not await check():
            assert time.perf_counter() - start < timeout_s, "the index did not catch up in time"
            await asyncio.sleep(0.05)
        return time.perf_counter() - start


@pytest.fixture
async def stack(provisioned, database_secret, redis_space, pg_url):
    catalog_settings = CatalogSettings(
        redis_url=redis_space.url, cache_prefix=redis_space.prefix, sweep_interval_s=0, relay_idle_s=0.05
    )
    index = TantivyIndex(None, reload_s=0)
    search = create_search(SearchSettings(consumer_wait_s=1, index_dir=":memory:"), index=index)
    catalog = create_catalog(catalog_settings)
    async with LifespanManager(catalog), LifespanManager(search):
        await seed(catalog, 48)
        transport = httpx.ASGITransport(app=catalog)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
            yield Stack(client, index, pg_url.replace("postgresql://", "postgresql+psycopg://", 1))


async def test_a_reindex_reads_every_product_and_prints_its_progress(stack):
    out = io.StringIO()
    summary = await reindex(stack.index, stack.url, batch=20, out=out)
    assert await stack.index.count() == 48
    assert [line.split()[1] for line in out.getvalue().splitlines()] == ["20", "40", "48"]
    assert "48 products" in summary


async def test_a_renamed_product_is_findable_by_its_new_name_within_seconds(stack):
    await reindex(stack.index, stack.url, out=io.StringIO())
    product = (await stack.catalog.get("/catalog/products", params={"page_size": 1})).json()["items"][0]
    r = await stack.catalog.patch(
        f"/catalog/products/{product['id']}", json={"name": "Zanzibar Spice Grinder"}, headers=ADMIN
    )
    assert r.status_code == 200

    async def found() -> bool:
        return await stack.ids("zanzibar grinder") == [product["id"]]

    took = await stack.until(found)
    print(f"edit -> findable: {took:.2f} s")
    assert took < 5


async def test_new_sold_out_and_deleted_products_follow_the_catalog(stack):
    await reindex(stack.index, stack.url, out=io.StringIO())
    body = {"id": "p-lantern", "sku": "LAN-1", "name": "Quokka Lantern", "price_minor": 2999, "category": "outdoor"}
    r = await stack.catalog.post("/catalog/products", json=body | {"stock": 1}, headers=ADMIN)
    assert r.status_code == 201, r.text

    async def present() -> bool:
        return await stack.ids("quokka") == ["p-lantern"]

    await stack.until(present)
    hold = {"lines": [{"product_id": "p-lantern", "quantity": 1}]}
    assert (await stack.catalog.put("/internal/inventory/reservations/r-1", json=hold)).status_code == 201

    async def sold_out() -> bool:
        doc = await stack.index.get("p-lantern")
        return doc is not None and not doc.in_stock

    await stack.until(sold_out)
    assert (await stack.catalog.post("/internal/inventory/reservations/r-1/release")).status_code == 200

    async def back() -> bool:
        return (await stack.index.get("p-lantern")).in_stock

    await stack.until(back)
    assert (await stack.catalog.delete("/catalog/products/p-lantern", headers=ADMIN)).status_code == 204

    async def gone() -> bool:
        return await stack.ids("quokka") == []

    await stack.until(gone)


async def test_changes_made_during_a_reindex_are_not_lost(stack, monkeypatch):
    await reindex(stack.index, stack.url, out=io.StringIO())
    pid = (await stack.catalog.get("/catalog/products", params={"page_size": 1})).json()["items"][0]["id"]
    renamed = {"name": "Quetzal Teapot"}
    assert (await stack.catalog.patch(f"/catalog/products/{pid}", json=renamed, headers=ADMIN)).is_success

    async def found() -> bool:
        return await stack.ids("quetzal") == [pid]

    await stack.until(found)  # the event reached the index the reindex is about to replace...
    real_document, building = module.document, [True]

    def before_the_rename(row):  # ...and the new index is built from a snapshot taken before it
        doc = real_document(row)
        return replace(doc, name="Old Name", product_version=1) if building and doc.product_id == pid else doc

    async def rebuild(*args, **kwargs):
        try:
            return await real_rebuild(*args, **kwargs)
        finally:
            building.clear()

    real_rebuild = stack.index.rebuild
    monkeypatch.setattr(module, "document", before_the_rename)
    monkeypatch.setattr(stack.index, "rebuild", rebuild)
    await reindex(stack.index, stack.url, out=io.StringIO())
    assert await stack.ids("quetzal") == [pid]  # the catch-up after the swap applied the rename


async def test_the_search_service_stops_without_waiting_for_its_indexers_long_poll(provisioned):
    settings = SearchSettings(consumer_wait_s=20, index_dir=":memory:", shutdown_grace_s=1)
    app = create_search(settings, index=TantivyIndex(None, reload_s=0))
    async with LifespanManager(app, shutdown_timeout=10):
        consumer = app.state.indexer
        for _ in range(100):
            if consumer.source is not None and consumer._receiving:
                break
            await asyncio.sleep(0.1)
        assert consumer._receiving, "the indexer never started its long poll"
    polls = [t for t in threading.enumerate() if t.name == "sqs-long-poll" and t.is_alive()]
    assert polls, "the stop waited for the 20 s long poll to end"
