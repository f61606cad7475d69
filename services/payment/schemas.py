"""The payment service's request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.common.types import integer, text
from services.payment.domain import CURRENCY_PATTERN, MAX_AMOUNT_MINOR, PAYMENT_METHODS, Attempt, Payment

PaymentMethod = Literal[PAYMENT_METHODS]  # type: ignore[valid-type] - the tuple is the one list of methods


class AuthorizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
    order_id: text(min_length=1, max_length=64)
    amount_minor: integer(ge=1, le=MAX_AMOUNT_MINOR) = Field(description="in minor units (cents)")
    currency: str = Field(pattern=CURRENCY_PATTERN, description="ISO 4217, capital letters")
    customer_sub: text(min_length=1, max_length=64)
    payment_method: PaymentMethod


class PaymentOut(BaseModel):
    payment_id: UUID
    order_id: str
    status: str
    reason: str | None
    amount_minor: int
    currency: str
    customer_sub: str
    payment_method: str
    provider_ref: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, p: Payment) -> PaymentOut:
        return cls(
            payment_id=p.id,
            order_id=p.order_id,
            status=str(p.status),
            reason=p.reason,
            amount_minor=p.amount_minor,
            currency=p.currency,
            customer_sub=p.customer_sub,
            payment_method=p.payment_method,
            provider_ref=p.provider_ref,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class AttemptOut(BaseModel):
    operation: str
    request: dict[str, Any]
    outcome: str
    latency_ms: int
    provider_ref: str | None
    error: str | None
    created_at: datetime | None

    @classmethod
    def of(cls, a: Attempt) -> AttemptOut:
        return cls(
            operation=str(a.operation),
            request=a.request,
            outcome=a.outcome,
            latency_ms=a.latency_ms,
            provider_ref=a.provider_ref,
            error=a.error,
            created_at=a.created_at,
        )


class PaymentDetail(PaymentOut):
    attempts: list[AttemptOut]


class PaymentList(BaseModel):
    items: list[PaymentOut]


class MyPayment(BaseModel):
    """What a shopper sees of their own payment: no provider references."""

    payment_id: UUID
    order_id: str
    status: str
    reason: str | None
    amount_minor: int
    currency: str
    created_at: datetime | None

    @classmethod
    def of(cls, p: Payment) -> MyPayment:
        return cls(
            payment_id=p.id,
            order_id=p.order_id,
            status=str(p.status),
            reason=p.reason,
            amount_minor=p.amount_minor,
            currency=p.currency,
            created_at=p.created_at,
        )


class MyPaymentList(BaseModel):
    items: list[MyPayment]
