"""The public routes: a signed-in customer's own orders (the gateway forwards /api/orders here)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from services.common.errors import NotFound
from services.common.identity import User
from services.common.openapi import errors
from services.common.types import query_int, text
from services.order.deps import OrdersDep
from services.order.schemas import order_out

router = APIRouter(prefix="/orders", tags=["orders"])
OrderId = Annotated[text(min_length=1, max_length=100), Path()]


@router.get("", summary="The caller's orders, newest first")
async def list_orders(
    orders: OrdersDep,
    user: User,
    page: Annotated[query_int(ge=1, le=100_000), Query()] = 1,
    page_size: Annotated[query_int(ge=1, le=100) | None, Query()] = None,
) -> dict[str, Any]:
    found = await orders.page(user.sub, page, page_size)
    return {**found, "items": [order_out(o) for o in found["items"]]}


@router.get("/{order_id}", summary="One of the caller's orders (someone else's is 404)", responses=errors(NotFound))
async def get_order(orders: OrdersDep, user: User, order_id: OrderId) -> dict[str, Any]:
    return order_out(await orders.get(order_id, customer_sub=user.sub))
