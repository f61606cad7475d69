"""Catalog events, written to the outbox inside the transaction of the write they describe.

What is published (topic catalog-events; the search indexer is its consumer):

- ``ProductChanged`` after every admin write to a product (create, edit, new image): the
  whole product as the index needs it, its ``product_version``, and its stock as read in
  the same transaction (``available``, ``stock_version``).
- ``StockChanged`` when an admin sets the stock, and when a reservation step flips a
  product between in stock and sold out (a hold taking the last unit; a release or an
  expiry giving units back to a sold-out product). Other holds, and commits (which do
  not change what is available), publish nothing: search ranks by in-stock, not by count.
- ``ProductDeleted`` with the version taken by the delete.

The seed writes no events: 1,200 of them would only repeat what the search seed's full
reindex reads from the tables anyway.
"""

from __future__ import annotations

from typing import Any

from reference.events import new_event
from services.catalog import domain
from services.common import outbox
from services.common.context import request_id
from services.common.db import Query, Session

SOURCE = "catalog"
SNAPSHOT = Query(
    """
    select p.id, p.name, p.description, p.price_minor, p.currency, p.attributes, p.category_slug,
           p.image_key, p.created_at, p.version, i.on_hand - i.reserved as available, i.version as stock_version
    from products p left join inventory i on i.product_id = p.id where p.id = :id
    """
)
NEXT_VERSION = Query("select nextval('change_seq')")


def product_data(row: Any) -> dict[str, Any]:
    """The ProductChanged payload of a SNAPSHOT row (also what a full reindex reads)."""
    data = {
        "product_id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "category": row["category_slug"],
        "price_minor": row["price_minor"],
        "currency": row["currency"],
        "attributes": row["attributes"],
        "created_at": row["created_at"].isoformat(),
        "image_url": domain.image_url(row["image_key"]),
        "product_version": row["version"],
    }
    if row["available"] is not None:
        data |= {"available": row["available"], "stock_version": row["stock_version"]}
    return data


async def product_changed(conn: Session, product_id: str) -> None:
    row = await conn.fetchrow(SNAPSHOT, {"id": product_id})
    if row is not None:
        await _enqueue(conn, "ProductChanged", product_id, product_data(row))


async def stock_changed(conn: Session, product_id: str, available: int, stock_version: int) -> None:
    data = {"product_id": product_id, "available": available, "stock_version": stock_version}
    await _enqueue(conn, "StockChanged", product_id, data)


async def product_deleted(conn: Session, product_id: str) -> None:
    version = await conn.fetchval(NEXT_VERSION)
    await _enqueue(conn, "ProductDeleted", product_id, {"product_id": product_id, "product_version": version})


async def _enqueue(conn: Session, event_type: str, product_id: str, data: dict[str, Any]) -> None:
    rid = request_id.get()
    correlation = rid if rid != "-" else None
    event = new_event(event_type, source=SOURCE, subject=product_id, data=data, correlation_id=correlation)
    await outbox.enqueue(conn, event)
