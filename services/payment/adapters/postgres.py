"""The PaymentRepository port on PostgreSQL (Aurora in AWS): SQLAlchemy 2 Core, async (asyncpg).

Two rules keep payments exact under retries and concurrency:

- ``claim`` inserts the pending payment before anyone calls the provider; the unique
  idempotency key makes concurrent claims of one key wait for the first insert and then
  find its row, so exactly one caller goes on to the provider;
- ``move`` changes a payment only from the states it expects (a compare-and-set in the
  UPDATE), in the caller's unit of work, where the service also writes the event: of two
  racing callers one moves it and writes one event, the other changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import consumer
from services.common.consumer import UnitOfWork
from services.common.db import autocommit
from services.payment.adapters.simulated import Hold, HoldBook
from services.payment.adapters.tables import payment_attempts, payments, provider_callbacks, provider_holds
from services.payment.domain import Attempt, AuthorizationRequest, Operation, Payment, PaymentStatus
from services.payment.ports import PaymentRepository, ProviderCallback

LIST_LIMIT = 100
HELD = ("authorization_key", "ref", "amount_minor", "payment_method", "state")
CLAIMED = ("id", "idempotency_key", "order_id", "customer_sub", "amount_minor", "currency", "payment_method", "status")

# The statements on a checkout's path, built once (bound parameters at execution): building a Core statement and
# its cache key per call cost about as much client CPU as running it. Parameter names differ from the target
# table's column names where a column is not SET (an INSERT/UPDATE would otherwise take a same-named parameter
# as a value to write).
_ATTEMPT_VALUES = {
    "payment_id": sa.bindparam("attempt_payment_id", type_=sa.Uuid),
    "operation": sa.bindparam("attempt_operation", type_=sa.String),
    "request": sa.bindparam("attempt_request", type_=JSONB),
    "outcome": sa.bindparam("attempt_outcome", type_=sa.String),
    "latency_ms": sa.bindparam("attempt_latency_ms", type_=sa.Integer),
    "provider_ref": sa.bindparam("attempt_provider_ref", type_=sa.String),
    "error": sa.bindparam("attempt_error", type_=sa.Text),
}
RECORD_ATTEMPT = payment_attempts.insert().values(_ATTEMPT_VALUES)
CLAIM = (
    insert(payments)
    .values({c: sa.bindparam(c) for c in CLAIMED})
    .on_conflict_do_nothing(index_elements=[payments.c.idempotency_key])
    .returning(payments)
)
BY_KEY = sa.select(payments).where(payments.c.idempotency_key == sa.bindparam("key", type_=sa.String))
BY_ID = sa.select(payments).where(payments.c.id == sa.bindparam("payment_id", type_=sa.Uuid))
MOVE = (
    sa.update(payments)
    .where(
        payments.c.id == sa.bindparam("payment_id", type_=sa.Uuid),
        payments.c.status.in_(sa.bindparam("sources", expanding=True)),
    )
    .values(
        status=sa.bindparam("target", type_=sa.String),
        reason=sa.bindparam("move_reason", type_=sa.String),
        provider_ref=sa.func.coalesce(sa.bindparam("move_provider_ref", type_=sa.String), payments.c.provider_ref),
        updated_at=sa.func.now(),
    )
    .returning(payments)
)
# One round trip: the attempt is written whether or not the payment moves.
MOVE_WITH_ATTEMPT = MOVE.add_cte(RECORD_ATTEMPT.cte("attempted"))
_FIRST = (
    insert(provider_callbacks)
    .values(
        callback_id=sa.bindparam("callback_id", type_=sa.String),
        payment_id=sa.bindparam("payment_id", type_=sa.Uuid),
        operation=sa.bindparam("operation", type_=sa.String),
        outcome=sa.bindparam("outcome", type_=sa.String),
    )
    .on_conflict_do_nothing()
    .returning(provider_callbacks.c.callback_id)
    .cte("first")
)
_ONE = sa.select(sa.literal(1).label("one")).subquery("one")
# One statement: whether the callback id is new, and the payment (an outer join keeps the answer when there is none).
RECORD_CALLBACK = sa.select(sa.exists(_FIRST.select()).label("first_time"), payments).select_from(
    _ONE.outerjoin(payments, payments.c.id == sa.bindparam("payment_id", type_=sa.Uuid))
)

_HELD = (
    provider_holds.c.ref,
    provider_holds.c.amount_minor,
    provider_holds.c.payment_method,
    provider_holds.c.state,
    provider_holds.c.moved_by,
)
HOLD_ADD = insert(provider_holds).values({c: sa.bindparam(c) for c in HELD}).on_conflict_do_nothing()
HOLD_GET = sa.select(*_HELD).where(provider_holds.c.authorization_key == sa.bindparam("key", type_=sa.String))
HOLD_MOVE = (
    provider_holds.update()
    .where(
        provider_holds.c.authorization_key == sa.bindparam("key", type_=sa.String),
        provider_holds.c.state == sa.bindparam("source", type_=sa.String),
    )
    .values(state=sa.bindparam("target", type_=sa.String), moved_by=sa.bindparam("by", type_=sa.String))
    .returning(*_HELD)
)


class PostgresPayments(PaymentRepository):
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.single = autocommit(engine)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        async with consumer.transaction(self.engine) as uow:
            yield uow

    async def claim(self, request: AuthorizationRequest, payment_id: UUID) -> tuple[Payment, bool]:
        values = {
            "id": payment_id,
            "idempotency_key": request.idempotency_key,
            "order_id": request.order_id,
            "customer_sub": request.customer_sub,
            "amount_minor": request.amount_minor,
            "currency": request.currency,
            "payment_method": request.payment_method,
            "status": str(PaymentStatus.PENDING),
        }
        async with self.single.connect() as conn:  # the insert, or (a second statement) the row it met
            created = (await conn.execute(CLAIM, values)).first()
            if created is not None:
                return _payment(created._mapping), True
            row = (await conn.execute(BY_KEY, {"key": request.idempotency_key})).one()
            return _payment(row._mapping), False

    async def reclaim(self, payment_id: UUID, stale_after_s: float) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(payments)
                .where(
                    payments.c.id == payment_id,
                    payments.c.status == PaymentStatus.PENDING,
                    payments.c.updated_at < sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, stale_after_s),
                )
                .values(updated_at=sa.func.now())
            )
            return result.rowcount == 1

    async def get(self, payment_id: UUID) -> Payment | None:
        async with self.single.connect() as conn:
            row = (await conn.execute(BY_ID, {"payment_id": payment_id})).first()
            return _payment(row._mapping) if row else None

    async def find(self, *, order_id: str | None = None, customer_sub: str | None = None) -> list[Payment]:
        query = sa.select(payments).order_by(payments.c.created_at, payments.c.id).limit(LIST_LIMIT)
        if order_id is not None:
            query = query.where(payments.c.order_id == order_id)
        if customer_sub is not None:
            query = query.where(payments.c.customer_sub == customer_sub)
        async with self.engine.connect() as conn:
            return [_payment(r._mapping) for r in await conn.execute(query)]

    async def attempts(self, payment_id: UUID) -> list[Attempt]:
        query = sa.select(payment_attempts).where(payment_attempts.c.payment_id == payment_id)
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(payment_attempts.c.id))
            return [_attempt(r._mapping) for r in rows]

    async def move(
        self,
        uow: UnitOfWork,
        payment_id: UUID,
        sources: frozenset[PaymentStatus],
        target: PaymentStatus,
        *,
        reason: str | None,
        provider_ref: str | None,
        attempt: Attempt | None = None,
    ) -> Payment | None:
        params = {
            "payment_id": payment_id,
            "sources": [str(s) for s in sources],
            "target": str(target),
            "move_reason": reason,
            "move_provider_ref": provider_ref,
        }
        if attempt is None:
            row = (await uow.execute(MOVE, params)).first()
        else:
            row = (await uow.execute(MOVE_WITH_ATTEMPT, params | _attempt_params(attempt))).first()
        return _payment(row._mapping) if row is not None else None

    async def record_attempt(self, uow: UnitOfWork, attempt: Attempt) -> None:
        await uow.execute(RECORD_ATTEMPT, _attempt_params(attempt))

    async def record_callback(self, callback: ProviderCallback) -> tuple[bool, Payment | None]:
        params = {
            "callback_id": callback.callback_id,
            "payment_id": callback.payment_id,
            "operation": str(callback.operation),
            "outcome": str(callback.outcome),
        }
        async with self.single.connect() as conn:
            row = (await conn.execute(RECORD_CALLBACK, params)).one()
        payment = _payment(row._mapping) if row.id is not None else None
        return bool(row.first_time), payment


def _attempt_params(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt_payment_id": attempt.payment_id,
        "attempt_operation": str(attempt.operation),
        "attempt_request": attempt.request,
        "attempt_outcome": str(attempt.outcome),
        "attempt_latency_ms": attempt.latency_ms,
        "attempt_provider_ref": attempt.provider_ref,
        "attempt_error": attempt.error,
    }


def _payment(row: Mapping[str, Any]) -> Payment:
    fields = {name: row[name] for name in Payment.__dataclass_fields__}
    return Payment(**fields | {"status": PaymentStatus(row["status"])})


def _attempt(row: Mapping[str, Any]) -> Attempt:
    fields = {name: row[name] for name in Attempt.__dataclass_fields__}
    return Attempt(**fields | {"operation": Operation(row["operation"])})


class PostgresHolds(HoldBook):
    """The simulated provider's holds in ``provider_holds``: a restarted payment process, or another replica,
    finds the holds the provider placed (a card network keeps them whatever happens to our service)."""

    def __init__(self, engine: AsyncEngine):
        self.engine = autocommit(engine)  # every write here is one statement

    async def add(self, key: str, hold: Hold) -> None:
        row = {"authorization_key": key, "ref": hold.ref, "amount_minor": hold.amount_minor}
        row |= {"payment_method": hold.payment_method, "state": hold.state}
        async with self.engine.connect() as conn:
            await conn.execute(HOLD_ADD, row)

    async def get(self, key: str) -> Hold | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(HOLD_GET, {"key": key})).first()
        return _hold(row)

    async def move(self, key: str, by: str, source: str, target: str) -> tuple[Hold | None, bool]:
        async with self.engine.connect() as conn:  # the move, or (a second statement) the hold as it is
            moved = await conn.execute(HOLD_MOVE, {"key": key, "source": source, "target": target, "by": by})
            if (row := moved.first()) is not None:
                return _hold(row), True
            hold = _hold((await conn.execute(HOLD_GET, {"key": key})).first())
        return hold, hold is not None and hold.state == target and hold.moved_by == by

    async def states(self) -> list[str]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(sa.select(provider_holds.c.state))).scalars())


def _hold(row: Any) -> Hold | None:
    return None if row is None else Hold(row.ref, row.amount_minor, row.payment_method, row.state, row.moved_by)
