"""Every bad-input class of issue 12 is a 4xx problem naming the field or header, directly and through the gateway,
and leaves nothing written: NUL and control characters, invisible and bidi names, lax numbers and flags, numbers
past int64, unreadable bodies, non-ASCII headers and chunked bodies past the size limit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from contract_support import Stack, shop
from edge_support import start_edge

from services.common.identity import Caller

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADMIN = Caller("admin", "admin@example.com", frozenset({"admin"})).headers()
SHOPPER = Caller("shopper-1", "shopper1@example.com").headers()
ADDRESS = {"name": "Ada L.", "line1": "1 Analytical St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}
PRODUCT = {"id": "p-mug", "sku": "MUG-1", "name": "Mug", "price_minor": 900, "category": "home", "stock": 5}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    async with shop(servers) as running:
        async with httpx.AsyncClient(base_url=running.urls["catalog"], headers=ADMIN) as admin:
            (await admin.post("/catalog/categories", json={"slug": "home", "name": "Home"})).raise_for_status()
            (await admin.post("/catalog/products", json=PRODUCT)).raise_for_status()
        edge = await start_edge(running.serve, running.stage, tmp_path_factory.mktemp("edge"), gateway=running.gateway)
        running.front_door = edge.url  # the local CloudFront and WAF in front of the gateway
        yield running


async def call(stack: Stack, via: str, service: str, method: str, path: str, **kw: Any) -> httpx.Response:
    """``path`` is the service's own; through the gateway it is sent under /api with a real token."""
    headers = dict(kw.pop("headers", {}))
    if via in ("gateway", "front-door"):
        who = headers.pop("as", "shopper")
        if who:
            groups = ("admin",) if who == "admin" else ()
            headers.update(stack.bearer(who, groups))
        base, path = stack.gateway if via == "gateway" else stack.front_door, "/api" + path
    else:
        who = headers.pop("as", "shopper")
        headers.update(ADMIN if who == "admin" else SHOPPER if who else {})
        base = stack.urls[service]
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return await client.request(method, path, headers=headers, **kw)


def named(response: httpx.Response, field: str) -> bool:
    body = response.json()
    fields = [e["field"] for e in body.get("errors", [])] + [body.get("field")]
    return field in fields


VIA = pytest.mark.parametrize("via", ["direct", "gateway", "front-door"])


@VIA
@pytest.mark.parametrize(
    ("service", "method", "path", "kw", "field"),
    [
        ("catalog", "GET", "/catalog/products/p%00mug", {}, "product_id"),
        ("catalog", "GET", "/catalog/categories/ho%00me", {}, "slug"),
        ("catalog", "GET", "/catalog/products", {"params": {"category": "ho\x00me"}}, "category"),
        ("order", "GET", "/orders/o%001", {}, "order_id"),
        ("payment", "GET", "/payments", {"params": {"order_id": "o\x001"}}, "order_id"),
        ("recommendations", "GET", "/recommendations/products/p%00mug/bought-together", {}, "product_id"),
        ("search", "GET", "/search", {"params": {"category": "home\x01"}}, "category"),
        ("notification", "GET", "/notifications", {"params": {"limit": "2\x00"}}, "limit"),
    ],
)
async def test_a_nul_or_control_character_in_a_path_or_query_is_a_422_naming_the_parameter(
    stack, via, service, method, path, kw, field
):
    r = await call(stack, via, service, method, path, **kw)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert named(r, field), r.text


@VIA
async def test_a_nul_in_an_admin_product_description_is_refused_and_no_product_is_written(stack, via):
    body = {**PRODUCT, "id": f"p-nul-{via}", "sku": f"NUL-{via}", "description": "fine\x00print"}
    r = await call(stack, via, "catalog", "POST", "/catalog/products", json=body, headers={"as": "admin"})
    assert (r.status_code, named(r, "description")) == (422, True), r.text
    assert (await call(stack, "direct", "catalog", "GET", f"/catalog/products/p-nul-{via}")).status_code == 404


@VIA
@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({**ADDRESS, "line1": "1 Analytical\x00St"}, "shipping_address.line1"),
        ({**ADDRESS, "name": "\u200b\u200b"}, "shipping_address.name"),  # invisible only: not "required"
        ({**ADDRESS, "name": "Ada \u202eevol"}, "shipping_address.name"),  # a right-to-left override
        ({k: v for k, v in ADDRESS.items() if k != "city"}, "shipping_address.city"),
    ],
)
async def test_a_bad_checkout_address_is_a_422_naming_it_and_starts_no_checkout(stack, via, address, field):
    who = f"buyer-{via}"
    key = uuid.uuid4().hex
    headers = {"Idempotency-Key": key, "as": who} if via != "direct" else {"Idempotency-Key": key, "as": ""}
    if via == "direct":
        headers.update(Caller(who, f"{who}@example.com").headers())
    r = await call(stack, via, "checkout", "POST", "/checkout", json={"shipping_address": address}, headers=headers)
    assert (r.status_code, named(r, field)) == (422, True), r.text
    orders = await call(stack, "direct", "order", "GET", "/orders", headers={"as": ""} | Caller(who).headers())
    assert orders.json()["items"] == []


@VIA
@pytest.mark.parametrize("quantity", [True, False, "1", 217.0, 1 << 63])
async def test_a_quantity_that_is_not_a_strict_integer_is_a_422_and_the_cart_is_unchanged(stack, via, quantity):
    who = f"lax-{via}"
    headers = {"as": who} if via != "direct" else {"as": ""} | Caller(who).headers()
    r = await call(stack, via, "cart", "POST", "/cart/items", json={"product_id": "p-mug", "quantity": quantity},
                   headers=headers)  # fmt: skip
    assert (r.status_code, named(r, "quantity")) == (422, True), r.text
    cart = await call(stack, via, "cart", "GET", "/cart", headers=headers)
    assert cart.json()["lines"] == []


@VIA
@pytest.mark.parametrize(
    ("params", "field"),
    [({"price_min": str(1 << 63)}, "price_min"), ({"price_max": "9" * 30}, "price_max"), ({"page": "2.0"}, "page")],
)
async def test_numbers_past_int64_or_not_integers_in_a_query_are_a_422(stack, via, params, field):
    r = await call(stack, via, "search", "GET", "/search", params=params)
    assert (r.status_code, named(r, field)) == (422, True), r.text


@VIA
@pytest.mark.parametrize(
    ("content", "message"),
    [(b'{"product_id": "p-mug", "quantity": ', "not valid JSON"), (b'{"product_id": "\xff\xfe"}', "")],
)
async def test_a_body_that_cannot_be_parsed_names_the_body_not_a_byte_offset(stack, via, content, message):
    who = f"parse-{via}"
    headers = {"as": who} if via != "direct" else {"as": ""} | Caller(who).headers()
    headers["content-type"] = "application/json"
    r = await call(stack, via, "cart", "POST", "/cart/items", content=content, headers=headers)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["errors"][0]["field"], body["errors"][0]["in"]) == ("body", "body"), body
    assert message in body["detail"]


@pytest.mark.parametrize("via", ["gateway", "front-door"])
@pytest.mark.parametrize("header", ["User-Agent", "Accept-Language", "X-Cart-Session"])
async def test_a_latin1_header_through_the_gateway_is_passed_on_not_a_500(stack, header, via):
    r = await call(stack, via, "cart", "GET", "/cart", headers={header: b"caf\xe9", "as": ""})
    assert r.status_code < 500, r.text
    if header == "X-Cart-Session":
        assert (r.status_code, named(r, header)) == (422, True), r.text


@VIA
async def test_a_latin1_idempotency_key_is_a_422_naming_the_header_and_starts_no_checkout(stack, via):
    who = f"latin-{via}"
    headers = {"Idempotency-Key": b"cl\xe9-0000001"}
    headers |= {"as": who} if via != "direct" else {"as": ""} | Caller(who).headers()
    r = await call(stack, via, "checkout", "POST", "/checkout", json={"shipping_address": ADDRESS}, headers=headers)
    assert (r.status_code, named(r, "Idempotency-Key")) == (422, True), r.text
    orders = await call(stack, "direct", "order", "GET", "/orders", headers={"as": ""} | Caller(who).headers())
    assert orders.json()["items"] == []


async def chunked_past_the_limit(url: str, path: str, headers: dict[str, str], limit: int = 1 << 20) -> bytes:
    """Send a chunked body one chunk past ``limit`` and never finish it: the answer must come anyway."""
    where = urlsplit(url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    head = [f"POST {path} HTTP/1.1", f"Host: {where.netloc}", "Content-Type: application/json",
            "Transfer-Encoding: chunked", *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    chunk = b'"' + b"x" * (64 * 1024 - 2) + b'"'
    sent = 0
    while sent <= limit:
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        sent += len(chunk)
    await writer.drain()
    try:
        # no terminating chunk is ever sent: a server that reads the whole body first never answers
        return await asyncio.wait_for(reader.read(4096), timeout=20)
    finally:
        writer.close()


@pytest.mark.parametrize("via", ["direct", "gateway"])
async def test_a_chunked_body_past_the_limit_is_a_413_before_the_rest_is_sent(stack, via):
    if via == "gateway":
        answer = await chunked_past_the_limit(stack.gateway, "/api/cart/items", stack.bearer("chunky"))
    else:
        answer = await chunked_past_the_limit(stack.urls["cart"], "/cart/items", Caller("chunky").headers())
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"413", answer[:300]
    assert b"application/problem+json" in rest


@VIA
async def test_a_method_the_path_does_not_serve_is_a_405_naming_every_method_it_does(stack, via):
    r = await call(stack, via, "catalog", "PUT", "/catalog/products/p-mug", json={})
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/problem+json"
    assert set(r.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE"}


async def test_the_gateway_documents_every_public_path_of_the_services_and_no_internal_one(stack):
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=30) as client:
        document = (await client.get("/api/openapi.json")).json()
    paths = document["paths"]
    assert "/api/{path}" not in paths
    assert {"/api/catalog/products/{product_id}/image", "/api/checkout", "/api/auth/signup", "/api/me"} <= set(paths)
    assert not [p for p in paths if "internal" in p]
    upload = paths["/api/catalog/products/{product_id}/image"]["put"]
    assert set(upload["requestBody"]["content"]) == {"image/png", "image/jpeg", "image/svg+xml", "image/webp"}
    assert {"401", "403", "413", "415", "429", "503", "504"} <= set(upload["responses"])
    key = next(p for p in paths["/api/checkout"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (8, 200)


async def test_an_admin_uploads_a_product_image_through_the_front_door(stack, tmp_path):
    edge = await start_edge(stack.serve, stack.stage, tmp_path, gateway=stack.gateway)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    headers = {**stack.bearer("admin", ("admin",)), "content-type": "image/png"}
    async with httpx.AsyncClient(base_url=edge.url, timeout=30) as client:
        r = await client.put("/api/catalog/products/p-mug/image", content=png, headers=headers)
        assert r.status_code == 200, r.text
        product = await client.get("/api/catalog/products/p-mug")
    assert product.json()["image_url"] == r.json()["image_url"]


async def test_an_admin_uploads_a_product_image_through_the_gateway(stack):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    r = await call(stack, "gateway", "catalog", "PUT", "/catalog/products/p-mug/image", content=png,
                   headers={"as": "admin", "content-type": "image/png"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["image_url"]
    shopper = await call(stack, "gateway", "catalog", "PUT", "/catalog/products/p-mug/image", content=png,
                         headers={"content-type": "image/png"})  # fmt: skip
    assert shopper.status_code == 403, shopper.text
    wrong = await call(stack, "gateway", "catalog", "PUT", "/catalog/products/p-mug/stock", content=png,
                       headers={"as": "admin", "content-type": "image/png"})  # fmt: skip
    assert wrong.status_code == 415
