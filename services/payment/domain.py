"""The payment orchestrator's model and rules: plain data, no FastAPI, no SQL, no provider.

A payment is created ``pending`` (its idempotency key is taken before the provider is
called), then settled by the authorization's outcome, then moved along by capture, void
and refund::

    pending --authorize--> authorized --capture--> captured --refund--> refunded
       |                       |
       +--> declined           +--void--> voided
       +--> failed --void--> voided      (a timed-out authorization may hold funds)

Money is an integer number of minor units (cents) and an ISO 4217 currency code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

MAX_AMOUNT_MINOR = 100_000_000  # one million in major units: larger sums are a mistake, not a shop order
CURRENCY_PATTERN = r"^[A-Z]{3}$"

# Test payment methods of the simulated provider: the first takes its outcome from the
# configured rates, the others force one (docs/commerce-core.md).
RANDOM_CARD = "pm_card_visa"
CARD_OK = "pm_card_ok"
CARD_DECLINED = "pm_card_declined"
CARD_TIMEOUT = "pm_card_timeout"
PAYMENT_METHODS = (RANDOM_CARD, CARD_OK, CARD_DECLINED, CARD_TIMEOUT)

TIMEOUT_REASON = "provider_timeout"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    FAILED = "failed"
    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"


class Operation(enum.StrEnum):
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


S = PaymentStatus
# For each follow-up operation: the states it may start from, and the state it leads to.
TRANSITIONS: dict[Operation, tuple[frozenset[PaymentStatus], PaymentStatus]] = {
    Operation.CAPTURE: (frozenset({S.AUTHORIZED}), S.CAPTURED),
    # A failed (timed-out) authorization may have succeeded at the provider: voiding it is
    # how the caller makes sure no funds stay held.
    Operation.VOID: (frozenset({S.AUTHORIZED, S.FAILED}), S.VOIDED),
    Operation.REFUND: (frozenset({S.CAPTURED}), S.REFUNDED),
}
EVENT_OF_STATUS = {
    S.AUTHORIZED: "PaymentAuthorized",
    S.DECLINED: "PaymentFailed",
    S.FAILED: "PaymentFailed",
    S.CAPTURED: "PaymentCaptured",
    S.VOIDED: "PaymentVoided",
    S.REFUNDED: "PaymentRefunded",
}


class PaymentError(Exception):
    """A rule of the model was broken; the message says which."""


class IllegalTransition(PaymentError):
    def __init__(self, operation: Operation, status: PaymentStatus):
        allowed = " or ".join(sorted(TRANSITIONS[operation][0]))
        super().__init__(f"cannot {operation} a payment that is {status} (only one that is {allowed})")
        self.operation, self.status = operation, status


class KeyReused(PaymentError):
    """The idempotency key belongs to an authorization with a different request."""


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """What the checkout saga asks for; the idempotency key is derived from its checkout id."""

    idempotency_key: str
    order_id: str
    amount_minor: int
    currency: str
    customer_sub: str
    payment_method: str

    def __post_init__(self) -> None:
        if not 0 < self.amount_minor <= MAX_AMOUNT_MINOR:
            raise PaymentError(f"amount_minor must be between 1 and {MAX_AMOUNT_MINOR}")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise PaymentError("currency must be three capital letters (ISO 4217)")
        if self.payment_method not in PAYMENT_METHODS:
            raise PaymentError(f"payment_method must be one of {', '.join(PAYMENT_METHODS)}")

    def same_request(self, payment: Payment) -> bool:
        """Whether ``payment`` was created by this very request (a retry), not another one reusing its key."""
        return (self.order_id, self.amount_minor, self.currency, self.customer_sub, self.payment_method) == (
            payment.order_id,
            payment.amount_minor,
            payment.currency,
            payment.customer_sub,
            payment.payment_method,
        )


@dataclass(frozen=True, slots=True)
class Payment:
    id: UUID
    idempotency_key: str
    order_id: str
    customer_sub: str
    amount_minor: int
    currency: str
    payment_method: str
    status: PaymentStatus
    reason: str | None = None
    provider_ref: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def event_data(self) -> dict[str, Any]:
        """The payload of this payment's events: what consumers need without calling back."""
        data: dict[str, Any] = {
            "payment_id": str(self.id),
            "order_id": self.order_id,
            "customer_sub": self.customer_sub,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "status": str(self.status),
        }
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call to the provider, as it happened: the audit trail of every payment."""

    payment_id: UUID
    operation: Operation
    request: dict[str, Any]
    outcome: str  # ok, declined, timeout, error
    latency_ms: int
    provider_ref: str | None = None
    error: str | None = None
    created_at: datetime | None = field(default=None, compare=False)


def next_status(operation: Operation, status: PaymentStatus) -> PaymentStatus | None:
    """The state ``operation`` leads to from ``status``; None when the payment is already there (a repeat).

    Raises IllegalTransition when the operation is not allowed from ``status``.
    """
    sources, target = TRANSITIONS[operation]
    if status == target:
        return None
    if status not in sources:
        raise IllegalTransition(operation, status)
    return target


def settled_status(outcome: str, reason: str | None = None) -> tuple[PaymentStatus, str | None]:
    """The state and reason an authorization outcome leaves a pending payment in."""
    if outcome == "ok":
        return S.AUTHORIZED, None
    if outcome == "declined":
        return S.DECLINED, reason or "card_declined"
    if outcome == "timeout":
        return S.FAILED, TIMEOUT_REASON
    return S.FAILED, "provider_error"
