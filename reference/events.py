"""The event envelope every domain event travels in, versioned, and its check against the model.

The envelope is the SNS message body (raw delivery hands it to SQS consumers unchanged);
``event_type`` and ``version`` are also message attributes, which filter policies read.
``PAYLOADS`` gives the schema of ``data`` per event type; ``payload(event)`` parses it.
``CONSUMERS`` names who reads each event type: the service behind each queue subscribed to it,
or a planned reader with no queue yet (``resources.PLANNED_READERS``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reference.resources import PLANNED_READERS, QUEUES, SUBSCRIPTIONS, TOPICS

ENVELOPE_VERSION = 1
EVENT_TOPICS = {event.name: topic.name for topic in TOPICS for event in topic.events}
EVENT_VERSIONS = {event.name: event.version for topic in TOPICS for event in topic.events}


@dataclass(frozen=True, slots=True)
class Consumer:
    """Who reads an event type: ``service`` through ``queue``, or, with no queue, a planned reader and why."""

    service: str
    queue: str | None = None
    why: str = ""

    @property
    def planned(self) -> bool:
        return self.queue is None


def _consumers() -> dict[str, tuple[Consumer, ...]]:
    services = {q.name: q.consumer for q in QUEUES}
    found: dict[str, list[Consumer]] = {event: [] for event in EVENT_TOPICS}
    for sub in SUBSCRIPTIONS:
        for event, topic in EVENT_TOPICS.items():
            if topic == sub.topic and (not sub.event_types or event in sub.event_types):
                found[event].append(Consumer(services.get(sub.queue, ""), sub.queue))
    for event, reader, why in PLANNED_READERS:
        found.setdefault(event, []).append(Consumer(reader, None, why))
    return {event: tuple(readers) for event, readers in found.items()}


CONSUMERS: dict[str, tuple[Consumer, ...]] = _consumers()


class Event(BaseModel):
    """One domain event. ``event_id`` is what consumers deduplicate on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    version: int
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source: str = Field(description="the service that wrote it")
    subject: str = Field(description="the aggregate it is about, e.g. an order id")
    correlation_id: str | None = Field(None, description="request id or saga id that caused it")
    envelope: int = ENVELOPE_VERSION
    data: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> Event:
        if self.event_type not in EVENT_TOPICS:
            raise ValueError(f"unknown event type {self.event_type!r}")
        if self.version > EVENT_VERSIONS[self.event_type]:
            raise ValueError(
                f"{self.event_type} v{self.version} is newer than the model's v{EVENT_VERSIONS[self.event_type]}"
            )
        return self

    @property
    def topic(self) -> str:
        """The logical topic this event is published to."""
        return EVENT_TOPICS[self.event_type]

    def attributes(self) -> dict[str, dict[str, str]]:
        """SNS/SQS message attributes: what filter policies match on."""
        return {
            "event_type": {"DataType": "String", "StringValue": self.event_type},
            "event_version": {"DataType": "Number", "StringValue": str(self.version)},
            "source": {"DataType": "String", "StringValue": self.source},
        }


def new_event(
    event_type: str, *, source: str, subject: str, data: dict[str, Any], correlation_id: str | None = None
) -> Event:
    """An event of the model's current version for ``event_type``."""
    return Event(
        event_type=event_type,
        version=EVENT_VERSIONS.get(event_type, 0),
        source=source,
        subject=subject,
        data=data,
        correlation_id=correlation_id,
    )


# --------------------------------------------------------------------------- payloads (``data``), v1
# Extra fields are allowed (a newer producer may add some); the ones named here are required.


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class OrderLineData(_Payload):
    product_id: str
    name: str
    quantity: int = Field(gt=0)
    unit_price_minor: int = Field(ge=0)


class OrderData(_Payload):
    order_id: str
    customer_sub: str
    email: str | None = None
    currency: str = Field(min_length=3, max_length=3)
    total_minor: int = Field(ge=0)
    lines: list[OrderLineData]
    status: str
    reason: str | None = None


class PaymentData(_Payload):
    payment_id: str
    order_id: str
    amount_minor: int = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    reason: str | None = None


class CheckoutData(_Payload):
    checkout_id: str
    customer_sub: str
    order_id: str | None = None
    reason: str | None = None


class ProductData(_Payload):
    product_id: str
    name: str | None = None  # absent on ProductDeleted
    available: int | None = None


_TOPIC_PAYLOADS = {
    "order-events": OrderData,
    "payment-events": PaymentData,
    "checkout-events": CheckoutData,
    "catalog-events": ProductData,
}
PAYLOADS: dict[str, type[BaseModel]] = {event: _TOPIC_PAYLOADS[topic] for event, topic in EVENT_TOPICS.items()}


def payload(event: Event) -> BaseModel:
    """The event's ``data`` parsed with its type's schema (raises pydantic.ValidationError if it breaks it)."""
    return PAYLOADS[event.event_type].model_validate(event.data)
