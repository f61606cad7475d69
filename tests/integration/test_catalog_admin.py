"""Admin writes: only the admin role may write, bad input is a 4xx naming the field, nothing is half-written."""

from __future__ import annotations

import pytest
from catalog_support import ADMIN, SHOPPER, add_product, seed, sql

pytest_plugins = ("catalog_fixtures",)

WRITES = [
    ("POST", "/catalog/categories", {"slug": "hats", "name": "Hats"}),
    ("POST", "/catalog/products", {"sku": "X-1", "name": "Hat", "price_minor": 100, "category": "kitchen"}),
    ("PATCH", "/catalog/products/p-x", {"name": "Cap"}),
    ("DELETE", "/catalog/products/p-x", None),
    ("PUT", "/catalog/products/p-x/stock", {"on_hand": 3}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_writes_need_a_signed_in_admin(client, method, path, body):
    anonymous = await client.request(method, path, json=body)
    shopper = await client.request(method, path, json=body, headers=SHOPPER)
    assert (anonymous.status_code, shopper.status_code) == (401, 403)
    assert anonymous.headers["content-type"] == "application/problem+json"


async def test_an_image_upload_needs_an_admin_too(client):
    r = await client.put("/catalog/products/p-x/image", content=b"<svg/>", headers={"content-type": "image/svg+xml"})
    assert r.status_code == 401


async def test_an_admin_creates_a_category_and_a_product_that_shoppers_then_see(client):
    r = await client.post("/catalog/categories", json={"slug": "tea", "name": "Tea & Infusions"}, headers=ADMIN)
    assert r.status_code == 201
    created = await add_product(
        client,
        sku="TEA-1",
        name='Grandma\'s 1 lb "Earl Grey" Tin',
        category="tea",
        attributes={"brand": "O'Hara", "weight_g": 450, "organic": True},
        stock=7,
    )
    page = (await client.get(f"/catalog/products/{created['id']}")).json()
    assert page["name"] == 'Grandma\'s 1 lb "Earl Grey" Tin'
    assert page["attributes"] == {"brand": "O'Hara", "weight_g": 450, "organic": True}
    assert page["availability"] == {"in_stock": True, "available": 7}
    listing = (await client.get("/catalog/products", params={"category": "tea"})).json()
    assert [p["id"] for p in listing["items"]] == [created["id"]]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"price_minor": -1}, "price_minor"),
        ({"name": "x" * 201}, "name"),
        ({"name": "   "}, "name"),
        ({"stock": -3}, "stock"),
        ({"currency": "euro"}, "currency"),
        ({"attributes": {"colour": "x" * 201}}, "attributes"),
        ({"attributes": {"colour": {"nested": 1}}}, "attributes"),
        ({"category": "no-such-category"}, "category"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_a_bad_product_is_refused_naming_the_field_and_nothing_is_written(
    client, catalog_app, pg_url, fields, field
):
    await seed(catalog_app, 12)
    body = {"sku": "NEW-1", "name": "Kettle", "price_minor": 1999, "category": "kitchen", "stock": 1} | fields
    r = await client.post("/catalog/products", json=body, headers=ADMIN)
    assert r.status_code == 422
    assert field in [e["field"] for e in r.json()["errors"]]
    assert sql(pg_url, "select count(*) from products") == [(12,)]
    assert sql(pg_url, "select count(*) from inventory") == [(12,)]


async def test_a_taken_sku_is_a_409_naming_the_field(client, catalog_app):
    await seed(catalog_app, 12)
    await add_product(client, sku="DUP-1")
    r = await client.post(
        "/catalog/products", json={"sku": "DUP-1", "name": "B", "price_minor": 1, "category": "kitchen"}, headers=ADMIN
    )
    assert (r.status_code, r.json()["field"]) == (409, "sku")


async def test_an_update_changes_only_the_given_fields_and_refuses_nulls(client, catalog_app):
    await seed(catalog_app, 12)
    product = await add_product(client, description="kept")
    r = await client.patch(f"/catalog/products/{product['id']}", json={"price_minor": 2500}, headers=ADMIN)
    assert r.status_code == 200
    assert (r.json()["price_minor"], r.json()["description"]) == (2500, "kept")
    bad = await client.patch(f"/catalog/products/{product['id']}", json={"name": None}, headers=ADMIN)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "name")
    moved = await client.patch(f"/catalog/products/{product['id']}", json={"category": "nowhere"}, headers=ADMIN)
    assert (moved.status_code, moved.json()["field"]) == (422, "category")
    missing = await client.patch("/catalog/products/p-missing", json={"name": "x"}, headers=ADMIN)
    assert missing.status_code == 404


async def test_a_deleted_product_is_gone_from_pages_and_listings(client, catalog_app):
    await seed(catalog_app, 12)
    product = await add_product(client)
    assert (await client.get(f"/catalog/products/{product['id']}")).status_code == 200
    assert (await client.delete(f"/catalog/products/{product['id']}", headers=ADMIN)).status_code == 204
    assert (await client.get(f"/catalog/products/{product['id']}")).status_code == 404
    assert (await client.get("/catalog/products")).json()["total"] == 12
    assert (await client.delete(f"/catalog/products/{product['id']}", headers=ADMIN)).status_code == 404


async def test_stock_can_be_set_but_not_below_what_is_reserved(client, catalog_app):
    await seed(catalog_app, 12)
    product = await add_product(client, stock=5)
    stock_url = f"/catalog/products/{product['id']}/stock"
    hold = {"lines": [{"product_id": product["id"], "quantity": 3}]}
    assert (await client.put("/internal/inventory/reservations/order-1", json=hold)).status_code == 201
    low = await client.put(stock_url, json={"on_hand": 2}, headers=ADMIN)
    assert (low.status_code, low.json()["field"], low.json()["reserved"]) == (409, "on_hand", 3)
    negative = await client.put(stock_url, json={"on_hand": -1}, headers=ADMIN)
    assert (negative.status_code, negative.json()["errors"][0]["field"]) == (422, "on_hand")
    ok = await client.put(stock_url, json={"on_hand": 10}, headers=ADMIN)
    assert ok.json() == {"product_id": product["id"], "on_hand": 10, "reserved": 3, "in_stock": True, "available": 7}
    page = (await client.get(f"/catalog/products/{product['id']}")).json()
    assert page["availability"] == {"in_stock": True, "available": 7}
    held = await client.delete(f"/catalog/products/{product['id']}", headers=ADMIN)
    assert held.status_code == 409


# --------------------------------------------------------------------------- cache


async def test_a_product_page_is_served_from_redis_until_an_admin_update_invalidates_it(client, catalog_app, pg_url):
    await seed(catalog_app, 12)
    product = await add_product(client, price_minor=1000)
    first = await client.get(f"/catalog/products/{product['id']}")
    # Change the row behind the service's back: a cached page does not see it...
    sql(pg_url, "update products set price_minor = 1 where id = %s", product["id"])
    assert (await client.get(f"/catalog/products/{product['id']}")).content == first.content
    # ...and an admin update through the service is seen at once.
    await client.patch(f"/catalog/products/{product['id']}", json={"price_minor": 1500}, headers=ADMIN)
    assert (await client.get(f"/catalog/products/{product['id']}")).json()["price_minor"] == 1500


async def test_listings_are_cached_and_any_write_retires_them(client, catalog_app, pg_url):
    await seed(catalog_app, 12)
    before = (await client.get("/catalog/products", params={"category": "kitchen"})).json()
    sql(pg_url, "update products set name = 'Tampered' where category_slug = 'kitchen'")
    assert (await client.get("/catalog/products", params={"category": "kitchen"})).json() == before
    await add_product(client, category="kitchen", name="Brand-New Kettle")
    after = (await client.get("/catalog/products", params={"category": "kitchen"})).json()
    assert after["total"] == before["total"] + 1
    assert "Tampered" in {p["name"] for p in after["items"]}


async def test_a_reservation_refreshes_the_cached_availability(client, catalog_app):
    await seed(catalog_app, 12)
    product = await add_product(client, stock=4)
    url = f"/catalog/products/{product['id']}"
    assert (await client.get(url)).json()["availability"]["available"] == 4
    hold = {"lines": [{"product_id": product["id"], "quantity": 4}]}
    await client.put("/internal/inventory/reservations/r-1", json=hold)
    assert (await client.get(url)).json()["availability"] == {"in_stock": False, "available": 0}


async def test_reads_fall_back_to_the_database_when_redis_is_down(catalog_settings, aws):
    import httpx
    from asgi_lifespan import LifespanManager

    from services.catalog.app import create_app

    settings = catalog_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        await seed(app, 12)
        assert (await c.get("/catalog/products")).status_code == 200
        product = await add_product(c)
        await c.patch(f"/catalog/products/{product['id']}", json={"price_minor": 7}, headers=ADMIN)
        assert (await c.get(f"/catalog/products/{product['id']}")).json()["price_minor"] == 7


# --------------------------------------------------------------------------- images

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_an_uploaded_image_is_stored_in_the_media_bucket_under_the_url_path(
    client, catalog_app, catalog_settings, aws
):
    await seed(catalog_app, 12)
    product = await add_product(client)
    r = await client.put(
        f"/catalog/products/{product['id']}/image", content=PNG, headers={**ADMIN, "content-type": "image/png"}
    )
    assert r.status_code == 200
    url = r.json()["image_url"]
    assert url == f"/media/products/{product['id']}.png"
    stored = aws.client("s3").get_object(Bucket=catalog_settings.media_bucket_name, Key=url.lstrip("/"))
    assert (stored["Body"].read(), stored["ContentType"]) == (PNG, "image/png")
    assert (await client.get(f"/catalog/products/{product['id']}")).json()["image_url"] == url
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="4"/></svg>'
    r = await client.put(
        f"/catalog/products/{product['id']}/image", content=svg, headers={**ADMIN, "content-type": "image/svg+xml"}
    )
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=catalog_settings.media_bucket_name)["Contents"]]
    assert keys == [f"media/products/{product['id']}.svg"]  # the replaced PNG is gone


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"hello", 415),
        ("application/json", b"{}", 415),
        ("image/png", b"GIF89a not a png", 422),
        ("image/svg+xml", b'<svg onload="alert(1)"></svg>', 422),
        ("image/svg+xml", b"<svg><script>alert(1)</script></svg>", 422),
        ("image/png", PNG + b"\x00" * (1 << 20), 413),
    ],
)
async def test_an_upload_that_is_not_a_safe_image_is_refused_and_nothing_is_stored(
    client, catalog_app, catalog_settings, aws, content_type, body, status
):
    await seed(catalog_app, 12)
    product = await add_product(client)
    r = await client.put(
        f"/catalog/products/{product['id']}/image", content=body, headers={**ADMIN, "content-type": content_type}
    )
    assert r.status_code == status
    assert r.json()["field"] == "body"
    assert "Contents" not in aws.client("s3").list_objects_v2(Bucket=catalog_settings.media_bucket_name)


async def test_an_image_for_an_unknown_product_is_a_404(client, catalog_app):
    r = await client.put("/catalog/products/p-ghost/image", content=PNG, headers={**ADMIN, "content-type": "image/png"})
    assert r.status_code == 404
