"""The catalog's public reads: categories, listings (filter, pages, orders), product pages, 404s and 422s."""

from __future__ import annotations

from importlib.resources import files

import psycopg
import pytest
from alembic.script import ScriptDirectory
from catalog_support import seed, sql

from services.catalog.adapters.postgres import SCHEMA
from services.common import db

pytest_plugins = ("catalog_fixtures",)  # the catalog fixtures
pytestmark = pytest.mark.usefixtures("catalog_settings")


def test_migrations_create_the_catalog_schema_in_an_empty_database_and_rerun_as_a_no_op(pg_url):
    url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    db.migrate("services.catalog", url, SCHEMA)
    db.migrate("services.catalog", url, SCHEMA)
    with psycopg.connect(pg_url) as conn:
        tables = {
            r[0]
            for r in conn.execute("select table_name from information_schema.tables where table_schema = 'catalog'")
        }
        version = conn.execute("select version_num from catalog.alembic_version").fetchall()
    assert {"categories", "products", "inventory", "reservations", "reservation_lines", "outbox"} <= tables
    head = ScriptDirectory(str(files("services.catalog") / "migrations")).get_current_head()
    assert version == [(head,)]


async def test_categories_are_listed_with_their_product_counts(client, catalog_app):
    await seed(catalog_app, 24)
    r = await client.get("/catalog/categories")
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 12
    assert {c["product_count"] for c in items} == {2}
    kitchen = (await client.get("/catalog/categories/kitchen")).json()
    assert kitchen == {"slug": "kitchen", "name": "Kitchen & Dining", "product_count": 2}


async def test_paging_through_a_listing_shows_every_product_exactly_once(client, catalog_app):
    products = await seed(catalog_app, 60)
    seen = []
    for page in (1, 2, 3):
        body = (await client.get("/catalog/products", params={"page": page, "page_size": 25})).json()
        assert (body["total"], body["pages"], body["page"]) == (60, 3, page)
        seen += [p["id"] for p in body["items"]]
    assert len(seen) == 60
    assert set(seen) == {p.id for p in products}
    past_the_end = (await client.get("/catalog/products", params={"page": 9, "page_size": 25})).json()
    assert (past_the_end["items"], past_the_end["total"]) == ([], 60)


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [("name", "name", False), ("price", "price_minor", False), ("-price", "price_minor", True)],
)
async def test_listings_come_in_the_order_asked_for(client, catalog_app, sort, key, reverse):
    await seed(catalog_app, 40)
    items = (await client.get("/catalog/products", params={"sort": sort, "page_size": 40})).json()["items"]
    values = [i[key] for i in items]
    assert values == sorted(values, reverse=reverse)
    assert len(set(values)) > 10  # the order is not trivially true


async def test_newest_first_lists_the_latest_created_product_first(client, catalog_app, pg_url):
    products = await seed(catalog_app, 30)
    newest = max(products, key=lambda p: p.created_at)
    items = (await client.get("/catalog/products", params={"sort": "newest", "page_size": 5})).json()["items"]
    assert items[0]["id"] == newest.id
    created = dict(sql(pg_url, "select id, created_at from products"))
    assert [created[i["id"]] for i in items] == sorted((created[i["id"]] for i in items), reverse=True)


async def test_a_category_filter_lists_only_that_categorys_products(client, catalog_app):
    products = await seed(catalog_app, 48)
    body = (await client.get("/catalog/products", params={"category": "shoes", "page_size": 100})).json()
    assert body["total"] == 4
    assert {i["id"] for i in body["items"]} == {p.id for p in products if p.category == "shoes"}
    assert {i["category"] for i in body["items"]} == {"shoes"}


async def test_a_product_page_shows_price_attributes_category_image_and_availability(client, catalog_app):
    products = await seed(catalog_app, 12)
    product = next(p for p in products if p.stock > 0)
    body = (await client.get(f"/catalog/products/{product.id}")).json()
    assert body["name"] == product.name
    assert (body["price_minor"], body["currency"]) == (product.price_minor, "USD")
    assert body["category"]["slug"] == product.category
    assert body["attributes"] == product.attributes
    assert body["availability"] == {"in_stock": True, "available": product.stock}
    assert body["image_url"] == f"/media/products/{product.id}.svg"
    redirect = await client.get(f"/catalog/products/{product.id}/image")
    assert (redirect.status_code, redirect.headers["location"]) == (307, body["image_url"])


async def test_a_product_with_no_stock_shows_as_out_of_stock(client, catalog_app):
    products = await seed(catalog_app, 60)
    sold_out = next(p for p in products if p.stock == 0)
    body = (await client.get(f"/catalog/products/{sold_out.id}")).json()
    assert body["availability"] == {"in_stock": False, "available": 0}


@pytest.mark.parametrize(
    "path",
    [
        "/catalog/products/p-nope",
        "/catalog/categories/nope",
        "/catalog/products/p-nope/image",
        "/catalog/products?category=nope",
    ],
)
async def test_unknown_ids_are_404_problems(client, catalog_app, path):
    await seed(catalog_app, 12)
    r = await client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert "nope" in r.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 1000}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": "lots"}, "page_size"),
        ({"page": 0}, "page"),
        ({"sort": "random"}, "sort"),
    ],
)
async def test_bad_listing_parameters_are_422_problems_naming_the_field(client, params, field):
    r = await client.get("/catalog/products", params=params)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_the_service_is_ready_once_its_database_answers(client):
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"]["database"]["status"] == "up"
