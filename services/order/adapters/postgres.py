"""Orders in PostgreSQL (Aurora): statements written in SQLAlchemy Core, compiled once and run on asyncpg
(``services.common.db``).

An order is read in ONE statement, its lines and history folded in by subqueries; a transition
reads it so with its row locked (``FOR UPDATE OF orders``), then writes the status, a history
row and the event to the outbox in one statement of the caller's unit of work: either all three
are there or none is. A new order, its lines, its first history row and its event are one
statement, its own transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, aggregate_order_by, insert

from reference.events import Event
from services.common import consumer, outbox
from services.common.consumer import UnitOfWork
from services.common.db import Database, Query, Record
from services.order.domain import Order, OrderLine, OrderStatus

metadata = sa.MetaData()
orders = sa.Table(
    "orders",
    metadata,
    sa.Column("order_id", sa.String(100), primary_key=True),
    sa.Column("customer_sub", sa.String(128), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("subtotal_minor", sa.BigInteger, nullable=False),
    sa.Column("shipping_minor", sa.BigInteger, nullable=False),
    sa.Column("total_minor", sa.BigInteger, nullable=False),
    sa.Column("shipping_address", JSONB, nullable=False),
    sa.Column("checkout_id", sa.String(100)),
    sa.Column("payment_id", sa.String(100)),
    sa.Column("cancel_reason", sa.String(500)),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("order_id", sa.String(100), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("product_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price_minor", sa.BigInteger, nullable=False),
)
ORDER_COLUMNS = (
    "order_id", "customer_sub", "email", "status", "currency", "subtotal_minor", "shipping_minor", "total_minor",
    "shipping_address", "checkout_id", "fingerprint",
)  # fmt: skip
history = sa.Table(
    "order_status_history",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(100), nullable=False),
    sa.Column("from_status", sa.String(16)),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False),
    sa.Column("reason", sa.String(500)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)


def _select() -> sa.Select[Any]:
    """Orders with their lines (a JSON array) and the statuses they reached (an array), in one statement."""
    line = sa.func.jsonb_build_object(
        "product_id", order_lines.c.product_id, "name", order_lines.c.name,
        "quantity", order_lines.c.quantity, "unit_price_minor", order_lines.c.unit_price_minor,
    )  # fmt: skip
    lines = (
        sa.select(sa.func.jsonb_agg(aggregate_order_by(line, order_lines.c.line_no)))
        .where(order_lines.c.order_id == orders.c.order_id)
        .scalar_subquery()
    )
    reached = (
        sa.select(sa.func.array_agg(aggregate_order_by(history.c.to_status, history.c.id)))
        .where(history.c.order_id == orders.c.order_id)
        .scalar_subquery()
    )
    return sa.select(orders, lines.label("lines"), reached.label("reached"))


# Every statement compiled once, at import, and run with bound parameters (issue 13: docs/commerce-core.md). A
# parameter is not named as a column of the table an INSERT/UPDATE writes unless that column is written
# (SQLAlchemy would write a same-named one).
_KEY = sa.bindparam("key", type_=sa.String)
_BY_ID = _select().where(orders.c.order_id == _KEY)
BY_ID = Query(_BY_ID)
LOCK = Query(_BY_ID.with_for_update(of=orders))
_SUB = sa.bindparam("customer_sub", type_=sa.String)
COUNT_OF = Query(sa.select(sa.func.count()).where(orders.c.customer_sub == _SUB))
PAGE_OF = Query(
    _select()
    .where(orders.c.customer_sub == _SUB)
    .order_by(orders.c.created_at.desc(), orders.c.order_id.desc())
    .limit(sa.bindparam("limit", type_=sa.BigInteger))
    .offset(sa.bindparam("offset", type_=sa.BigInteger))
)

_MADE = (
    insert(orders)
    .values({c: sa.bindparam(c) for c in ORDER_COLUMNS})
    .on_conflict_do_nothing(index_elements=["order_id"])
    .returning(orders.c.order_id, orders.c.created_at, orders.c.updated_at)
    .cte("made")
)
# The lines as one array per column, unnested (line_no from their order): a statement whatever their count.
_GIVEN = (
    sa.func.unnest(
        sa.bindparam("line_product_ids", type_=ARRAY(sa.String)),
        sa.bindparam("line_names", type_=ARRAY(sa.String)),
        sa.bindparam("line_quantities", type_=ARRAY(sa.Integer)),
        sa.bindparam("line_unit_prices", type_=ARRAY(sa.BigInteger)),
    )
    .table_valued(
        sa.column("product_id", sa.String),
        sa.column("name", sa.String),
        sa.column("quantity", sa.Integer),
        sa.column("unit_price_minor", sa.BigInteger),
        with_ordinality="line_no",
    )
    .render_derived(name="given")
)
_LINE_COLUMNS = ["line_no", "product_id", "name", "quantity", "unit_price_minor"]
_LINES = order_lines.insert().from_select(
    ["order_id", *_LINE_COLUMNS],
    sa.select(_MADE.c.order_id, *(_GIVEN.c[c] for c in _LINE_COLUMNS)).select_from(_MADE.join(_GIVEN, sa.true())),
)
_LOGGED_FIRST = history.insert().from_select(
    ["order_id", "from_status", "to_status", "event_id", "reason"],
    sa.select(
        _MADE.c.order_id, sa.null(), sa.literal(str(OrderStatus.PENDING)),
        sa.bindparam("event_id", type_=UUID(as_uuid=True)), sa.null(),
    ),
)  # fmt: skip
# One statement (one round trip, its own transaction): the order and, only if it was made, its lines, its first
# history row and its OrderPlaced event (with the relay's wake-up). Its row is the history row's ``at``: like the
# order's ``created_at`` and ``updated_at``, ``now()``, the transaction's start, one value for the statement.
INSERT = Query(outbox.written_with(_LOGGED_FIRST.returning(history.c.at).add_cte(_LINES.cte("lines"))))
# The new status, its history row and its event (with the relay's wake-up), in one statement (one round trip).
MOVE = Query(
    outbox.written_with(
        orders.update()
        .where(orders.c.order_id == _KEY)
        .values(
            status=sa.bindparam("status", type_=sa.String),
            payment_id=sa.bindparam("payment_id", type_=sa.String),
            cancel_reason=sa.bindparam("cancel_reason", type_=sa.String),
            updated_at=sa.func.now(),
        )
        .returning(orders.c.updated_at)
        .add_cte(
            history.insert()
            .values(
                order_id=_KEY,
                from_status=sa.bindparam("from_status", type_=sa.String),
                to_status=sa.bindparam("status", type_=sa.String),
                event_id=sa.bindparam("event_id", type_=UUID(as_uuid=True)),
                reason=sa.bindparam("reason", type_=sa.String),
            )
            .cte("logged")
        )
    )
)


class PostgresOrders:
    """The ``Orders`` port on PostgreSQL."""

    def __init__(self, database: Database):
        self.database = database

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        async with consumer.transaction(self.database) as uow:
            yield uow

    async def insert(self, order: Order, fingerprint: str, event: Event) -> tuple[Order, str, bool]:
        # Concurrent creates of one id: the losers wait on the key until the winner commits, then see its row.
        params = outbox.params(event) | {
            "order_id": order.id,
            "customer_sub": order.customer_sub,
            "email": order.email,
            "status": str(OrderStatus.PENDING),
            "currency": order.currency,
            "subtotal_minor": order.subtotal_minor,
            "shipping_minor": order.shipping_minor,
            "total_minor": order.total_minor,
            "shipping_address": order.shipping_address,
            "checkout_id": order.checkout_id,
            "fingerprint": fingerprint,
            "line_product_ids": [x.product_id for x in order.lines],
            "line_names": [x.name for x in order.lines],
            "line_quantities": [x.quantity for x in order.lines],
            "line_unit_prices": [x.unit_price_minor for x in order.lines],
        }
        made_at = await self.database.fetchval(INSERT, params)
        if made_at is None:  # the id was taken: the order that has it (a second statement, after its commit)
            row = await self.database.fetchrow(BY_ID, {"key": order.id})
            if row is None:  # cannot be: the insert met a committed row of this id
                raise LookupError(f"order {order.id} was met on insert, then not found")
            return _order(row), row["fingerprint"], False
        stored = replace(
            order, status=OrderStatus.PENDING, history=(OrderStatus.PENDING,), created_at=made_at, updated_at=made_at
        )
        return stored, fingerprint, True

    async def lock(self, uow: UnitOfWork, order_id: str) -> Order | None:
        row = await uow.fetchrow(LOCK, {"key": order_id})
        if row is not None and (row["reached"] or [None])[-1] != row["status"]:
            # A concurrent move committed while this read waited for the lock: PostgreSQL hands back the row's
            # new version, but the history subquery ran in the statement's older snapshot (its last status is
            # not the row's). Read again, holding the lock now: only on that race does a transition read twice.
            row = await uow.fetchrow(LOCK, {"key": order_id})
        return _order(row) if row else None

    async def move(self, uow: UnitOfWork, order: Order, previous: OrderStatus, event: Event) -> Order:
        """The new status, its history row and ``event``, in one statement (one round trip)."""
        params = outbox.params(event) | {
            "key": order.id,
            "status": str(order.status),
            "payment_id": order.payment_id,
            "cancel_reason": order.cancel_reason,
            "from_status": str(previous) if previous else None,
            "reason": order.cancel_reason if order.status is OrderStatus.CANCELLED else None,
        }
        updated_at = await uow.fetchval(MOVE, params)
        return replace(order, updated_at=updated_at)

    async def get(self, order_id: str) -> Order | None:
        row = await self.database.fetchrow(BY_ID, {"key": order_id})  # one statement, its own transaction
        return _order(row) if row else None

    async def page(self, customer_sub: str, page: int, page_size: int) -> tuple[list[Order], int]:
        # Two statements, each its own transaction (under READ COMMITTED each saw its own snapshot anyway).
        async with self.database.connection() as conn:
            total = await conn.fetchval(COUNT_OF, {"customer_sub": customer_sub})
            rows = await conn.fetch(
                PAGE_OF, {"customer_sub": customer_sub, "limit": page_size, "offset": (page - 1) * page_size}
            )
        return [_order(r) for r in rows], total


def _order(row: Record) -> Order:
    return Order(
        id=row["order_id"],
        customer_sub=row["customer_sub"],
        email=row["email"],
        currency=row["currency"],
        lines=tuple(
            OrderLine(x["product_id"], x["quantity"], x["unit_price_minor"], x["name"]) for x in row["lines"] or ()
        ),
        subtotal_minor=row["subtotal_minor"],
        shipping_minor=row["shipping_minor"],
        total_minor=row["total_minor"],
        shipping_address=row["shipping_address"],
        checkout_id=row["checkout_id"],
        status=OrderStatus(row["status"]),
        history=tuple(OrderStatus(s) for s in row["reached"] or ()),
        payment_id=row["payment_id"],
        cancel_reason=row["cancel_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
