"""Events as data: every event a service publishes is in the model, has a payload schema and a named reader,
and every reader's queue exists and is the one its service consumes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reference import RESOURCES, SERVICES
from reference.events import CONSUMERS, EVENT_TOPICS, PAYLOADS, Event, new_event, payload
from reference.resources import PLANNED_READERS
from services.checkout.domain import outcome_event
from services.order import payments as order_payments
from services.order.domain import EVENT_OF as ORDER_EVENTS
from services.payment.domain import EVENT_OF_STATUS as PAYMENT_EVENTS

PUBLISHED = {
    "order": set(ORDER_EVENTS.values()),
    "payment": set(PAYMENT_EVENTS.values()),
    "checkout": {"CheckoutCompleted", "CheckoutFailed"},
}


def test_the_envelope_refuses_unknown_types_and_future_versions():
    with pytest.raises(ValueError, match="unknown event type"):
        Event(event_type="OrderTeleported", version=1, source="order", subject="o1")
    with pytest.raises(ValueError, match="newer than the model"):
        Event(event_type="OrderConfirmed", version=99, source="order", subject="o1")
    event = new_event("OrderConfirmed", source="order", subject="o1", data={})
    assert (event.topic, event.version) == ("order-events", 1)


def test_every_event_type_of_the_model_has_a_payload_schema():
    assert set(PAYLOADS) == set(EVENT_TOPICS)
    data = {"payment_id": "p1", "order_id": "o1", "amount_minor": 100, "currency": "EUR"}
    event = new_event("PaymentCaptured", source="payment", subject="p1", data=data)
    assert payload(event).amount_minor == 100
    with pytest.raises(ValueError, match="amount_minor"):
        payload(new_event("PaymentCaptured", source="payment", subject="p1", data={"payment_id": "p1"}))


@pytest.mark.parametrize("service", sorted(PUBLISHED))
def test_every_event_a_service_publishes_is_an_event_of_a_topic_it_publishes_to(service):
    for event_type in PUBLISHED[service]:
        assert event_type in EVENT_TOPICS, event_type
        assert service in RESOURCES.topic(EVENT_TOPICS[event_type]).publishers, event_type


def test_the_checkout_events_are_the_ones_its_domain_emits():
    from services.checkout.domain import Checkout, Status

    ended = [Checkout("c", "s", "e", "k", "h", {}, "pm", status=s) for s in (Status.COMPLETED, Status.FAILED)]
    assert {outcome_event(co).event_type for co in ended} == PUBLISHED["checkout"]


def test_every_event_type_has_a_named_consumer():
    unread = sorted(event for event in EVENT_TOPICS if not CONSUMERS.get(event))
    assert unread == [], "published and read by nobody: subscribe a queue or name a planned reader in reference/"
    assert all(c.service for readers in CONSUMERS.values() for c in readers), "a consumer without a service"


def test_every_consumers_queue_exists_and_is_consumed_by_that_service():
    queues = {q.name: q.consumer for q in RESOURCES.queues}
    services = {s.name for s in SERVICES}
    subscribed = [c for readers in CONSUMERS.values() for c in readers if not c.planned]
    assert subscribed, "no consumer reads through a queue: the derivation found nothing"
    for consumer in subscribed:
        assert consumer.queue in queues, f"{consumer.queue} is not a queue of the model"
        assert queues[consumer.queue] == consumer.service
        assert consumer.service in services


def test_a_planned_reader_is_only_named_for_an_event_no_queue_takes_yet_and_says_why():
    for event, reader, why in PLANNED_READERS:
        assert event in EVENT_TOPICS, f"{event} is not an event of the model"
        assert not [c for c in CONSUMERS[event] if not c.planned], f"{event} has a queue now: drop its planned line"
        assert reader
        assert why


def test_the_order_consumer_handles_exactly_the_events_its_queue_is_subscribed_to():
    delivered = {event for event, readers in CONSUMERS.items() for c in readers if c.queue == order_payments.QUEUE}
    assert delivered == set(order_payments.COMMANDS) == {"PaymentCaptured", "PaymentRefunded"}


def test_the_events_table_of_the_docs_names_the_readers_of_the_model():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "commerce-core.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| `[\w-]+` \| (.+) \|$", doc, flags=re.MULTILINE))
    assert set(rows) == set(EVENT_TOPICS)
    for event, readers in CONSUMERS.items():
        assert [r.split(" (")[0].removeprefix("planned: ") for r in rows[event].split("; ")] == [
            c.service for c in readers
        ], event
