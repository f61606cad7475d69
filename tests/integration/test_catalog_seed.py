"""The seed: a deterministic catalog of 1,200 products with images, idempotent, fast, behind the real service."""

from __future__ import annotations

import asyncio

import httpx
from asgi_lifespan import LifespanManager
from catalog_support import sql

from services.catalog import seed, seed_data
from services.catalog.app import create_app
from services.catalog.settings import CatalogSettings

STORED = (
    "select p.id, p.sku, p.attributes, p.created_at, p.image_key, i.on_hand"
    " from products p join inventory i on i.product_id = p.id"
)


def test_the_seed_fills_the_provisioned_stack_once_and_the_service_serves_it(
    provisioned, database_secret, redis_space, pg_url, aws
):
    settings = CatalogSettings(
        stage=aws.stage, redis_url=redis_space.url, cache_prefix=f"{redis_space.prefix}catalog:", sweep_interval_s=0
    )
    first = seed.run(settings)
    assert "1200 products (1200 new) in 12 categories (12 new), 1200 images (1200 uploaded)" in first
    ids = [row[0] for row in sql(pg_url, "select id from products order by id")]
    again = seed.run(settings)
    assert "1200 products (0 new) in 12 categories (0 new), 1200 images (0 uploaded)" in again
    assert [row[0] for row in sql(pg_url, "select id from products order by id")] == ids
    assert sorted(ids) == sorted(seed_data.product_id(i) for i in range(1200))  # the same ids on any machine
    assert sql(pg_url, "select count(*) from products where name like %s and name like %s", "%'%", '%"%')[0][0] > 0
    assert 0 < sql(pg_url, "select count(*) from inventory where on_hand = 0")[0][0] < 200
    # every column as generated: the JSON attributes as objects, the seed's own creation times, the stock
    written = {r[0]: r[1:] for r in sql(pg_url, STORED)}
    generated = seed_data.products(1200)
    assert written == {p.id: (p.sku, p.attributes, p.created_at, p.image_key, p.stock) for p in generated}

    categories, product = asyncio.run(_read(settings, ids[0]))
    assert len(categories) >= 10
    assert sum(cat["product_count"] for cat in categories) == 1200
    image = aws.client("s3").get_object(Bucket=provisioned.buckets["media"], Key=product["image_url"].lstrip("/"))
    assert image["ContentType"] == "image/svg+xml"
    assert b"<svg" in image["Body"].read()


async def _read(settings: CatalogSettings, product_id: str) -> tuple[list, dict]:
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        categories = (await c.get("/catalog/categories")).json()["items"]
        return categories, (await c.get(f"/catalog/products/{product_id}")).json()


def test_the_generated_catalog_is_the_same_every_time_and_reads_like_a_shop():
    first, second = seed_data.products(), seed_data.products()
    assert first == second
    assert len({p.id for p in first}) == len({p.sku for p in first}) == 1200
    assert len({p.category for p in first}) >= 10
    assert any("'" in p.name and '"' in p.name for p in first)
    assert all({"brand", "colour", "material"} <= set(p.attributes) for p in first)
