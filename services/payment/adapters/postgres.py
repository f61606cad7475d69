"""The PaymentRepository port on PostgreSQL (Aurora in AWS): statements written in SQLAlchemy Core, compiled once
at import and run on asyncpg (``services.common.db``).

Two rules keep payments exact under retries and concurrency:

- ``claim`` inserts the pending payment before anyone calls the provider; the unique
  idempotency key makes concurrent claims of one key wait for the first insert and then
  find its row, so exactly one caller goes on to the provider;
- ``move`` changes a payment only from the states it expects (a compare-and-set in the
  UPDATE) and writes the event the service gave it to the outbox only if the UPDATE moved
  it, in the same statement (its own transaction): of two racing callers one moves it and
  writes one event, the other changes nothing (but its attempt, written either way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert

from reference.events import Event
from services.common import outbox
from services.common.db import Database, Query, Record
from services.payment.adapters.simulated import Hold, HoldBook
from services.payment.adapters.tables import payment_attempts, payments, provider_callbacks, provider_holds
from services.payment.domain import Attempt, AuthorizationRequest, Operation, Payment, PaymentStatus
from services.payment.ports import PaymentRepository, ProviderCallback

LIST_LIMIT = 100
HELD = ("authorization_key", "ref", "amount_minor", "payment_method", "state")
CLAIMED = ("id", "idempotency_key", "order_id", "customer_sub", "amount_minor", "currency", "payment_method", "status")

# Every statement compiled once (bound parameters at execution; issue 13): building a Core statement and its cache
# key per call cost about as much client CPU as running it, and SQLAlchemy's execution layer more than asyncpg.
# Parameter names differ from the target table's column names where a column is not SET (kept from when
# SQLAlchemy executed them: it took a same-named parameter as a value to write).
_ATTEMPT_VALUES = {
    "payment_id": sa.bindparam("attempt_payment_id", type_=sa.Uuid),
    "operation": sa.bindparam("attempt_operation", type_=sa.String),
    "request": sa.bindparam("attempt_request", type_=JSONB),
    "outcome": sa.bindparam("attempt_outcome", type_=sa.String),
    "latency_ms": sa.bindparam("attempt_latency_ms", type_=sa.Integer),
    "provider_ref": sa.bindparam("attempt_provider_ref", type_=sa.String),
    "error": sa.bindparam("attempt_error", type_=sa.Text),
}
_RECORD_ATTEMPT = payment_attempts.insert().values(_ATTEMPT_VALUES)
RECORD_ATTEMPT = Query(_RECORD_ATTEMPT)
CLAIM = Query(
    insert(payments)
    .values({c: sa.bindparam(c) for c in CLAIMED})
    .on_conflict_do_nothing(index_elements=[payments.c.idempotency_key])
    .returning(payments)
)
BY_KEY = Query(sa.select(payments).where(payments.c.idempotency_key == sa.bindparam("key", type_=sa.String)))
BY_ID = Query(sa.select(payments).where(payments.c.id == sa.bindparam("payment_id", type_=sa.Uuid)))
RECLAIM = Query(
    sa.update(payments)
    .where(
        payments.c.id == sa.bindparam("payment_id", type_=sa.Uuid),
        payments.c.status == str(PaymentStatus.PENDING),
        payments.c.updated_at
        < sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.bindparam("stale_after_s", type_=sa.Float)),
    )
    .values(updated_at=sa.func.now())
)


def _found(*where: Any) -> Query:
    return Query(sa.select(payments).where(*where).order_by(payments.c.created_at, payments.c.id).limit(LIST_LIMIT))


_BY_ORDER = payments.c.order_id == sa.bindparam("order_id", type_=sa.String)
_BY_CUSTOMER = payments.c.customer_sub == sa.bindparam("customer_sub", type_=sa.String)
# find's four shapes (by order, by customer, both, neither), each compiled once: keyed by which filters apply.
FIND = {
    (True, True): _found(_BY_ORDER, _BY_CUSTOMER),
    (True, False): _found(_BY_ORDER),
    (False, True): _found(_BY_CUSTOMER),
    (False, False): _found(),
}
ATTEMPTS = Query(
    sa.select(payment_attempts)
    .where(payment_attempts.c.payment_id == sa.bindparam("payment_id", type_=sa.Uuid))
    .order_by(payment_attempts.c.id)
)
_MOVE = (
    sa.update(payments)
    .where(
        payments.c.id == sa.bindparam("payment_id", type_=sa.Uuid),
        payments.c.status == sa.any_(sa.bindparam("sources", type_=ARRAY(sa.String))),
    )
    .values(
        status=sa.bindparam("target", type_=sa.String),
        reason=sa.bindparam("move_reason", type_=sa.String),
        provider_ref=sa.func.coalesce(sa.bindparam("move_provider_ref", type_=sa.String), payments.c.provider_ref),
        updated_at=sa.func.now(),
    )
    .returning(payments)
)
# The move and, only if it moved the payment, its event (one statement, its own transaction).
MOVE = Query(outbox.written_with(_MOVE))
# The attempt is written whether or not the payment moves (a data-modifying CTE always runs to completion).
MOVE_WITH_ATTEMPT = Query(outbox.written_with(_MOVE.add_cte(_RECORD_ATTEMPT.cte("attempted"))))
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
RECORD_CALLBACK = Query(
    sa.select(sa.exists(_FIRST.select()).label("first_time"), payments).select_from(
        _ONE.outerjoin(payments, payments.c.id == sa.bindparam("payment_id", type_=sa.Uuid))
    )
)

_HELD = (
    provider_holds.c.ref,
    provider_holds.c.amount_minor,
    provider_holds.c.payment_method,
    provider_holds.c.state,
    provider_holds.c.moved_by,
)
HOLD_ADD = Query(insert(provider_holds).values({c: sa.bindparam(c) for c in HELD}).on_conflict_do_nothing())
HOLD_GET = Query(sa.select(*_HELD).where(provider_holds.c.authorization_key == sa.bindparam("key", type_=sa.String)))
HOLD_STATES = Query(sa.select(provider_holds.c.state))
HOLD_MOVE = Query(
    provider_holds.update()
    .where(
        provider_holds.c.authorization_key == sa.bindparam("key", type_=sa.String),
        provider_holds.c.state == sa.bindparam("source", type_=sa.String),
    )
    .values(state=sa.bindparam("target", type_=sa.String), moved_by=sa.bindparam("by", type_=sa.String))
    .returning(*_HELD)
)


class PostgresPayments(PaymentRepository):
    def __init__(self, database: Database):
        self.database = database

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
        # Each statement its own transaction: the insert, or (a second statement, so a fresh snapshot that sees
        # the row a concurrent claim committed while this one waited on the key) the row it met.
        async with self.database.connection() as conn:
            created = await conn.fetchrow(CLAIM, values)
            if created is not None:
                return _payment(created), True
            row = await conn.fetchrow(BY_KEY, {"key": request.idempotency_key})
            assert row is not None  # the conflicting row is committed (the insert waited for it) and never deleted
            return _payment(row), False

    async def reclaim(self, payment_id: UUID, stale_after_s: float) -> bool:
        return await self.database.execute(RECLAIM, {"payment_id": payment_id, "stale_after_s": stale_after_s}) == 1

    async def get(self, payment_id: UUID) -> Payment | None:
        row = await self.database.fetchrow(BY_ID, {"payment_id": payment_id})
        return _payment(row) if row is not None else None

    async def find(self, *, order_id: str | None = None, customer_sub: str | None = None) -> list[Payment]:
        query = FIND[order_id is not None, customer_sub is not None]
        rows = await self.database.fetch(query, {"order_id": order_id, "customer_sub": customer_sub})
        return [_payment(r) for r in rows]

    async def attempts(self, payment_id: UUID) -> list[Attempt]:
        return [_attempt(r) for r in await self.database.fetch(ATTEMPTS, {"payment_id": payment_id})]

    async def move(
        self,
        payment_id: UUID,
        sources: frozenset[PaymentStatus],
        target: PaymentStatus,
        *,
        reason: str | None,
        provider_ref: str | None,
        event: Event,
        attempt: Attempt | None = None,
    ) -> Payment | None:
        params = {
            "payment_id": payment_id,
            "sources": [str(s) for s in sources],
            "target": str(target),
            "move_reason": reason,
            "move_provider_ref": provider_ref,
        } | outbox.params(event)
        if attempt is None:
            row = await self.database.fetchrow(MOVE, params)
        else:
            row = await self.database.fetchrow(MOVE_WITH_ATTEMPT, params | _attempt_params(attempt))
        return _payment(row) if row is not None else None

    async def record_attempt(self, attempt: Attempt) -> None:
        await self.database.execute(RECORD_ATTEMPT, _attempt_params(attempt))

    async def record_callback(self, callback: ProviderCallback) -> tuple[bool, Payment | None]:
        params = {
            "callback_id": callback.callback_id,
            "payment_id": callback.payment_id,
            "operation": str(callback.operation),
            "outcome": str(callback.outcome),
        }
        row = await self.database.fetchrow(RECORD_CALLBACK, params)
        assert row is not None  # one row always: the outer join keeps it
        payment = _payment(row) if row["id"] is not None else None
        return bool(row["first_time"]), payment


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


def _payment(row: Mapping[str, Any] | Record) -> Payment:
    fields = {name: row[name] for name in Payment.__dataclass_fields__}
    return Payment(**fields | {"status": PaymentStatus(row["status"])})


def _attempt(row: Mapping[str, Any] | Record) -> Attempt:
    fields = {name: row[name] for name in Attempt.__dataclass_fields__}
    return Attempt(**fields | {"operation": Operation(row["operation"])})


class PostgresHolds(HoldBook):
    """The simulated provider's holds in ``provider_holds``: a restarted payment process, or another replica,
    finds the holds the provider placed (a card network keeps them whatever happens to our service)."""

    def __init__(self, database: Database):
        self.database = database  # every write here is one statement, its own transaction

    async def add(self, key: str, hold: Hold) -> None:
        row = {"authorization_key": key, "ref": hold.ref, "amount_minor": hold.amount_minor}
        row |= {"payment_method": hold.payment_method, "state": hold.state}
        await self.database.execute(HOLD_ADD, row)

    async def get(self, key: str) -> Hold | None:
        return _hold(await self.database.fetchrow(HOLD_GET, {"key": key}))

    async def move(self, key: str, by: str, source: str, target: str) -> tuple[Hold | None, bool]:
        async with self.database.connection() as conn:  # the move, or (a second statement) the hold as it is
            row = await conn.fetchrow(HOLD_MOVE, {"key": key, "source": source, "target": target, "by": by})
            if row is not None:
                return _hold(row), True
            hold = _hold(await conn.fetchrow(HOLD_GET, {"key": key}))
        return hold, hold is not None and hold.state == target and hold.moved_by == by

    async def states(self) -> list[str]:
        return [r[0] for r in await self.database.fetch(HOLD_STATES)]


def _hold(row: Record | None) -> Hold | None:
    if row is None:
        return None
    return Hold(row["ref"], row["amount_minor"], row["payment_method"], row["state"], row["moved_by"])
