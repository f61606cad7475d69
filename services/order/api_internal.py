"""Routes for the checkout saga, under /internal (the gateway never routes /internal).

Every write is idempotent: creating an order again with the same id and body returns it;
a transition the order has already made returns the order unchanged. See docs/commerce-core.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from services.common.context import request_id
from services.common.errors import Conflict, NotFound
from services.common.openapi import errors
from services.common.types import text
from services.order.deps import OrdersDep
from services.order.domain import Command
from services.order.schemas import CancelIn, ConfirmIn, OrderIn, order_out

router = APIRouter(prefix="/internal/orders", tags=["internal"])
OrderId = Annotated[text(min_length=1, max_length=100), Path()]
CONFLICT = errors(
    NotFound, Conflict, _409="the transition is not allowed from the order's state (from_status, to_status)"
)


@router.post(
    "",
    summary="Create a pending order (201), or return the same one again (200)",
    status_code=201,
    responses={200: {"description": "the same order again"}} | errors(Conflict, _409="the id exists with another body"),
)
async def create_order(orders: OrdersDep, body: OrderIn, response: Response) -> dict[str, Any]:
    stored, created = await orders.place(body.to_order(), body.fingerprint(), request_id.get())
    response.status_code = 201 if created else 200
    return order_out(stored)


@router.get("/{order_id}", summary="Any order, by id", responses=errors(NotFound))
async def get_order(orders: OrdersDep, order_id: OrderId) -> dict[str, Any]:
    return order_out(await orders.get(order_id))


@router.post("/{order_id}/confirm", summary="pending -> confirmed, with its authorized payment", responses=CONFLICT)
async def confirm(orders: OrdersDep, order_id: OrderId, body: ConfirmIn) -> dict[str, Any]:
    return await _apply(orders, order_id, Command.CONFIRM, payment_id=body.payment_id)


@router.post("/{order_id}/cancel", summary="pending or confirmed -> cancelled", responses=CONFLICT)
async def cancel(orders: OrdersDep, order_id: OrderId, body: CancelIn) -> dict[str, Any]:
    return await _apply(orders, order_id, Command.CANCEL, reason=body.reason)


@router.post("/{order_id}/fulfil", summary="paid -> fulfilled", responses=CONFLICT)
async def fulfil(orders: OrdersDep, order_id: OrderId) -> dict[str, Any]:
    return await _apply(orders, order_id, Command.FULFIL)


@router.post("/{order_id}/refund", summary="paid or fulfilled -> refunded", responses=CONFLICT)
async def refund(orders: OrdersDep, order_id: OrderId) -> dict[str, Any]:
    return await _apply(orders, order_id, Command.REFUND)


async def _apply(orders: OrdersDep, order_id: str, command: Command, **args: Any) -> dict[str, Any]:
    return order_out(await orders.apply(order_id, command, correlation_id=request_id.get(), **args))
