"""Checkouts in PostgreSQL (schema ``checkout``): one row per checkout, a step log, a lease.

The row is the saga's memory: written after every step, so a crashed runner's saga can be
resumed by the sweeper from where it stopped. The lease (``locked_until``) makes sure only
one runner (a request or the sweeper) drives a saga at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from reference.events import Event
from services.checkout.domain import TERMINAL, Checkout, Reason, Status
from services.common.db import autocommit
from services.common.outbox import enqueue

metadata = sa.MetaData()
checkouts = sa.Table(
    "checkouts",
    metadata,
    sa.Column("checkout_id", sa.String(64), primary_key=True),
    sa.Column("customer_sub", sa.String(128), nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("state", JSONB, nullable=False),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("customer_sub", "idempotency_key", name="checkouts_key"),
)
steps = sa.Table(
    "checkout_steps",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("checkout_id", sa.String(64), nullable=False, index=True),
    sa.Column("step", sa.String(40), nullable=False),
    sa.Column("outcome", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

STATE_FIELDS = (
    "email", "shipping_address", "payment_method", "lines", "currency", "subtotal_minor", "shipping_minor",
    "payment_id", "failure_reason", "failure_detail", "compensated",
)  # fmt: skip


# The statements of a checkout's path, built once and run with bound parameters: building a Core statement and
# its cache key per call cost about as much client CPU as running it. A parameter is not named as a column of
# the table an INSERT/UPDATE writes unless that column is written (SQLAlchemy would write a same-named one).
_KEY = sa.bindparam("key", type_=sa.String)
_STARTED = (
    insert(checkouts)
    .values({c: sa.bindparam(c) for c in ("checkout_id", "customer_sub", "idempotency_key", "request_hash",
                                           "status", "state", "locked_until", "updated_at")})
    .on_conflict_do_nothing(constraint="checkouts_key")
    .returning(checkouts.c.checkout_id)
    .cte("made")
)  # fmt: skip
# One round trip: the row and, only if it was made, its first step-log row.
START = (
    steps.insert()
    .from_select(
        ["checkout_id", "step", "outcome"],
        sa.select(_STARTED.c.checkout_id, sa.literal("started"), sa.literal("ok")),
    )
    .returning(steps.c.checkout_id)
)
BY_KEY = sa.select(checkouts).where(
    checkouts.c.customer_sub == sa.bindparam("sub", type_=sa.String),
    checkouts.c.idempotency_key == sa.bindparam("idempotency", type_=sa.String),
)
BY_ID = sa.select(checkouts).where(checkouts.c.checkout_id == _KEY)
# One round trip: the row and its step log.
SAVE = (
    steps.insert()
    .values(
        checkout_id=_KEY, step=sa.bindparam("step", type_=sa.String), outcome=sa.bindparam("outcome", type_=sa.String)
    )
    .add_cte(
        checkouts.update()
        .where(checkouts.c.checkout_id == _KEY)
        .values(
            status=sa.bindparam("status", type_=sa.String),
            state=sa.bindparam("state", type_=JSONB),
            updated_at=sa.bindparam("updated_at", type_=sa.DateTime(timezone=True)),
            locked_until=sa.bindparam("locked_until", type_=sa.DateTime(timezone=True)),
        )
        .cte("moved")
    )
)


def _to_row(co: Checkout) -> dict[str, Any]:
    state = {f: getattr(co, f) for f in STATE_FIELDS}
    return {"status": co.status.value, "state": state, "updated_at": datetime.now(UTC)}


def _from_row(row: Any) -> Checkout:
    state = dict(row.state)
    reason = state.pop("failure_reason", None)
    return Checkout(
        checkout_id=row.checkout_id, customer_sub=row.customer_sub, idempotency_key=row.idempotency_key,
        request_hash=row.request_hash, status=Status(row.status),
        failure_reason=Reason(reason) if reason else None, **state,
    )  # fmt: skip


class PostgresCheckouts:
    """The ``Checkouts`` port on PostgreSQL."""

    def __init__(self, engine: AsyncEngine, lease_s: float):
        self.engine, self.lease = engine, timedelta(seconds=lease_s)
        self.single = autocommit(engine)  # a unit of work of one statement: no BEGIN, no COMMIT

    async def start(self, co: Checkout) -> tuple[Checkout, bool]:
        """Insert the checkout holding its lease; if the key was used before, return that checkout instead."""
        row = {**_to_row(co), "checkout_id": co.checkout_id, "customer_sub": co.customer_sub,
               "idempotency_key": co.idempotency_key, "request_hash": co.request_hash,
               "locked_until": datetime.now(UTC) + self.lease}  # fmt: skip
        async with self.single.connect() as conn:  # the insert, or (a second statement) the checkout it met
            if (await conn.execute(START, row)).first() is not None:
                return co, True
            existing = await conn.execute(BY_KEY, {"sub": co.customer_sub, "idempotency": co.idempotency_key})
            return _from_row(existing.one()), False

    async def get(self, checkout_id: str) -> Checkout | None:
        async with self.single.connect() as conn:
            row = (await conn.execute(BY_ID, {"key": checkout_id})).first()
        return _from_row(row) if row else None

    async def save(self, co: Checkout, step: str, outcome: str = "ok", event: Event | None = None) -> None:
        """Record a step and ``event`` (to the outbox) in one transaction; a terminal state releases the lease."""
        params = _to_row(co) | {"key": co.checkout_id, "step": step, "outcome": outcome[:200]}
        params["locked_until"] = None if co.status in TERMINAL else datetime.now(UTC) + self.lease
        if event is None:
            async with self.single.connect() as conn:
                await conn.execute(SAVE, params)
            return
        async with self.engine.begin() as conn:
            await enqueue(conn, event)
            await conn.execute(SAVE, params)

    async def claim_stuck(self, limit: int = 20) -> list[Checkout]:
        """Take over unfinished sagas whose lease ran out (their runner crashed or hung)."""
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(checkouts)
                    .where(checkouts.c.status.notin_([Status.COMPLETED.value, Status.FAILED.value]))
                    .where(sa.or_(checkouts.c.locked_until.is_(None), checkouts.c.locked_until < now))
                    .order_by(checkouts.c.updated_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            ids = [r.checkout_id for r in rows]
            if ids:
                await conn.execute(
                    checkouts.update().where(checkouts.c.checkout_id.in_(ids)).values(locked_until=now + self.lease)
                )
        return [_from_row(r) for r in rows]

    async def steps(self, checkout_id: str) -> list[tuple[str, str]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(steps.c.step, steps.c.outcome).where(steps.c.checkout_id == checkout_id).order_by(steps.c.id)
            )
            return [(r.step, r.outcome) for r in rows]
