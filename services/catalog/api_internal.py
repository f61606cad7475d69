"""Stock reservations for the checkout service, under /internal (the gateway never routes /internal).

``PUT /internal/inventory/reservations/{id}`` holds every line or none. The caller picks
the id (checkout uses its order id), so a retried PUT returns the reservation it already
made instead of holding the stock twice. Holds expire: a reservation neither committed
nor released is freed by the sweeper once ``expires_at`` passes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from services.catalog.deps import CatalogDep, SettingsDep
from services.catalog.domain import Reservation, ReservationLine
from services.catalog.schemas import ReservationIn
from services.common.errors import Conflict, NotFound
from services.common.openapi import errors
from services.common.types import text

router = APIRouter(prefix="/internal/inventory", tags=["internal"])
products = APIRouter(prefix="/internal/products", tags=["internal"])
ReservationId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
MAX_IDS = 100  # a cart holds at most 50 lines (CART_MAX_LINES); a longer list is refused, not cut
ProductIds = Annotated[list[text(min_length=1, max_length=64)], Query(min_length=1, max_length=MAX_IDS)]


@products.get("", summary="Several products with their availability, in one call (the cart's lines)")
async def products_by_id(catalog: CatalogDep, ids: ProductIds) -> Response:
    """``?ids=a&ids=b``: ``{"items": [...], "missing": [...]}``; each item is what ``GET /catalog/products/{id}``
    answers, ``missing`` the ids no product has."""
    return Response(await catalog.products_by_id(ids), media_type="application/json")


def _body(reservation: Reservation) -> dict[str, Any]:
    return {
        "reservation_id": reservation.id,
        "status": reservation.status.value,
        "expires_at": reservation.expires_at.isoformat(),
        "lines": [{"product_id": x.product_id, "quantity": x.quantity} for x in reservation.lines],
    }


@router.put(
    "/reservations/{reservation_id}",
    summary="Hold stock for every line or none (201 when made, 200 when it already was)",
    responses={201: {"description": "held"}} | errors(Conflict, _409="not enough stock, or the id has other lines"),
)
async def reserve(
    catalog: CatalogDep, settings: SettingsDep, reservation_id: ReservationId, body: ReservationIn, response: Response
) -> dict[str, Any]:
    lines = [ReservationLine(x.product_id, x.quantity) for x in body.lines]
    reservation, created = await catalog.reserve(reservation_id, lines, body.ttl_s or settings.reservation_ttl_s)
    response.status_code = 201 if created else 200
    return _body(reservation)


@router.get("/reservations/{reservation_id}", summary="A reservation and its state", responses=errors(NotFound))
async def get_reservation(catalog: CatalogDep, reservation_id: ReservationId) -> dict[str, Any]:
    return _body(await catalog.reservation(reservation_id))


@router.post(
    "/reservations/{reservation_id}/commit",
    summary="Turn the hold into a sale (idempotent)",
    responses=errors(NotFound, Conflict, _409="released or expired"),
)
async def commit(catalog: CatalogDep, reservation_id: ReservationId) -> dict[str, Any]:
    return _body(await catalog.commit(reservation_id))


@router.post(
    "/reservations/{reservation_id}/release",
    summary="Give the held stock back (idempotent)",
    responses=errors(NotFound, Conflict, _409="already committed"),
)
async def release(catalog: CatalogDep, reservation_id: ReservationId) -> dict[str, Any]:
    return _body(await catalog.release(reservation_id))


@router.post("/sweep", summary="Expire the held reservations past their expiry now")
async def sweep(catalog: CatalogDep) -> dict[str, int]:
    return {"expired": await catalog.sweep()}
