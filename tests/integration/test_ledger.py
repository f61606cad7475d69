"""The ledger check over the real commerce core: a clean run passes, and each deliberate break is named by its rule.

Catalog, cart, order, payment, notification, recommendations and checkout run under uvicorn on one
database and the emulator, as in tests/integration/test_checkout.py; the ledger reads their tables through the
stage's database secret and the DLQs through SQS, exactly as ``python -m load.ledger`` does.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from load.ledger import Verdict, check, settled
from services.cart.app import create_app as create_cart
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.checkout.app import create_app as create_checkout
from services.checkout.settings import CheckoutSettings
from services.common.identity import Caller
from services.notification.app import create_app as create_notification
from services.order.app import create_app as create_order
from services.payment.app import create_app as create_payment
from services.recommendations.app import create_app as create_recommendations

ADMIN = Caller("admin", "admin@example.com", frozenset({"admin"})).headers()
ADDRESS = {"name": "Ada L.", "line1": "1 Analytical St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}
FAST = {
    "ORDER_CONSUMER_WAIT_S": "1",
    "NOTIFICATION_POLL_WAIT_S": "1",
    "RECOMMENDATIONS_POLL_WAIT_S": "1",
    "PAYMENT_PROVIDER_TIMEOUT_MS": "300",
}


class Shop:
    def __init__(self, urls: dict[str, str]):
        self.urls = urls

    async def buy(self, n: int, method: str) -> dict:
        """Shopper ``n`` puts a tee in the cart and checks out paying with ``method``; the checkout's answer."""
        user = Caller(f"shopper-{n}", f"shopper{n}@example.com").headers()
        async with httpx.AsyncClient(headers=user, timeout=30) as c:
            r = await c.post(f"{self.urls['cart']}/cart/items", json={"product_id": "tee", "quantity": 1})
            assert r.status_code == 200, r.text
            r = await c.post(
                f"{self.urls['checkout']}/checkout",
                json={"shipping_address": ADDRESS, "payment_method": method},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
        assert r.status_code in (201, 402, 504), r.text
        return r.json()


@pytest.fixture
async def shop(database_secret, redis_space, aws, serve_app, monkeypatch):
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    catalog = CatalogSettings(redis_url=redis_space.url, cache_prefix=redis_space.prefix, sweep_interval_s=0)
    urls = {"catalog": await serve_app(create_catalog(catalog))}
    monkeypatch.setenv("SHOP_SERVICE_CATALOG_URL", urls["catalog"])
    urls["cart"] = await serve_app(create_cart())
    urls["order"] = await serve_app(create_order())
    urls["payment"] = await serve_app(create_payment())
    urls["notification"] = await serve_app(create_notification())
    urls["recommendations"] = await serve_app(create_recommendations())
    for name, url in urls.items():
        monkeypatch.setenv(f"SHOP_SERVICE_{name.upper()}_URL", url)
    urls["checkout"] = await serve_app(create_checkout(CheckoutSettings(sweep_interval_s=0)))
    async with httpx.AsyncClient(base_url=urls["catalog"], headers=ADMIN) as admin:
        (await admin.post("/catalog/categories", json={"slug": "home", "name": "Home"})).raise_for_status()
        body = {"id": "tee", "sku": "TEE", "name": "The tee", "price_minor": 1500, "currency": "EUR",
                "category": "home", "stock": 50}  # fmt: skip
        (await admin.post("/catalog/products", json=body)).raise_for_status()
    return Shop(urls)


def described(verdict: Verdict) -> str:
    return "\n".join(f"{f.rule}: {f.examples}" for f in verdict.violated())


async def test_a_clean_run_of_paid_declined_and_timed_out_checkouts_passes_the_ledger(shop: Shop):
    since = datetime.now(UTC) - timedelta(seconds=1)
    answers = [await shop.buy(0, "pm_card_ok"), await shop.buy(1, "pm_card_declined")]
    answers.append(await shop.buy(2, "pm_card_timeout"))
    assert [a.get("reason") for a in answers] == [None, "payment_declined", "payment_timeout"]

    verdict = await asyncio.to_thread(settled, since, timeout_s=20)
    assert verdict.ok, described(verdict)
    assert verdict.counts["orders"] == {"paid": 1, "cancelled": 2}
    assert verdict.counts["payments"] == {"captured": 1, "declined": 1, "voided": 1}
    assert verdict.counts["reservations"] == {"committed": 1, "released": 2}
    assert sum(verdict.counts["emails"].values()) >= 3, "a confirmation and two cancellations at least"
    checked = {f.rule for f in verdict.findings if f.status == "ok"}
    assert {"charged_once", "handled_by:notification", "handled_by:recommendations", "email_recorded"} <= checked


async def test_an_orphan_charge_a_lost_capture_a_stale_hold_an_unpublished_event_and_a_dead_letter_are_each_named(
    shop: Shop, pg_url, aws, provisioned
):
    since = datetime.now(UTC) - timedelta(seconds=1)
    order_id = (await shop.buy(0, "pm_card_ok"))["order_id"]
    assert (await asyncio.to_thread(settled, since, timeout_s=20)).ok

    orphan, ghost_event = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute(
            "insert into payment.payments (id, idempotency_key, order_id, customer_sub, amount_minor, currency,"
            " payment_method, status) values (%s, 'orphan', 'ord-nobody', 'x', 999, 'EUR', 'pm_card_ok', 'captured')",
            (orphan,),
        )
        db.execute("update payment.payments set status = 'refunded' where order_id = %s", (order_id,))
        db.execute(
            "insert into catalog.reservations (id, status, expires_at)"
            " values ('chk-ghost', 'held', now() - '1 min'::interval)"
        )
        db.execute(
            "insert into checkout.outbox (event_id, topic, event_type, body) values (%s, 'checkout-events',"
            " 'CheckoutCompleted', '{}')",
            (ghost_event,),
        )  # a body no relay can publish: it stays unpublished
    aws.client("sqs").send_message(QueueUrl=provisioned.dlqs["notification"], MessageBody="{poison")

    verdict = await asyncio.to_thread(check, since, settle_s=0)
    assert {f.rule for f in verdict.violated()} == {
        "no_orphan_charge", "charged_once", "no_stale_hold", "hold_owned", "outbox_published:checkout", "dead_letters",
    }, described(verdict)  # fmt: skip
    assert verdict.ids("no_orphan_charge") == {str(orphan)}
    assert verdict.ids("charged_once") == {order_id}
    assert verdict.ids("no_stale_hold") == verdict.ids("hold_owned") == {"chk-ghost"}
    assert verdict.ids("outbox_published:checkout") == {str(ghost_event)}
    assert verdict.ids("dead_letters") == {"notification-dlq"}
    expected_poison = await asyncio.to_thread(check, since, settle_s=0, expected_dead=1)
    assert not expected_poison.violated("dead_letters"), "a poison message the caller announced is no violation"
