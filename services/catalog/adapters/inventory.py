"""Stock and reservations on PostgreSQL, safe under any number of concurrent callers.

A hold is one conditional UPDATE per line (``... where on_hand - reserved >= :qty``): the
row lock PostgreSQL takes makes concurrent holds on one product queue up and re-check
the condition on the row as the previous one left it, so stock is never oversold. Lines
are taken in product-id order, so two multi-line reservations never deadlock, and a
line that cannot be held rolls back the whole transaction (all-or-nothing). A CHECK
constraint (``0 <= reserved <= on_hand``) backs the rule inside the database.

The statements are SQL text compiled once at import and run on asyncpg (``services.common.db``); a
read of one statement runs as its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.catalog import domain
from services.catalog.adapters import events
from services.catalog.domain import Reservation, ReservationLine, ReservationStatus
from services.catalog.ports import InventoryStore
from services.common.db import Database, Query, Session

# Every change takes a new row version (migration 0002) and returns what is available after it.
HOLD = Query(
    "update inventory set reserved = reserved + :qty, updated_at = now(), version = nextval('change_seq') "
    "where product_id = :product_id and on_hand - reserved >= :qty returning on_hand - reserved as available, version"
)
UNHOLD = Query(
    "update inventory set reserved = reserved - :qty, updated_at = now(), version = nextval('change_seq') "
    "where product_id = :product_id returning on_hand - reserved as available, version"
)
TAKE = Query(
    "update inventory set on_hand = on_hand - :qty, reserved = reserved - :qty, updated_at = now(), "
    "version = nextval('change_seq') where product_id = :product_id returning on_hand - reserved as available, version"
)
RESERVE = Query(
    "with made as (insert into reservations (id, status, expires_at)"
    " values (:id, 'held', now() + make_interval(secs => :ttl)) on conflict (id) do nothing returning id, expires_at),"
    " lined as (insert into reservation_lines (reservation_id, product_id, quantity)"
    " select made.id, l.product_id, l.quantity from made,"
    " unnest(cast(:products as varchar[]), cast(:quantities as integer[])) as l(product_id, quantity))"
    " select expires_at from made"
)
AVAILABLE = Query("select on_hand - reserved from inventory where product_id = :product_id")
SET_STOCK = Query(
    "update inventory set on_hand = :on_hand, updated_at = now(), version = nextval('change_seq') "
    "where product_id = :id and reserved <= :on_hand returning on_hand, reserved, version"
)
RESERVED = Query("select reserved from inventory where product_id = :id")
DUE = Query("select id from reservations where status = 'held' and expires_at <= :now order by expires_at limit :limit")


class PostgresInventory(InventoryStore):
    def __init__(self, database: Database):
        self.database = database

    async def set_stock(self, product_id: str, on_hand: int) -> dict[str, int]:
        async with self.database.transaction() as conn:
            row = await conn.fetchrow(SET_STOCK, {"id": product_id, "on_hand": on_hand})
            if row is None:
                reserved = await conn.fetchval(RESERVED, {"id": product_id})
                if reserved is None:
                    raise domain.NotFound(f"no product {product_id}", field="id")
                raise domain.Conflict(
                    f"{reserved} units are reserved; on_hand may not go below that", field="on_hand", reserved=reserved
                )
            on_hand, reserved = row["on_hand"], row["reserved"]
            await events.stock_changed(conn, product_id, on_hand - reserved, row["version"])
        return {"on_hand": on_hand, "reserved": reserved, **domain.availability(on_hand, reserved)}

    async def reserve(
        self, reservation_id: str, lines: Sequence[ReservationLine], ttl_s: int
    ) -> tuple[Reservation, bool]:
        lines = domain.merge_lines(lines)
        async with self.database.transaction() as conn:
            # A concurrent call with the same id waits here until the first one commits or rolls back.
            # One statement: the reservation and, only if it was made, its lines (the holds follow, and a refused
            # one rolls all of it back).
            row = await conn.fetchrow(
                RESERVE,
                {
                    "id": reservation_id,
                    "ttl": ttl_s,
                    "products": [x.product_id for x in lines],
                    "quantities": [x.quantity for x in lines],
                },
            )
            if row is None:
                existing = await _load(conn, reservation_id)
                if existing is None or existing.lines != lines:
                    raise domain.Conflict(
                        f"reservation {reservation_id} exists with other lines; use a new reservation id",
                        field="reservation_id",
                    )
                return existing, False
            for index, line in enumerate(lines):
                held = await conn.fetchrow(HOLD, {"product_id": line.product_id, "qty": line.quantity})
                if held is None:
                    await _refuse(conn, index, line)
                elif held["available"] == 0:  # this hold took the last unit: sold out
                    await events.stock_changed(conn, line.product_id, 0, held["version"])
        return Reservation(reservation_id, ReservationStatus.HELD, row["expires_at"], lines), True

    async def release(self, reservation_id: str) -> Reservation:
        return await self._finish(reservation_id, ReservationStatus.RELEASED, UNHOLD, expired_ok=True)

    async def commit(self, reservation_id: str) -> Reservation:
        reservation = await self._finish(reservation_id, ReservationStatus.COMMITTED, TAKE, expired_ok=False)
        if reservation.status == ReservationStatus.HELD:  # held, but past its expiry: expire it now
            reservation = await self._finish(reservation_id, ReservationStatus.EXPIRED, UNHOLD, expired_ok=True)
        return reservation

    async def get(self, reservation_id: str) -> Reservation | None:
        return _reservation(reservation_id, await self.database.fetchrow(LOAD, {"id": reservation_id}))

    async def sweep(self, now: datetime | None = None, limit: int = 100) -> list[Reservation]:
        due = await self.database.fetch(DUE, {"now": now or datetime.now(UTC), "limit": limit})
        ids = [r["id"] for r in due]
        expired = []
        for reservation_id in ids:  # one transaction each, lines in order: no deadlock with holds
            done = await self._finish(reservation_id, ReservationStatus.EXPIRED, UNHOLD, expired_ok=True)
            if done.status == ReservationStatus.EXPIRED:
                expired.append(done)
        return expired

    async def _finish(
        self, reservation_id: str, status: ReservationStatus, apply: Query, *, expired_ok: bool
    ) -> Reservation:
        """Move a held reservation to ``status`` and apply its lines; else report the state it is in."""
        async with self.database.transaction() as conn:
            params = {"id": reservation_id, "new": status.value, "expired_ok": expired_ok}
            row = await conn.fetchrow(FINISH, params)
            reservation = _reservation(reservation_id, row, status if row is not None and row["moved"] else None)
            if reservation is None:
                raise domain.NotFound(f"no reservation {reservation_id}", field="reservation_id")
            if row["moved"]:
                for line in reservation.lines:  # in product-id order, as holds take them: no deadlock
                    after = await conn.fetchrow(apply, {"product_id": line.product_id, "qty": line.quantity})
                    # giving units back to a product that was sold out puts it back in stock
                    if apply is UNHOLD and after is not None and after["available"] == line.quantity:
                        await events.stock_changed(conn, line.product_id, after["available"], after["version"])
        return reservation


# A reservation's lines as one JSON array of [product_id, quantity], in product-id order (as holds take them).
LINES = (
    "(select coalesce(json_agg(json_build_array(l.product_id, l.quantity) order by l.product_id), '[]')"
    " from reservation_lines l where l.reservation_id = r.id) as lines"
)
LOAD = Query("select status, expires_at, " + LINES + " from reservations r where id = :id")  # noqa: S608 - constants
# The status move and the reservation as it was before it, in one statement (``moved``: whether it moved).
FINISH = Query(
    "with moved as (update reservations set status = :new, updated_at = now()"  # noqa: S608 - constants only
    " where id = :id and status = 'held' and (:expired_ok or expires_at > now()) returning id)"
    " select r.status, r.expires_at, exists(select from moved) as moved, "
    + LINES
    + " from reservations r where id = :id"
)


async def _load(conn: Session, reservation_id: str) -> Reservation | None:
    """The reservation and its lines, in one statement."""
    return _reservation(reservation_id, await conn.fetchrow(LOAD, {"id": reservation_id}))


def _reservation(reservation_id: str, row: Any, status: ReservationStatus | None = None) -> Reservation | None:
    if row is None:
        return None
    return Reservation(
        reservation_id,
        status or ReservationStatus(row["status"]),
        row["expires_at"],
        tuple(ReservationLine(product_id, quantity) for product_id, quantity in row["lines"]),
    )


async def _refuse(conn: Session, index: int, line: ReservationLine) -> None:
    available = await conn.fetchval(AVAILABLE, {"product_id": line.product_id})
    if available is None:
        raise domain.Invalid(f"no product {line.product_id}", field=f"lines.{index}.product_id")
    raise domain.InsufficientStock(line.product_id, line.quantity, available)
