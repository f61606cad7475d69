"""Helpers of the catalog tests: identities, seeding through the service's store, SQL behind its back."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI

from services.catalog import seed_data

ADMIN = {"X-Shop-User": "admin-sub", "X-Shop-Email": "admin@example.com", "X-Shop-Groups": "admin"}
SHOPPER = {"X-Shop-User": "shopper-sub", "X-Shop-Email": "shopper@example.com", "X-Shop-Groups": ""}


async def seed(app: FastAPI, count: int = 60) -> list[seed_data.NewProduct]:
    """Put ``count`` products of the deterministic catalog in through the service's own store."""
    products = seed_data.products(count)
    await app.state.catalog.store.seed(seed_data.categories(), products)
    await app.state.catalog.cache.invalidate()
    return products


async def add_product(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"sku": "SKU-1", "name": "Test Kettle", "price_minor": 1999, "category": "kitchen", "stock": 5} | fields
    r = await client.post("/catalog/products", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()


def sql(pg_url: str, query: str, *params: object) -> list[tuple]:
    """Run SQL on the test's database behind the service's back (to inspect or to tamper)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("set search_path to catalog")
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


async def seed_products(database: Any, count: int, on_hand: int) -> list[str]:
    """``count`` fresh products with ``on_hand`` units each, written through the service's store."""
    from services.catalog.adapters.postgres import PostgresCatalog
    from services.catalog.domain import Category, NewProduct

    ids = [f"p-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    products = [NewProduct(i, i.upper(), f"Item {i}", "", 100, "USD", "kitchen", stock=on_hand) for i in ids]
    await PostgresCatalog(database).seed([Category("kitchen", "Kitchen")], products)
    return ids
