"""Checkouts in PostgreSQL (schema ``checkout``): one row per checkout, a step log, a lease.

The row is the saga's memory: written after every step, so a crashed runner's saga can be
resumed by the sweeper from where it stopped. The lease (``locked_until``) makes sure only
one runner (a request or the sweeper) drives a saga at a time. Statements are written in SQLAlchemy Core,
compiled once and run on asyncpg (``services.common.db``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert

from reference.events import Event
from services.checkout.domain import TERMINAL, Checkout, Reason, Status
from services.common import outbox
from services.common.db import Database, Query

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


# Every statement compiled once, at import, and run with bound parameters (issue 13: docs/commerce-core.md). A
# parameter is not named as a column of the table an INSERT/UPDATE writes unless that column is written
# (SQLAlchemy would write a same-named one).
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
START = Query(
    steps.insert()
    .from_select(
        ["checkout_id", "step", "outcome"],
        sa.select(_STARTED.c.checkout_id, sa.literal("started"), sa.literal("ok")),
    )
    .returning(steps.c.checkout_id)
)
BY_KEY = Query(
    sa.select(checkouts).where(
        checkouts.c.customer_sub == sa.bindparam("sub", type_=sa.String),
        checkouts.c.idempotency_key == sa.bindparam("idempotency", type_=sa.String),
    )
)
BY_ID = Query(sa.select(checkouts).where(checkouts.c.checkout_id == _KEY))
_MOVED = (
    checkouts.update()
    .where(checkouts.c.checkout_id == _KEY)
    .values(
        status=sa.bindparam("status", type_=sa.String),
        state=sa.bindparam("state", type_=JSONB),
        updated_at=sa.bindparam("updated_at", type_=sa.DateTime(timezone=True)),
        locked_until=sa.bindparam("locked_until", type_=sa.DateTime(timezone=True)),
    )
)
_LOGGED = steps.insert().values(
    checkout_id=_KEY, step=sa.bindparam("step", type_=sa.String), outcome=sa.bindparam("outcome", type_=sa.String)
)
# One round trip (its own transaction): the row and its step log.
SAVE = Query(_LOGGED.add_cte(_MOVED.cte("moved")))
# One round trip (its own transaction): the row, its step log and the event, with the relay's wake-up.
SAVE_WITH_EVENT = Query(outbox.written_with(_MOVED.returning(checkouts.c.checkout_id).add_cte(_LOGGED.cte("logged"))))
_NOW = sa.bindparam("now", type_=sa.DateTime(timezone=True))
# The sweeper's pass, one statement (one round trip, its own transaction): unfinished sagas whose lease ran out,
# oldest first, locked (skipping those another runner holds) and leased to this runner. The statuses are
# literals, as in the partial index ``checkouts_unfinished``, so that even a generic plan can use it.
_STUCK = (
    sa.select(checkouts.c.checkout_id)
    .where(checkouts.c.status.notin_([sa.literal_column(f"'{s.value}'") for s in (Status.COMPLETED, Status.FAILED)]))
    .where(sa.or_(checkouts.c.locked_until.is_(None), checkouts.c.locked_until < _NOW))
    .order_by(checkouts.c.updated_at)
    .limit(sa.bindparam("limit", type_=sa.BigInteger))
    .with_for_update(skip_locked=True)
)
_CLAIMED = (
    checkouts.update()
    .where(checkouts.c.checkout_id.in_(_STUCK.scalar_subquery()))
    .values(locked_until=sa.bindparam("until", type_=sa.DateTime(timezone=True)))
    .returning(*checkouts.c)
    .cte("claimed")
)
CLAIM_STUCK = Query(sa.select(_CLAIMED).order_by(_CLAIMED.c.updated_at))
STEPS_OF = Query(sa.select(steps.c.step, steps.c.outcome).where(steps.c.checkout_id == _KEY).order_by(steps.c.id))


def _to_row(co: Checkout) -> dict[str, Any]:
    state = {f: getattr(co, f) for f in STATE_FIELDS}
    return {"status": co.status.value, "state": state, "updated_at": datetime.now(UTC)}


def _from_row(row: Any) -> Checkout:
    state = dict(row["state"])
    reason = state.pop("failure_reason", None)
    return Checkout(
        checkout_id=row["checkout_id"], customer_sub=row["customer_sub"], idempotency_key=row["idempotency_key"],
        request_hash=row["request_hash"], status=Status(row["status"]),
        failure_reason=Reason(reason) if reason else None, **state,
    )  # fmt: skip


class PostgresCheckouts:
    """The ``Checkouts`` port on PostgreSQL."""

    def __init__(self, database: Database, lease_s: float):
        self.database, self.lease = database, timedelta(seconds=lease_s)

    async def start(self, co: Checkout) -> tuple[Checkout, bool]:
        """Insert the checkout holding its lease; if the key was used before, return that checkout instead."""
        row = {**_to_row(co), "checkout_id": co.checkout_id, "customer_sub": co.customer_sub,
               "idempotency_key": co.idempotency_key, "request_hash": co.request_hash,
               "locked_until": datetime.now(UTC) + self.lease}  # fmt: skip
        # Each statement its own transaction (no BEGIN, no COMMIT): the insert, or (a second one, which sees the
        # row the insert met once its writer committed) the checkout it met.
        async with self.database.connection() as conn:
            if await conn.fetchrow(START, row) is not None:
                return co, True
            existing = await conn.fetchrow(BY_KEY, {"sub": co.customer_sub, "idempotency": co.idempotency_key})
        if existing is None:  # cannot be: the insert met a committed row of this key
            raise LookupError(f"checkout key {co.idempotency_key!r} was met on insert, then not found")
        return _from_row(existing), False

    async def get(self, checkout_id: str) -> Checkout | None:
        row = await self.database.fetchrow(BY_ID, {"key": checkout_id})
        return _from_row(row) if row else None

    async def save(self, co: Checkout, step: str, outcome: str = "ok", event: Event | None = None) -> None:
        """Record a step and ``event`` (to the outbox) in one statement, its own transaction (no BEGIN, no COMMIT);
        a terminal state releases the lease."""
        params = _to_row(co) | {"key": co.checkout_id, "step": step, "outcome": outcome[:200]}
        params["locked_until"] = None if co.status in TERMINAL else datetime.now(UTC) + self.lease
        if event is None:
            await self.database.execute(SAVE, params)
        else:
            await self.database.execute(SAVE_WITH_EVENT, params | outbox.params(event))

    async def claim_stuck(self, limit: int = 20) -> list[Checkout]:
        """Take over unfinished sagas whose lease ran out (their runner crashed or hung), oldest first."""
        now = datetime.now(UTC)
        rows = await self.database.fetch(CLAIM_STUCK, {"now": now, "limit": limit, "until": now + self.lease})
        return [_from_row(r) for r in rows]

    async def steps(self, checkout_id: str) -> list[tuple[str, str]]:
        return [(r["step"], r["outcome"]) for r in await self.database.fetch(STEPS_OF, {"key": checkout_id})]
