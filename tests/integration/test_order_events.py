"""Order events through the emulator's SNS and SQS: payment outcomes in, order events out."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from consumer_support import drain
from order_support import order_body, outbox_rows, payment_consumer, recorded, running, settings_for, user

from reference.events import Event, new_event
from services.common.consumer import IdempotentPolicy, Outcome
from services.common.outbox import SnsPublisher
from services.order import payments


def payment_event(event_type: str, order_id: str, payment_id: str = "pay-1") -> Event:
    """A payment event as the payment service writes it (docs/commerce-core.md)."""
    data = {"payment_id": payment_id, "order_id": order_id, "amount_minor": 3999, "currency": "EUR"}
    return new_event(event_type, source="payment", subject=payment_id, data=data)


def publish(aws, *events: Event) -> None:
    """Publish through SNS, as the payment service's relay does; SNS delivers to the order-payments queue."""
    bodies = [json.loads(e.model_dump_json()) for e in events]
    assert len(SnsPublisher(aws.stage, aws.region).publish("payment-events", bodies)) == len(events)


async def confirmed_order(client, order_id: str, payment_id: str = "pay-1") -> None:
    assert (await client.post("/internal/orders", json=order_body(order_id))).status_code == 201
    response = await client.post(f"/internal/orders/{order_id}/confirm", json={"payment_id": payment_id})
    assert response.json()["status"] == "confirmed"


@pytest.fixture
def order_settings(aws, database_secret):
    return settings_for(aws, database_secret)


async def test_a_payment_captured_event_from_sns_moves_a_confirmed_order_to_paid(order_settings, aws):
    async with running(order_settings) as (app, client):
        await confirmed_order(client, "ord-1")
        publish(aws, payment_event("PaymentCaptured", "ord-1"))
        consumer = await asyncio.to_thread(payment_consumer, app, order_settings)
        assert (await drain(consumer)).handled == 1
        order = (await client.get("/orders/ord-1", headers=user("sub-alice"))).json()
        assert order["status"] == "paid"
        assert [e for e, _ in await outbox_rows(app, "ord-1")] == ["OrderPlaced", "OrderConfirmed", "OrderPaid"]


async def test_a_duplicate_payment_captured_delivery_is_handled_once(order_settings, aws):
    async with running(order_settings) as (app, client):
        await confirmed_order(client, "ord-2")
        captured = payment_event("PaymentCaptured", "ord-2")
        publish(aws, captured)
        publish(aws, captured)  # at-least-once: SNS may deliver the same event twice
        publish(aws, payment_event("PaymentCaptured", "ord-2"))  # a second callback: a new event id, same capture
        consumer = await asyncio.to_thread(payment_consumer, app, order_settings)
        outcome = await drain(consumer)
        assert (outcome.handled, outcome.duplicates, outcome.failed) == (2, 1, 0)
        assert [e for e, _ in await outbox_rows(app, "ord-2")] == ["OrderPlaced", "OrderConfirmed", "OrderPaid"]


async def test_a_payment_captured_event_costs_one_locked_read_of_the_order_and_the_writes(order_settings):
    async with running(order_settings) as (app, client):
        await confirmed_order(client, "ord-warm")
        await confirmed_order(client, "ord-reads")
        # A first event warms the connection: asyncpg looks up a type it has not met yet once per connection.
        async with recorded(app) as rec:
            policy = IdempotentPolicy(rec.database, payments.handler(rec.service))
            assert (
                await policy.process(payment_event("PaymentCaptured", "ord-warm").model_dump_json()) is Outcome.HANDLED
            )
            await rec.statements()
            outcome = await policy.process(payment_event("PaymentCaptured", "ord-reads").model_dump_json())
            statements = await rec.statements()
        assert outcome is Outcome.HANDLED
        # in one transaction: the event id recorded; the order read once, locked; its status, its history row and
        # its event (with the relay's wake-up) in one statement: three round trips and the transaction's two
        assert len(statements) == 5, statements
        begin, first, read, moved, commit = statements
        assert (begin, commit) == ("BEGIN;", "COMMIT;"), statements
        assert first.startswith("INSERT INTO processed_events"), first
        assert read.startswith("SELECT"), read
        assert read.endswith("FOR UPDATE OF orders"), read
        assert "INSERT INTO order_status_history" in moved, moved
        assert "UPDATE orders SET status" in moved, moved
        assert "INSERT INTO outbox" in moved, moved
        assert "pg_notify" in moved, moved
        assert [e for e, _ in await outbox_rows(app, "ord-reads")][-1] == "OrderPaid"


async def test_odd_payment_events_end_acknowledged_or_in_the_dlq_never_in_a_loop(order_settings, aws, provisioned):
    sqs = aws.client("sqs")
    sqs.set_queue_attributes(QueueUrl=provisioned.queues["order-payments"], Attributes={"VisibilityTimeout": "0"})
    async with running(order_settings) as (app, client):
        consumer = await asyncio.to_thread(payment_consumer, app, order_settings)

        # Captured for an order that was cancelled: it can never apply; logged and acknowledged.
        await confirmed_order(client, "ord-cancelled")
        await client.post("/internal/orders/ord-cancelled/cancel", json={"reason": "payment timed out"})
        publish(aws, payment_event("PaymentCaptured", "ord-cancelled"))
        assert (await drain(consumer)).handled == 1
        assert (await client.get("/internal/orders/ord-cancelled")).json()["status"] == "cancelled"

        # Captured for a payment that is not the order's (another attempt's): logged, acknowledged, order unmoved.
        await confirmed_order(client, "ord-other-pay")
        publish(aws, payment_event("PaymentCaptured", "ord-other-pay", payment_id="pay-9"))
        assert (await drain(consumer)).handled == 1
        assert (await client.get("/internal/orders/ord-other-pay")).json()["status"] == "confirmed"

        # A refund that overtook its capture: retried until the capture has landed, then applied.
        await confirmed_order(client, "ord-late")
        publish(aws, payment_event("PaymentRefunded", "ord-late"))
        assert (await consumer.poll_once(wait_s=0)).failed == 1
        publish(aws, payment_event("PaymentCaptured", "ord-late"))
        outcome = await drain(consumer)
        assert outcome.handled == 2
        late = (await client.get("/internal/orders/ord-late")).json()
        assert late["history"] == ["pending", "confirmed", "paid", "refunded"]

        # An order this service never had: redelivered until maxReceiveCount, then it rests in the DLQ.
        ghost = payment_event("PaymentCaptured", "ord-ghost")
        publish(aws, ghost)
        assert (await drain(consumer)).failed == 5
        dead = sqs.receive_message(QueueUrl=provisioned.dlqs["order-payments"], MaxNumberOfMessages=10)["Messages"]
        assert [json.loads(m["Body"])["event_id"] for m in dead] == [str(ghost.event_id)]


async def test_the_relay_publishes_order_confirmed_to_the_notification_and_recommendations_queues(
    aws, database_secret, provisioned
):
    settings = settings_for(aws, database_secret, run_relay=True, relay_idle_s=0.05)
    sqs = aws.client("sqs")
    async with running(settings) as (app, client):
        await confirmed_order(client, "ord-out")
        got: dict[str, list[Event]] = {"notification": [], "recommendations": []}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(got.values()):
            for queue, seen in got.items():
                reply = await asyncio.to_thread(
                    sqs.receive_message, QueueUrl=provisioned.queues[queue], WaitTimeSeconds=0
                )
                seen += [Event.model_validate_json(m["Body"]) for m in reply.get("Messages", [])]
            await asyncio.sleep(0.05)
        for queue, seen in got.items():
            assert [(e.event_type, e.subject) for e in seen] == [("OrderConfirmed", "ord-out")], queue
        assert seen[0].data["lines"][0] == {
            "product_id": "p-mug",
            "name": "Mug",
            "quantity": 2,
            "unit_price_minor": 1250,
        }
        assert seen[0].correlation_id == "chk-1"
        assert ("OrderConfirmed", True) in await outbox_rows(app, "ord-out")


async def test_the_running_service_consumes_payment_events_in_the_background_and_stops_promptly(
    aws, database_secret, provisioned
):
    settings = settings_for(aws, database_secret, run_consumer=True, consumer_wait_s=1)
    app_and_client = running(settings)
    _, client = await app_and_client.__aenter__()
    try:
        await confirmed_order(client, "ord-bg")
        publish(aws, payment_event("PaymentCaptured", "ord-bg"))
        deadline = time.monotonic() + 15
        while (await client.get("/internal/orders/ord-bg")).json()["status"] != "paid":
            assert time.monotonic() < deadline, "the background consumer never moved the order"
            await asyncio.sleep(0.1)
    finally:
        started = time.monotonic()
        await app_and_client.__aexit__(None, None, None)
    assert time.monotonic() - started < 5
