"""The checkout saga as data: its states, the pivot, the ids it derives, and how failures answer.

A checkout moves forward through ``STEPS``; until the order is confirmed (the pivot) every
step can be undone, so a failure compensates backwards; from the pivot on the order exists
and is paid for, so the saga only moves forward (capture, commit stock, clear the cart).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reference.events import Event, new_event
from services.common import errors


class Status(StrEnum):
    STARTED = "started"
    RESERVED = "reserved"
    ORDER_CREATED = "order_created"
    AUTHORIZED = "authorized"
    CONFIRMED = "confirmed"  # the pivot: from here on, forward only
    # Rows saved by earlier versions, which took the three steps after the pivot one at a time; resumed like
    # CONFIRMED (each of those steps is idempotent).
    CAPTURED = "captured"
    STOCK_COMMITTED = "stock_committed"
    COMPLETED = "completed"  # paid, stock committed, and the cart no longer holds what was bought
    FAILED = "failed"  # every completed step was compensated


# After the pivot, capture, stock commit and cart clean-up are one step: they run together (none needs
# another's answer, each is idempotent, none is ever undone), so a checkout waits for the slowest, not the sum.
STEPS = (
    Status.STARTED,
    Status.RESERVED,
    Status.ORDER_CREATED,
    Status.AUTHORIZED,
    Status.CONFIRMED,
    Status.COMPLETED,
)
TERMINAL = frozenset({Status.COMPLETED, Status.FAILED})
FINISHING = frozenset({Status.CONFIRMED, Status.CAPTURED, Status.STOCK_COMMITTED})


def past_pivot(status: Status) -> bool:
    """True once the order is confirmed: from then on the saga finishes rather than undoes."""
    return status in FINISHING or status is Status.COMPLETED


class Reason(StrEnum):
    """Why a checkout failed, and the HTTP status that tells the shopper."""

    CART_NOT_READY = "cart_not_ready"
    OUT_OF_STOCK = "out_of_stock"
    PAYMENT_DECLINED = "payment_declined"
    PAYMENT_TIMEOUT = "payment_timeout"
    UNAVAILABLE = "unavailable"
    ABANDONED = "abandoned"  # a crashed saga the sweeper compensated

    @property
    def http_status(self) -> int:
        return {"cart_not_ready": 409, "out_of_stock": 409, "payment_declined": 402, "payment_timeout": 504}.get(
            self.value, 503
        )


class StepFailed(errors.DomainError):
    """A step failed for a business reason (or after retries): the saga must compensate.

    Inside the saga it is control flow; should one reach a route, it answers as its reason says.
    """

    title = "Checkout step failed"

    def __init__(self, reason: Reason, detail: str):
        super().__init__(detail, status=reason.http_status, reason=reason.value)
        self.reason = reason


class CheckoutFailed(errors.DomainError):
    """The answer to a checkout that ended failed: its reason's status, the checkout id, whether it was undone."""

    title = "Checkout failed"

    def __init__(self, co: Checkout):
        reason = co.failure_reason or Reason.ABANDONED
        super().__init__(
            co.failure_detail or reason.value,
            status=reason.http_status,
            checkout_id=co.checkout_id,
            reason=reason.value,
            compensated=co.compensated,
        )


class BadIdempotencyKey(errors.Invalid):
    location = "header"


class KeyReused(errors.Conflict):
    location = "header"


@dataclass
class Checkout:
    checkout_id: str
    customer_sub: str
    email: str
    idempotency_key: str
    request_hash: str
    shipping_address: dict[str, Any]
    payment_method: str
    status: Status = Status.STARTED
    lines: list[dict[str, Any]] = field(default_factory=list)
    currency: str = ""
    subtotal_minor: int = 0
    shipping_minor: int = 0
    payment_id: str | None = None
    failure_reason: Reason | None = None
    failure_detail: str | None = None
    compensated: bool = False

    @property
    def order_id(self) -> str:
        return f"ord-{self.checkout_id}"

    @property
    def reservation_id(self) -> str:
        return f"chk-{self.checkout_id}"

    @property
    def payment_key(self) -> str:
        return f"checkout:{self.checkout_id}"

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor + self.shipping_minor

    def bought(self) -> dict[str, int]:
        return {line["product_id"]: line["quantity"] for line in self.lines}

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "checkout_id": self.checkout_id,
            "status": self.status.value,
            "order_id": self.order_id if self.status not in (Status.STARTED, Status.RESERVED) else None,
            "payment_id": self.payment_id,
            "currency": self.currency,
            "total_minor": self.total_minor,
            "lines": self.lines,
        }
        if self.failure_reason:
            body["failure"] = {"reason": self.failure_reason.value, "detail": self.failure_detail}
        return body


def new_checkout_id() -> str:
    return uuid.uuid4().hex


def request_hash(body: dict[str, Any]) -> str:
    """What 'the same request' means for an Idempotency-Key: the canonical JSON of its body."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def lines_from_cart(cart: dict[str, Any]) -> tuple[list[dict[str, Any]], str, int]:
    """Order lines, currency and subtotal of a cart the cart service priced; StepFailed if it cannot be bought."""
    if not cart.get("lines"):
        raise StepFailed(Reason.CART_NOT_READY, "the cart is empty")
    if not cart.get("checkout_ready"):
        problems = (
            "; ".join(f"{p['product_id']}: {p['problem']}" for p in cart.get("problems", [])) or "mixed currencies"
        )
        gone = [line for line in cart["lines"] if "name" not in line]  # no longer sold
        short = [line for line in cart["lines"] if "name" in line and line["quantity"] > line.get("available", 0)]
        # Stock the cart sees as short is the same news as a reservation refused: say it the same way.
        reason = Reason.OUT_OF_STOCK if short and not gone else Reason.CART_NOT_READY
        raise StepFailed(reason, f"the cart cannot be bought as it is: {problems}")
    lines = [
        {k: line[k] for k in ("product_id", "name", "quantity", "unit_price_minor")}
        for line in sorted(cart["lines"], key=lambda x: x["product_id"])
    ]
    ((currency, subtotal),) = cart["totals_minor"].items()
    return lines, currency, subtotal


def check_key(key: str | None) -> str:
    """The Idempotency-Key as given, if it is 8-200 visible ASCII characters; else ``BadIdempotencyKey``."""
    if not key or not (8 <= len(key) <= 200) or not key.isascii() or not key.isprintable() or " " in key:
        raise BadIdempotencyKey("send an Idempotency-Key header of 8-200 visible characters", field="Idempotency-Key")
    return key


def outcome_event(co: Checkout) -> Event | None:
    """The event a checkout's state emits: CheckoutCompleted or CheckoutFailed once it ended, else none."""
    if co.status not in TERMINAL:
        return None
    completed = co.status is Status.COMPLETED
    data: dict[str, Any] = {"checkout_id": co.checkout_id, "customer_sub": co.customer_sub, "order_id": co.order_id}
    if not completed:
        data["reason"] = co.failure_reason.value if co.failure_reason else None
    return new_event(
        "CheckoutCompleted" if completed else "CheckoutFailed", source="checkout", subject=co.checkout_id, data=data
    )
