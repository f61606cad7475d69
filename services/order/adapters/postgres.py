"""Orders in PostgreSQL (Aurora): SQLAlchemy 2 Core on an async psycopg engine.

A transition locks the order row (``FOR UPDATE``), asks the domain what the command does,
and writes the new status, a history row and the event to the outbox in one transaction:
either all three are there or none is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from reference.events import new_event
from services.common import outbox
from services.order import domain
from services.order.domain import Command, Decision, Order, OrderLine, OrderStatus
from services.order.ports import Orders

SOURCE = "order"
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


class PostgresOrders(Orders):
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def create(self, order: Order, fingerprint: str, correlation_id: str | None = None) -> tuple[Order, bool]:
        async with self.engine.begin() as conn:
            # Concurrent creates of one id: the losers wait on the key until the winner commits, then see its row.
            made = await conn.execute(
                insert(orders)
                .values(
                    order_id=order.id,
                    customer_sub=order.customer_sub,
                    email=order.email,
                    status=str(OrderStatus.PENDING),
                    currency=order.currency,
                    subtotal_minor=order.subtotal_minor,
                    shipping_minor=order.shipping_minor,
                    total_minor=order.total_minor,
                    shipping_address=order.shipping_address,
                    checkout_id=order.checkout_id,
                    fingerprint=fingerprint,
                )
                .on_conflict_do_nothing(index_elements=["order_id"])
                .returning(orders.c.order_id)
            )
            if made.first() is not None:
                await conn.execute(
                    order_lines.insert(),
                    [
                        {"order_id": order.id, "line_no": i, **_line_row(line)}
                        for i, line in enumerate(order.lines, start=1)
                    ],
                )
                await self._record(conn, order, None, correlation_id)
                return await _load(conn, order.id), True  # type: ignore[return-value]
            stored = (await conn.execute(sa.select(orders.c.fingerprint).where(orders.c.order_id == order.id))).one()
            if stored.fingerprint != fingerprint:
                raise domain.Conflict(
                    f"order {order.id} already exists with a different body; an order id cannot be reused",
                    field="order_id",
                )
            return await _load(conn, order.id), False  # type: ignore[return-value]

    async def get(self, order_id: str) -> Order | None:
        async with self.engine.connect() as conn:
            return await _load(conn, order_id)

    async def page(self, customer_sub: str, page: int, page_size: int) -> tuple[list[Order], int]:
        async with self.engine.connect() as conn:
            total = (
                await conn.execute(sa.select(sa.func.count()).where(orders.c.customer_sub == customer_sub))
            ).scalar_one()
            rows = (
                await conn.execute(
                    sa.select(orders)
                    .where(orders.c.customer_sub == customer_sub)
                    .order_by(orders.c.created_at.desc(), orders.c.order_id.desc())
                    .limit(page_size)
                    .offset((page - 1) * page_size)
                )
            ).all()
            return await _assemble(conn, rows), total

    async def apply(self, order_id: str, command: Command, **args: Any) -> Order:
        async with self.engine.begin() as conn:
            return (await self.apply_on(conn, order_id, command, **args)).order

    async def lock(self, conn: AsyncConnection, order_id: str) -> Order | None:
        """The order, its row locked until the caller's transaction ends."""
        return await _load(conn, order_id, lock=True)

    async def apply_on(
        self,
        conn: AsyncConnection,
        order_id: str,
        command: Command,
        *,
        payment_id: str | None = None,
        reason: str | None = None,
        correlation_id: str | None = None,
    ) -> Decision:
        """The transition inside the caller's transaction (the consumer's, which also records the event id)."""
        order = await _load(conn, order_id, lock=True)
        if order is None:
            raise domain.NotFound(f"no order {order_id}", field="order_id")
        decision = domain.decide(order, command, payment_id=payment_id, reason=reason)
        if decision.changed:
            new = decision.order
            await conn.execute(
                orders.update()
                .where(orders.c.order_id == order_id)
                .values(
                    status=str(new.status),
                    payment_id=new.payment_id,
                    cancel_reason=new.cancel_reason,
                    updated_at=sa.func.now(),
                )
            )
            await self._record(conn, new, order.status, correlation_id)
            decision = Decision(await _load(conn, order_id), decision.event)  # type: ignore[arg-type]
        return decision

    async def _record(
        self, conn: AsyncConnection, order: Order, previous: OrderStatus | None, correlation_id: str | None
    ) -> None:
        """The history row and the outbox event of the move to ``order.status``, in the current transaction."""
        event = new_event(
            domain.EVENT_OF[order.status],
            source=SOURCE,
            subject=order.id,
            data=domain.event_data(order, previous),
            correlation_id=order.checkout_id or correlation_id,
        )
        reason = order.cancel_reason if order.status is OrderStatus.CANCELLED else None
        await conn.execute(
            history.insert().values(
                order_id=order.id,
                from_status=str(previous) if previous else None,
                to_status=str(order.status),
                event_id=event.event_id,
                reason=reason,
            )
        )
        await outbox.enqueue(conn, event)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("select 1"))


def _line_row(line: OrderLine) -> dict[str, Any]:
    return {
        "product_id": line.product_id,
        "name": line.name,
        "quantity": line.quantity,
        "unit_price_minor": line.unit_price_minor,
    }


async def _load(conn: AsyncConnection, order_id: str, *, lock: bool = False) -> Order | None:
    query = sa.select(orders).where(orders.c.order_id == order_id)
    rows = (await conn.execute(query.with_for_update() if lock else query)).all()
    found = await _assemble(conn, rows)
    return found[0] if found else None


async def _assemble(conn: AsyncConnection, rows: Sequence[sa.Row[Any]]) -> list[Order]:
    """Orders from their rows, with their lines and history read in one query each."""
    ids = [r.order_id for r in rows]
    if not ids:
        return []
    lines: dict[str, list[OrderLine]] = {i: [] for i in ids}
    for x in await conn.execute(
        sa.select(order_lines).where(order_lines.c.order_id.in_(ids)).order_by(order_lines.c.line_no)
    ):
        lines[x.order_id].append(OrderLine(x.product_id, x.quantity, x.unit_price_minor, x.name))
    reached: dict[str, list[OrderStatus]] = {i: [] for i in ids}
    for h in await conn.execute(
        sa.select(history.c.order_id, history.c.to_status).where(history.c.order_id.in_(ids)).order_by(history.c.id)
    ):
        reached[h.order_id].append(OrderStatus(h.to_status))
    return [
        Order(
            id=row.order_id,
            customer_sub=row.customer_sub,
            email=row.email,
            currency=row.currency,
            lines=tuple(lines[row.order_id]),
            subtotal_minor=row.subtotal_minor,
            shipping_minor=row.shipping_minor,
            total_minor=row.total_minor,
            shipping_address=row.shipping_address,
            checkout_id=row.checkout_id,
            status=OrderStatus(row.status),
            history=tuple(reached[row.order_id]),
            payment_id=row.payment_id,
            cancel_reason=row.cancel_reason,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in rows
    ]
