"""Request bodies and responses of the order API: every bound a field has is checked here."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from services.common.types import FlatJson, integer, name, text
from services.order import domain
from services.order.domain import Order, OrderLine

Id = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
ProductId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[integer(ge=0, le=10**12), Field(description="integer minor units (cents)")]
Reason = name(max_length=500)
LineName = name(min_length=0, max_length=200)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineIn(Body):
    product_id: ProductId
    quantity: integer(ge=1, le=domain.MAX_QUANTITY)
    unit_price_minor: Money
    name: LineName = ""


class OrderIn(Body):
    """What checkout sends to create an order (docs/commerce-core.md)."""

    order_id: Id
    customer_sub: text(min_length=1, max_length=128)
    email: EmailStr
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=domain.MAX_LINES)]
    currency: Currency
    subtotal_minor: Money
    shipping_minor: Money = 0
    total_minor: Money
    shipping_address: Annotated[FlatJson, Field(max_length=20)] = Field(default_factory=dict)
    checkout_id: Id | None = None

    def to_order(self) -> Order:
        return Order(
            id=self.order_id,
            customer_sub=self.customer_sub,
            email=str(self.email),
            currency=self.currency,
            lines=tuple(OrderLine(x.product_id, x.quantity, x.unit_price_minor, x.name) for x in self.lines),
            subtotal_minor=self.subtotal_minor,
            shipping_minor=self.shipping_minor,
            total_minor=self.total_minor,
            shipping_address=self.shipping_address,
            checkout_id=self.checkout_id,
        )

    def fingerprint(self) -> str:
        """A hash of the body as validated: the same order sent twice has the same fingerprint."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class ConfirmIn(Body):
    payment_id: Id


class CancelIn(Body):
    reason: Reason


def order_out(order: Order) -> dict[str, Any]:
    """An order as the API shows it."""
    return {
        "order_id": order.id,
        "status": str(order.status),
        "customer_sub": order.customer_sub,
        "email": order.email,
        "currency": order.currency,
        "lines": [
            {
                "product_id": x.product_id,
                "name": x.name,
                "quantity": x.quantity,
                "unit_price_minor": x.unit_price_minor,
                "total_minor": x.total_minor,
            }
            for x in order.lines
        ],
        "subtotal_minor": order.subtotal_minor,
        "shipping_minor": order.shipping_minor,
        "total_minor": order.total_minor,
        "shipping_address": order.shipping_address,
        "checkout_id": order.checkout_id,
        "payment_id": order.payment_id,
        "cancel_reason": order.cancel_reason,
        "history": [str(s) for s in order.history],
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "updated_at": order.updated_at.isoformat() if order.updated_at else None,
    }
