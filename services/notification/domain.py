"""What the notification service decides, free of I/O: who an event's e-mail goes to and what it says.

An order event names its customer and e-mail address; a payment event names only the order,
so the address is the one the payment carries (a producer may add ``email`` and
``customer_sub``) or the one learned from an earlier event of the same order. An event
whose recipient is unknown or malformed is *skipped* (recorded, never retried): retrying
cannot make an address appear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from reference.events import Event, OrderData, PaymentData, payload
from services.common.errors import Invalid

# The events the "notification" queue is subscribed to (reference/resources.py), each with its template.
TEMPLATES = {
    "OrderConfirmed": "order_confirmed",
    "OrderCancelled": "order_cancelled",
    "OrderFulfilled": "order_fulfilled",
    "OrderRefunded": "order_refunded",
    "PaymentFailed": "payment_failed",
    "PaymentRefunded": "payment_refunded",
}
# ISO 4217 currencies whose minor unit is not the cent; every other one has 2 decimals.
MINOR_DIGITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}
ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")
MAX_ADDRESS = 254


class NotSubscribed(Invalid):
    """An event the queue's filter policy should have kept out: it fails, and ends in the DLQ for a look."""


@dataclass(frozen=True, slots=True)
class Contact:
    """Who placed an order, learned from its order events."""

    order_id: str
    customer_sub: str
    email: str | None


@dataclass(frozen=True, slots=True)
class Notice:
    """The e-mail one event calls for: a recipient and the template's values, or the reason there is none."""

    event_id: UUID
    event_type: str
    template: str
    order_id: str
    customer_sub: str | None
    to: str | None
    values: dict[str, Any] = field(default_factory=dict)
    skip_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Email:
    """A rendered e-mail."""

    to: str
    subject: str
    text: str
    html: str


def money(amount_minor: int, currency: str) -> str:
    """``money(123456, "EUR")`` -> ``"EUR 1,234.56"``; ``money(500, "JPY")`` -> ``"JPY 500"``."""
    digits = MINOR_DIGITS.get(currency.upper(), 2)
    value = amount_minor / 10**digits
    return f"{currency.upper()} {value:,.{digits}f}"


def valid_address(address: str | None) -> bool:
    return bool(address) and len(address) <= MAX_ADDRESS and ADDRESS.fullmatch(address) is not None


def contact_of(event: Event) -> Contact | None:
    """The order's customer, if ``event`` is an order event (raises if its payload breaks the schema)."""
    if event.event_type.startswith("Order"):
        data = payload(event)
        assert isinstance(data, OrderData)
        return Contact(data.order_id, data.customer_sub, data.email)
    return None


def notice_for(event: Event, known: Contact | None) -> Notice:
    """The e-mail ``event`` calls for; ``known`` is what an earlier event told about its order."""
    template = TEMPLATES.get(event.event_type)
    if template is None:
        raise NotSubscribed(f"no e-mail is sent for {event.event_type}: the queue's filter should not let it in")
    data = payload(event)
    if isinstance(data, OrderData):
        to, sub, values = data.email, data.customer_sub, _order_values(data)
    else:
        assert isinstance(data, PaymentData)
        extra = data.model_extra or {}
        to = extra.get("email") or (known.email if known else None)
        sub = extra.get("customer_sub") or (known.customer_sub if known else None)
        values = _payment_values(data)
    base = Notice(event.event_id, event.event_type, template, values["order_id"], sub, None, values)
    if not to:
        return replace(base, skip_reason=f"no e-mail address is known for order {base.order_id}")
    if not valid_address(to):
        return replace(base, skip_reason="the e-mail address is malformed")
    return replace(base, to=to)


def _order_values(data: OrderData) -> dict[str, Any]:
    lines = [
        {
            "name": line.name,
            "quantity": line.quantity,
            "unit_price": money(line.unit_price_minor, data.currency),
            "amount": money(line.unit_price_minor * line.quantity, data.currency),
        }
        for line in data.lines
    ]
    return {
        "order_id": data.order_id,
        "total": money(data.total_minor, data.currency),
        "lines": lines,
        "status": data.status,
        "reason": data.reason,
    }


def _payment_values(data: PaymentData) -> dict[str, Any]:
    return {
        "order_id": data.order_id,
        "payment_id": data.payment_id,
        "amount": money(data.amount_minor, data.currency),
        "reason": data.reason,
    }
