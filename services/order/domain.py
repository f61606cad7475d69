"""The order and its lifecycle, as plain data and rules (no FastAPI, no SQL, no boto3).

An order moves through an explicit state machine (``TRANSITIONS``); every move emits one
event (``event``), which the service writes to the outbox in the move's transaction. A
command whose target state the order has already reached is a no-op, so the checkout saga
and the payment events can repeat any step; any other command that is not in the table is
an ``IllegalTransition`` and changes nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from reference.events import Event, new_event
from services.common import errors


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class Command(enum.StrEnum):
    """What can happen to an order: the saga's calls and the payment events."""

    CONFIRM = "confirm"
    PAY = "pay"  # PaymentCaptured
    FULFIL = "fulfil"
    CANCEL = "cancel"
    REFUND = "refund"  # refund call or PaymentRefunded


S, C = OrderStatus, Command
TARGET = {C.CONFIRM: S.CONFIRMED, C.PAY: S.PAID, C.FULFIL: S.FULFILLED, C.CANCEL: S.CANCELLED, C.REFUND: S.REFUNDED}
TRANSITIONS: dict[tuple[OrderStatus, Command], OrderStatus] = {
    (S.PENDING, C.CONFIRM): S.CONFIRMED,
    (S.PENDING, C.CANCEL): S.CANCELLED,
    (S.CONFIRMED, C.CANCEL): S.CANCELLED,
    (S.CONFIRMED, C.PAY): S.PAID,
    (S.PAID, C.FULFIL): S.FULFILLED,
    (S.PAID, C.REFUND): S.REFUNDED,
    (S.FULFILLED, C.REFUND): S.REFUNDED,
}
EVENT_OF = {
    S.PENDING: "OrderPlaced",
    S.CONFIRMED: "OrderConfirmed",
    S.PAID: "OrderPaid",
    S.FULFILLED: "OrderFulfilled",
    S.CANCELLED: "OrderCancelled",
    S.REFUNDED: "OrderRefunded",
}
TERMINAL = frozenset(s for s in OrderStatus if not any(frm == s for frm, _ in TRANSITIONS))


def reachable(start: OrderStatus, goal: OrderStatus) -> bool:
    """Whether some sequence of legal transitions leads from ``start`` to ``goal`` (or it is ``start``)."""
    seen, todo = {start}, [start]
    while todo:
        here = todo.pop()
        for (frm, _), to in TRANSITIONS.items():
            if frm == here and to not in seen:
                seen.add(to)
                todo.append(to)
    return goal in seen


class Invalid(errors.Invalid):
    """Bad input: ``field`` names what was wrong."""

    def __init__(self, field: str, detail: str):
        super().__init__(f"{field}: {detail}", field=field)


NotFound = errors.NotFound
Conflict = errors.Conflict


class OrderIdReused(Conflict):
    def __init__(self, order_id: str):
        super().__init__(
            f"order {order_id} already exists with a different body; an order id cannot be reused", field="order_id"
        )


class IllegalTransition(Conflict):
    def __init__(self, order_id: str, frm: OrderStatus, command: Command):
        to = TARGET[command]
        super().__init__(
            f"order {order_id} is {frm} and cannot become {to} ({command} is not allowed from {frm})",
            from_status=str(frm),
            to_status=str(to),
        )
        self.frm, self.to = frm, to


@dataclass(frozen=True, slots=True)
class OrderLine:
    product_id: str
    quantity: int
    unit_price_minor: int
    name: str = ""

    @property
    def total_minor(self) -> int:
        return self.quantity * self.unit_price_minor


@dataclass(frozen=True, slots=True)
class Order:
    """An order; money is in integer minor units of ``currency``. ``history`` lists every status reached."""

    id: str
    customer_sub: str
    email: str
    currency: str
    lines: tuple[OrderLine, ...]
    subtotal_minor: int
    total_minor: int
    shipping_minor: int = 0
    shipping_address: dict[str, Any] = field(default_factory=dict)
    checkout_id: str | None = None
    status: OrderStatus = OrderStatus.PENDING
    history: tuple[OrderStatus, ...] = (OrderStatus.PENDING,)
    payment_id: str | None = None
    cancel_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


MAX_LINES = 100
MAX_QUANTITY = 1000


def check_totals(order: Order) -> None:
    """Refuse an order whose lines or sums do not add up; raises ``Invalid`` naming the field."""
    if not order.lines:
        raise Invalid("lines", "an order needs at least one line")
    if len(order.lines) > MAX_LINES:
        raise Invalid("lines", f"at most {MAX_LINES} lines")
    for i, line in enumerate(order.lines):
        if not 0 < line.quantity <= MAX_QUANTITY:
            raise Invalid(f"lines.{i}.quantity", f"must be between 1 and {MAX_QUANTITY}")
        if line.unit_price_minor < 0:
            raise Invalid(f"lines.{i}.unit_price_minor", "must not be negative")
    if len({line.product_id for line in order.lines}) != len(order.lines):
        raise Invalid("lines", "each product may appear on one line only")
    if order.shipping_minor < 0:
        raise Invalid("shipping_minor", "must not be negative")
    lines_sum = sum(line.total_minor for line in order.lines)
    if order.subtotal_minor != lines_sum:
        raise Invalid("subtotal_minor", f"is {order.subtotal_minor} but the lines add up to {lines_sum}")
    if order.total_minor != order.subtotal_minor + order.shipping_minor:
        expected = order.subtotal_minor + order.shipping_minor
        raise Invalid("total_minor", f"is {order.total_minor} but subtotal + shipping is {expected}")


@dataclass(frozen=True, slots=True)
class Decision:
    """What a command does: ``order`` is the result; ``event`` is None when nothing changed (a repeat)."""

    order: Order
    event: str | None = None

    @property
    def changed(self) -> bool:
        return self.event is not None


def decide(order: Order, command: Command, *, payment_id: str | None = None, reason: str | None = None) -> Decision:
    """Apply ``command`` to ``order`` by the table: a move, a no-op for a repeat, or ``IllegalTransition``."""
    target = TARGET[command]
    if command is Command.CONFIRM and payment_id and order.payment_id not in (None, payment_id):
        raise Conflict(
            f"order {order.id} is confirmed with payment {order.payment_id}, not {payment_id}",
            payment_id=order.payment_id,
        )
    if target in order.history:
        return Decision(order)
    to = TRANSITIONS.get((order.status, command))
    if to is None:
        raise IllegalTransition(order.id, order.status, command)
    changes: dict[str, Any] = {"status": to, "history": (*order.history, to)}
    if command is Command.CONFIRM and payment_id:
        changes["payment_id"] = payment_id
    if command is Command.CANCEL:
        changes["cancel_reason"] = reason
    return Decision(replace(order, **changes), EVENT_OF[to])


def event_data(order: Order, previous: OrderStatus | None = None) -> dict[str, Any]:
    """The payload of every order event: enough for notification (e-mail) and recommendations (lines)."""
    return {
        "order_id": order.id,
        "status": str(order.status),
        "previous_status": str(previous) if previous else None,
        "customer_sub": order.customer_sub,
        "email": order.email,
        "currency": order.currency,
        "subtotal_minor": order.subtotal_minor,
        "shipping_minor": order.shipping_minor,
        "total_minor": order.total_minor,
        "lines": [
            {"product_id": x.product_id, "name": x.name, "quantity": x.quantity, "unit_price_minor": x.unit_price_minor}
            for x in order.lines
        ],
        "payment_id": order.payment_id,
        "checkout_id": order.checkout_id,
        "reason": order.cancel_reason if order.status is OrderStatus.CANCELLED else None,
    }


def event(order: Order, previous: OrderStatus | None = None, correlation_id: str | None = None) -> Event:
    """The event of the move of ``order`` (from ``previous``) to its status: what consumers are told."""
    return new_event(
        EVENT_OF[order.status],
        source="order",
        subject=order.id,
        data=event_data(order, previous),
        correlation_id=order.checkout_id or correlation_id,
    )
