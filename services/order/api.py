"""The public routes: a signed-in customer's own orders (the gateway forwards /api/orders here)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from services.common.identity import User
from services.order import domain
from services.order.deps import OrdersDep, SettingsDep
from services.order.schemas import order_out

router = APIRouter(prefix="/orders", tags=["orders"])
OrderId = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("", summary="The caller's orders, newest first")
async def list_orders(
    orders: OrdersDep,
    settings: SettingsDep,
    user: User,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> dict[str, Any]:
    size = page_size or settings.page_size
    items, total = await orders.page(user.sub, page, size)
    return {
        "items": [order_out(o) for o in items],
        "page": page,
        "page_size": size,
        "total": total,
        "next_page": page + 1 if page * size < total else None,
    }


@router.get("/{order_id}", summary="One of the caller's orders (someone else's is 404)")
async def get_order(orders: OrdersDep, user: User, order_id: OrderId) -> dict[str, Any]:
    order = await orders.get(order_id)
    if order is None or order.customer_sub != user.sub:
        # 404 rather than 403: whether someone else's order id exists is not the caller's business.
        raise domain.NotFound(f"no order {order_id}", field="order_id")
    return order_out(order)
