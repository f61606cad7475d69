"""The notification service e-mails each subscribed order and payment event once, through SES, and records it."""

from __future__ import annotations

import asyncio
import shutil
import time

import httpx
import pytest
from asgi_lifespan import LifespanManager

from reference.events import Event, new_event
from services.common.consumer import QueueConsumer
from services.common.sqs import SqsSource
from services.notification.adapters.templates import PACKAGED
from services.notification.app import QUEUE, create_app
from services.notification.cli import emulator_messages
from services.notification.settings import NotificationSettings
from tests.consumer_support import drain, publish, queue_depth

ALICE = "sub-alice"


def order_event(event_type: str, order_id: str, email: str | None = "alice@example.com", **extra) -> Event:
    data = {
        "order_id": order_id,
        "customer_sub": ALICE,
        "email": email,
        "currency": "EUR",
        "total_minor": 4598,
        "lines": [{"product_id": "p-mug", "name": "Mug <b>big</b>", "quantity": 2, "unit_price_minor": 2299}],
        "status": "confirmed",
        **extra,
    }
    return new_event(event_type, source="order", subject=order_id, data=data)


def payment_event(event_type: str, order_id: str, **extra) -> Event:
    data = {"payment_id": f"pay-{order_id}", "order_id": order_id, "amount_minor": 4598, "currency": "EUR", **extra}
    return new_event(event_type, source="payment", subject=f"pay-{order_id}", data=data)


@pytest.fixture
def make_app(aws, provisioned, database_secret):
    """The service with its consumer switched off; the test polls the queue itself (``consumer``)."""

    def make(**settings):
        return create_app(NotificationSettings(run_consumer=False, **settings))

    return make


def consumer(app, aws) -> QueueConsumer:
    """The service's own policy over its queue, polled when the test says (the app built no consumer)."""
    assert not hasattr(app.state, "consumer"), "NOTIFICATION_RUN_CONSUMER=false must build no consumer"
    return QueueConsumer(SqsSource.connect(QUEUE, stage=aws.stage, region=aws.region, wait_s=0), app.state.policy)


@pytest.fixture
async def app(make_app):
    app = make_app()
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def sent_by_ses(aws) -> list[dict]:
    return emulator_messages(aws.endpoint_url)


async def internal(client, **params) -> list[dict]:
    response = await client.get("/internal/notifications", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_each_subscribed_event_type_sends_one_email_with_its_subject_to_its_customer(aws, app, client):
    publish(aws, *(order_event(t, "o-1") for t in ("OrderConfirmed", "OrderCancelled", "OrderFulfilled")))
    publish(aws, order_event("OrderRefunded", "o-1", reason="damaged"))
    assert (await drain(consumer(app, aws))).handled == 4
    # Payment events name only the order: the address is the one learned from its order events.
    publish(aws, payment_event("PaymentFailed", "o-1", reason="card declined"), payment_event("PaymentRefunded", "o-1"))
    assert (await drain(consumer(app, aws))).handled == 2

    kept = {m["subject"]: m["destinations"]["ToAddresses"] for m in sent_by_ses(aws)}
    assert kept == {
        "Your order o-1 is confirmed": ["alice@example.com"],
        "Your order o-1 was cancelled": ["alice@example.com"],
        "Your order o-1 is on its way": ["alice@example.com"],
        "Your order o-1 was refunded": ["alice@example.com"],
        "The payment for your order o-1 did not go through": ["alice@example.com"],
        "We refunded EUR 45.98 for your order o-1": ["alice@example.com"],
    }
    rows = await internal(client, order_id="o-1")
    assert len(rows) == 6
    assert {r["status"] for r in rows} == {"sent"}
    assert {r["message_id"] for r in rows} == {m["id"] for m in sent_by_ses(aws)}
    refunded = next(r for r in rows if r["event_type"] == "OrderRefunded")
    assert "EUR 45.98" in refunded["body"]
    assert "damaged" in refunded["body"]


async def test_a_payment_event_may_carry_its_own_address_and_the_cli_shows_what_was_sent(aws, app, capsys):
    from services.notification.cli import main

    publish(aws, payment_event("PaymentFailed", "o-2", email="bob@example.com", customer_sub="sub-bob"))
    assert (await drain(consumer(app, aws))).handled == 1
    assert [m["destinations"]["ToAddresses"] for m in sent_by_ses(aws)] == [["bob@example.com"]]

    assert await asyncio.to_thread(main, ["--limit", "5", "--emulator"]) == 0  # the CLI runs its own event loop
    out = capsys.readouterr().out
    assert "The payment for your order o-2 did not go through" in out
    assert "the emulator's SES kept 1 message(s)" in out
    assert out.count("bob@example.com") == 2


async def test_a_duplicate_delivery_sends_once(aws, provisioned, app, client):
    event = order_event("OrderConfirmed", "o-3")
    for _ in range(3):  # at-least-once: the relay may publish an event again after a crash
        publish(aws, event)
    outcome = await drain(consumer(app, aws))
    assert (outcome.handled, outcome.duplicates) == (1, 2)
    assert len(sent_by_ses(aws)) == 1
    assert len(await internal(client)) == 1
    assert queue_depth(aws, provisioned.queues["notification"]) == 0


async def test_events_the_filter_excludes_never_arrive(aws, provisioned, app):
    publish(aws, order_event("OrderPlaced", "o-4"), order_event("OrderPaid", "o-4"))
    publish(aws, payment_event("PaymentAuthorized", "o-4"), payment_event("PaymentCaptured", "o-4"))
    assert queue_depth(aws, provisioned.queues["notification"]) == 0
    assert (await drain(consumer(app, aws))).handled == 0
    assert sent_by_ses(aws) == []


async def test_an_event_without_an_address_is_recorded_as_skipped_and_not_retried(aws, provisioned, app, client):
    publish(aws, order_event("OrderConfirmed", "o-5", email=None), payment_event("PaymentFailed", "o-unknown"))
    publish(aws, order_event("OrderCancelled", "o-6", email="not an address"))
    assert (await drain(consumer(app, aws))).handled == 3
    assert queue_depth(aws, provisioned.queues["notification"]) == 0
    assert sent_by_ses(aws) == []
    skipped = {r["order_id"]: r["skip_reason"] for r in await internal(client, status="skipped")}
    assert skipped == {
        "o-5": "no e-mail address is known for order o-5",
        "o-unknown": "no e-mail address is known for order o-unknown",
        "o-6": "the e-mail address is malformed",
    }


async def test_an_order_event_without_an_address_does_not_erase_the_one_known(aws, provisioned, app, client):
    publish(aws, order_event("OrderConfirmed", "o-8", email="carol@example.com"))
    assert (await drain(consumer(app, aws))).handled == 1
    publish(aws, order_event("OrderCancelled", "o-8", email=None))  # its own e-mail skipped; the contact stays
    assert (await drain(consumer(app, aws))).handled == 1
    publish(aws, payment_event("PaymentFailed", "o-8"))  # a payment event carries no address: the contact's
    assert (await drain(consumer(app, aws))).handled == 1
    assert [m["destinations"]["ToAddresses"] for m in sent_by_ses(aws)] == [["carol@example.com"]] * 2
    statuses = {r["event_type"]: r["status"] for r in await internal(client, order_id="o-8")}
    assert statuses == {"OrderConfirmed": "sent", "OrderCancelled": "skipped", "PaymentFailed": "sent"}


async def failing_five_times(aws, provisioned, app) -> None:
    """The event fails every receive and, after the queue's 5, is in the DLQ; nothing was sent or recorded."""
    aws.client("sqs").set_queue_attributes(
        QueueUrl=provisioned.queues["notification"], Attributes={"VisibilityTimeout": "0"}
    )
    event = order_event("OrderConfirmed", "o-7")
    publish(aws, event)
    failed = 0
    polled = consumer(app, aws)
    for _ in range(8):
        failed += (await polled.poll_once(wait_s=0)).failed
    assert failed == 5
    dead = aws.client("sqs").receive_message(QueueUrl=provisioned.dlqs["notification"]).get("Messages", [])
    assert [Event.model_validate_json(m["Body"]).event_id for m in dead] == [event.event_id]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert await internal(client) == []


async def test_a_broken_template_leaves_the_event_for_redelivery_then_the_dlq(aws, provisioned, make_app, tmp_path):
    folder = tmp_path / "templates"
    shutil.copytree(PACKAGED, folder)
    (folder / "order_confirmed.html").write_text("{{ no_such_value }}")
    app = make_app(template_dir=str(folder))
    async with LifespanManager(app):
        await failing_five_times(aws, provisioned, app)
    assert sent_by_ses(aws) == []


async def test_an_ses_refusal_leaves_the_event_for_redelivery_then_the_dlq(aws, provisioned, make_app):
    app = make_app(sender="unverified@shop.example.com")  # SES refuses a sender that is not a verified identity
    async with LifespanManager(app):
        await failing_five_times(aws, provisioned, app)
    assert sent_by_ses(aws) == []


async def test_customers_see_only_their_own_emails_newest_first(aws, app, client):
    publish(aws, order_event("OrderConfirmed", "o-8"))
    publish(aws, order_event("OrderFulfilled", "o-8"))
    other = order_event("OrderConfirmed", "o-9", email="carol@example.com", customer_sub="sub-carol")
    publish(aws, other)
    assert (await drain(consumer(app, aws))).handled == 3

    mine = await client.get("/notifications", headers={"X-Shop-User": ALICE})
    assert mine.status_code == 200
    newest_first = ["Your order o-8 is on its way", "Your order o-8 is confirmed"]
    assert [e["subject"] for e in mine.json()["items"]] == newest_first
    assert "customer_sub" not in mine.json()["items"][0]
    assert (await client.get("/notifications", headers={"X-Shop-User": "sub-carol"})).json()["items"][0]["to"] == (
        "carol@example.com"
    )
    assert (await client.get("/notifications", headers={"X-Shop-User": "sub-nobody"})).json()["items"] == []

    assert (await client.get("/notifications")).status_code == 401
    too_many = await client.get("/internal/notifications", params={"limit": 101})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "limit"
    assert (await client.get("/internal/notifications", params={"status": "lost"})).status_code == 422


async def test_with_its_consumer_on_the_service_sends_by_itself_and_reports_the_consumer_as_a_background_part(
    aws, provisioned, database_secret
):
    app = create_app(NotificationSettings(consumer_wait_s=1))
    async with LifespanManager(app):
        publish(aws, order_event("OrderConfirmed", "o-10"))
        deadline = time.monotonic() + 20
        while not sent_by_ses(aws) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            ready = (await client.get("/readyz")).json()
    assert [m["subject"] for m in sent_by_ses(aws)] == ["Your order o-10 is confirmed"]
    assert ready["checks"]["consumer"]["critical"] is False
    assert ready["checks"]["database"]["critical"] is True
