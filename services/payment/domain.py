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

from reference.events import Event, new_event
from services.common import errors

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
CIRCUIT_OPEN_REASON = "circuit_open"  # the breaker refused the call: the provider never heard of the payment


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


class PaymentError(errors.DomainError):
    """A rule of the payment model said no; each kind carries its HTTP status (services.common.errors)."""


class InvalidRequest(PaymentError, errors.Invalid):
    """An authorization request breaks a money or method rule; ``field`` names it."""


class IllegalTransition(PaymentError, errors.Conflict):
    title = "Illegal payment transition"

    def __init__(self, operation: Operation, status: PaymentStatus):
        allowed = " or ".join(sorted(TRANSITIONS[operation][0]))
        super().__init__(f"cannot {operation} a payment that is {status} (only one that is {allowed})")
        self.operation, self.status_now = operation, status


class KeyReused(PaymentError, errors.Conflict):
    """The idempotency key belongs to an authorization with a different request."""

    title = "Idempotency key reused"


class PaymentNotFound(PaymentError, errors.NotFound):
    pass


class AuthorizationInProgress(PaymentError, errors.Conflict):
    """Another request with this key is still waiting for the provider."""

    title = "Authorization in progress"


class ProviderRefused(PaymentError):
    """The provider refused a capture, void or refund our records allow: the two disagree."""

    status, title = 502, "Payment provider refused"


class ProviderUnavailable(PaymentError):
    """The provider did not answer; the attempt is recorded and the payment left as the outcome requires."""

    status, title = 504, "Payment provider did not answer"

    def __init__(self, detail: str, payment: Payment):
        super().__init__(detail, payment_id=str(payment.id), payment_status=str(payment.status), reason=payment.reason)
        self.payment = payment


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
            raise InvalidRequest(f"amount_minor must be between 1 and {MAX_AMOUNT_MINOR}", field="amount_minor")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise InvalidRequest("currency must be three capital letters (ISO 4217)", field="currency")
        if self.payment_method not in PAYMENT_METHODS:
            raise InvalidRequest(f"payment_method must be one of {', '.join(PAYMENT_METHODS)}", field="payment_method")

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
        """The payload of this payment's events: what consumers need without calling back.

        Only fields a move sets (``status``, ``reason``) or none changes: the orchestrator builds a move's event
        before the move, which writes it in the same statement (services/payment/service.py, ``_move``).
        """
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
    if outcome == "rejected":
        return S.FAILED, CIRCUIT_OPEN_REASON
    return S.FAILED, "provider_error"


def event(payment: Payment, correlation_id: str | None = None) -> Event:
    """The event a payment's move to its status emits (one per move)."""
    return new_event(
        EVENT_OF_STATUS[payment.status],
        source="payment",
        subject=str(payment.id),
        data=payment.event_data(),
        correlation_id=correlation_id,
    )
