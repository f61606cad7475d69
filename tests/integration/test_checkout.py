"""The checkout saga over the real catalog, cart, order and payment services: no order or charge doubled,
no stock left held, whatever fails and wherever the runner crashes."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager

from services.cart.app import create_app as create_cart
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.checkout.app import create_app as create_checkout
from services.checkout.domain import STEPS, Status
from services.checkout.saga import sweep
from services.checkout.settings import CheckoutSettings
from services.common.identity import Caller
from services.order.app import create_app as create_order
from services.order.settings import OrderSettings
from services.payment.app import create_app as create_payment

ADMIN = Caller("admin", "admin@example.com", frozenset({"admin"})).headers()
ADDRESS = {"name": "Ada L.", "line1": "1 Analytical St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}
STOCK = {"mug": 3, "tee": 50}


def shopper(n: int = 0) -> dict[str, str]:
    return Caller(f"shopper-{n}", f"shopper{n}@example.com").headers()


class Shop:
    """Clients of the running services, and short-hands for what the tests look at."""

    def __init__(self, checkout: httpx.AsyncClient, urls: dict[str, str], app):
        self.checkout, self.urls, self.app = checkout, urls, app

    async def get(self, service: str, path: str, **kw) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.urls[service]) as c:
            return await c.get(path, **kw)

    async def post(self, service: str, path: str, **kw) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.urls[service]) as c:
            return await c.post(path, **kw)

    async def fill_cart(self, user: dict[str, str], **lines: int) -> None:
        for product_id, quantity in lines.items():
            r = await self.post(
                "cart", "/cart/items", json={"product_id": product_id, "quantity": quantity}, headers=user
            )
            assert r.status_code == 200, r.text

    async def buy(self, user: dict[str, str], key: str | None = None, method: str = "pm_card_ok") -> httpx.Response:
        headers = {**user, "Idempotency-Key": key or uuid.uuid4().hex}
        return await self.checkout.post(
            "/checkout", json={"shipping_address": ADDRESS, "payment_method": method}, headers=headers
        )

    async def stock(self, product_id: str) -> dict:
        return (await self.get("catalog", f"/catalog/products/{product_id}")).json()["availability"]

    async def order(self, order_id: str) -> dict:
        return (await self.get("order", f"/internal/orders/{order_id}")).json()

    async def payments(self, order_id: str) -> list[dict]:
        return (await self.get("payment", "/internal/payments", params={"order_id": order_id})).json()["items"]

    async def cart(self, user: dict[str, str]) -> dict[str, int]:
        body = (await self.get("cart", "/cart", headers=user)).json()
        return {line["product_id"]: line["quantity"] for line in body["lines"]}


@pytest.fixture
async def shop(database_secret, redis_space, aws, serve_app, monkeypatch):
    # serve_app last: its servers stop before the database and the emulator state go away
    monkeypatch.setenv("ORDER_CONSUMER_WAIT_S", "1")
    catalog = CatalogSettings(redis_url=redis_space.url, cache_prefix=redis_space.prefix, sweep_interval_s=0)
    urls = {"catalog": await serve_app(create_catalog(catalog))}
    monkeypatch.setenv("SHOP_SERVICE_CATALOG_URL", urls["catalog"])
    urls["cart"] = await serve_app(create_cart())
    urls["order"] = await serve_app(create_order(OrderSettings()))
    urls["payment"] = await serve_app(create_payment())
    for name, url in urls.items():
        monkeypatch.setenv(f"SHOP_SERVICE_{name.upper()}_URL", url)
    async with httpx.AsyncClient(base_url=urls["catalog"], headers=ADMIN) as admin:
        (await admin.post("/catalog/categories", json={"slug": "home", "name": "Home"})).raise_for_status()
        for product_id, stock in STOCK.items():
            body = {"id": product_id, "sku": product_id.upper(), "name": f"The {product_id}", "price_minor": 1500,
                    "currency": "EUR", "category": "home", "stock": stock}  # fmt: skip
            (await admin.post("/catalog/products", json=body)).raise_for_status()
    app = create_checkout(CheckoutSettings(sweep_interval_s=0, lease_s=0.5))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        yield Shop(c, urls, app)


async def test_a_checkout_places_a_paid_order_commits_the_stock_and_empties_the_cart(shop: Shop):
    user = shopper()
    await shop.fill_cart(user, mug=2, tee=1)
    r = await shop.buy(user)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["status"], body["total_minor"], body["currency"]) == ("completed", 4500, "EUR")
    order = await shop.order(body["order_id"])
    assert order["status"] in ("confirmed", "paid")
    assert [p["status"] for p in await shop.payments(body["order_id"])] == ["captured"]
    assert await shop.stock("mug") == {"in_stock": True, "available": 1}
    assert await shop.cart(user) == {}
    for _ in range(100):  # PaymentCaptured travels outbox -> SNS -> SQS -> the order's consumer
        if (await shop.order(body["order_id"]))["status"] == "paid":
            break
        await asyncio.sleep(0.1)
    assert (await shop.order(body["order_id"]))["status"] == "paid"


async def test_the_same_key_answers_the_same_order_and_a_changed_body_is_refused(shop: Shop):
    user = shopper()
    await shop.fill_cart(user, tee=1)
    first = await shop.buy(user, key="key-0000001")
    again = await shop.buy(user, key="key-0000001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    changed = await shop.checkout.post(
        "/checkout",
        json={"shipping_address": {**ADDRESS, "city": "Paris"}},
        headers={**user, "Idempotency-Key": "key-0000001"},
    )
    assert changed.status_code == 409
    assert changed.json()["field"] == "Idempotency-Key"


async def test_the_same_key_sent_20_times_at_once_makes_one_order_and_one_charge(shop: Shop):
    user = shopper()
    await shop.fill_cart(user, tee=2)
    answers = await asyncio.gather(*(shop.buy(user, key="same-key-20x") for _ in range(20)))
    assert sorted({r.status_code for r in answers}) in ([200, 201], [201])
    assert [r.status_code for r in answers].count(201) == 1
    assert len({r.json()["order_id"] for r in answers}) == 1
    payments = await shop.payments(answers[0].json()["order_id"])
    assert [p["status"] for p in payments] == ["captured"]
    assert await shop.stock("tee") == {"in_stock": True, "available": 48}


async def test_parallel_checkouts_over_the_last_units_sell_exactly_those_units(shop: Shop):
    users = [shopper(n) for n in range(8)]
    for user in users:
        await shop.fill_cart(user, mug=1)
    answers = await asyncio.gather(*(shop.buy(user) for user in users))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * STOCK["mug"] + [409] * (len(users) - STOCK["mug"])
    assert {r.json()["reason"] for r in answers if r.status_code == 409} == {"out_of_stock"}
    assert await shop.stock("mug") == {"in_stock": False, "available": 0}


@pytest.mark.parametrize(
    ("method", "status", "reason"),
    [("pm_card_declined", 402, "payment_declined"), ("pm_card_timeout", 504, "payment_timeout")],
)
async def test_a_failed_payment_cancels_the_order_releases_the_stock_and_leaves_the_cart(
    shop: Shop, method, status, reason
):
    user = shopper()
    await shop.fill_cart(user, mug=2)
    r = await shop.buy(user, method=method)
    assert r.status_code == status, r.text
    assert (r.json()["reason"], r.json()["compensated"]) == (reason, True)
    order_id = f"ord-{r.json()['checkout_id']}"
    assert (await shop.order(order_id))["status"] == "cancelled"
    assert all(p["status"] in ("declined", "voided") for p in await shop.payments(order_id))
    assert await shop.stock("mug") == {"in_stock": True, "available": 3}
    assert await shop.cart(user) == {"mug": 2}


async def test_an_empty_cart_and_a_missing_key_are_refused_naming_why(shop: Shop):
    assert (await shop.buy(shopper())).json()["reason"] == "cart_not_ready"
    r = await shop.checkout.post("/checkout", json={"shipping_address": ADDRESS}, headers=shopper())
    assert (r.status_code, r.json()["field"]) == (422, "Idempotency-Key")
    r = await shop.checkout.post(
        "/checkout",
        json={"shipping_address": {**ADDRESS, "country": "Britain"}},
        headers={**shopper(), "Idempotency-Key": "k" * 10},
    )
    assert r.status_code == 422
    assert "shipping_address.country" in {e["field"] for e in r.json()["errors"]}


class Crash(Exception):
    """The runner dies right after a step was saved (a kill -9 between two steps)."""


@pytest.mark.parametrize("crash_at", [s for s in STEPS[1:-1]], ids=lambda s: f"after-{s.value}")
async def test_a_runner_that_dies_after_any_step_is_recovered_by_the_sweeper(shop: Shop, crash_at: Status):
    user = shopper()
    await shop.fill_cart(user, mug=1)
    saga = shop.app.state.saga

    async def die(co):
        if co.status is crash_at:
            raise Crash(co.status)

    saga.after_step = die
    crashed = await shop.buy(user)
    assert crashed.status_code == 500  # the request dies with its runner; the saga row stays behind
    saga.after_step = lambda co: asyncio.sleep(0)
    await asyncio.sleep(0.6)  # the lease runs out
    assert await sweep(saga) == 1
    await asyncio.sleep(0.6)
    assert await saga.repo.claim_stuck() == [], "nothing may stay unfinished"
    mug = await shop.stock("mug")
    if STEPS.index(crash_at) >= STEPS.index(Status.CONFIRMED):  # past the pivot: finished
        assert mug == {"in_stock": True, "available": 2}
        assert await shop.cart(user) == {}
    else:  # before it: undone
        assert mug == {"in_stock": True, "available": 3}
        assert await shop.cart(user) == {"mug": 1}


async def test_a_runner_that_dies_inside_the_reservation_step_has_its_stock_released_by_the_sweeper(shop: Shop):
    """The catalog took the reservation, then the runner died before saving the step: the saved saga knows no
    lines, yet the sweeper's compensation releases the reservation by its id (a chaos run found it held)."""
    user = shopper()
    await shop.fill_cart(user, mug=1)
    saga = shop.app.state.saga
    inventory = saga.d.inventory
    real_reserve = inventory.reserve

    async def reserve_then_die(co, ttl_s):
        await real_reserve(co, ttl_s)
        raise Crash(co.status)

    inventory.reserve = reserve_then_die
    try:
        crashed = await shop.buy(user)
    finally:
        inventory.reserve = real_reserve
    assert crashed.status_code == 500
    assert await shop.stock("mug") == {"in_stock": True, "available": 2}  # held by the lost runner
    await asyncio.sleep(0.6)  # the lease runs out
    assert await sweep(saga) == 1
    assert await shop.stock("mug") == {"in_stock": True, "available": 3}
    assert await shop.cart(user) == {"mug": 1}


async def test_a_token_without_an_email_claim_checks_out_with_the_address_from_sign_up(
    shop: Shop, provisioned, aws, serve_app, monkeypatch
):
    from services.profile.app import create_app as create_profile

    monkeypatch.setenv("SHOP_USER_POOL_ID", provisioned.user_pool_id)
    monkeypatch.setenv("SHOP_USER_POOL_CLIENT_ID", provisioned.user_pool_clients["web"])
    monkeypatch.setenv("PROFILE_AUTO_CONFIRM", "true")
    profile_url = await serve_app(create_profile())
    shop.app.state.service.profiles.client.base_url = profile_url
    async with httpx.AsyncClient(base_url=profile_url) as profile:
        signup = await profile.post("/auth/signup", json={"email": "grace@example.com", "password": "Cobol-Rules-1959"})
        assert signup.status_code in (200, 201), signup.text
    found = aws.client("cognito-idp").admin_get_user(
        UserPoolId=provisioned.user_pool_id, Username="grace@example.com"
    )  # the sign-up answer names no sub (issue 12: it must not tell a registered address apart)
    sub = next(a["Value"] for a in found["UserAttributes"] if a["Name"] == "sub")
    user = Caller(sub, "").headers()  # what the gateway sends for a Cognito access token
    await shop.fill_cart(user, tee=1)
    r = await shop.buy(user)
    assert r.status_code == 201, r.text
    assert (await shop.order(r.json()["order_id"]))["email"] == "grace@example.com"
