"""The sagas' memory on real PostgreSQL (services/checkout/adapters/postgres.py), without the other services: one
checkout per key however many requests race for it, every step saved with its event, and the sweeper's claim
that takes only unfinished sagas whose lease ran out, oldest first, never one another runner holds."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from services.checkout.adapters.postgres import PostgresCheckouts
from services.checkout.domain import Checkout, Reason, Status, outcome_event
from services.common import db

SCHEMA = "checkout"


@pytest.fixture
async def migrated(pg_url):
    await asyncio.to_thread(
        db.migrate, "services.checkout", pg_url.replace("postgresql://", "postgresql+psycopg://"), SCHEMA
    )
    return pg_url


@pytest.fixture
async def database(migrated):
    database = await db.Database.connect(migrated, SCHEMA, max_size=5)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def one_connection(migrated):
    """A pool of one connection, and what asyncpg reports it sent (each record on the loop's next turn)."""
    database = await db.Database.connect(migrated, SCHEMA, max_size=1)
    try:
        sent: list[str] = []
        async with database.connection() as session:
            session.raw.add_query_logger(lambda record: sent.append(record.query))
        yield database, sent
    finally:
        await database.close()


def checkout(key: str = "key-1", sub: str = "sub-1", request_hash: str = "h1") -> Checkout:
    return Checkout(
        checkout_id=f"chk-{uuid.uuid4().hex[:12]}", customer_sub=sub, email=f"{sub}@example.com",
        idempotency_key=key, request_hash=request_hash, shipping_address={"name": "Ada", "country": "GB"},
        payment_method="pm_card_ok",
    )  # fmt: skip


def lease_ended(pg_url: str, *checkout_ids: str) -> None:
    """The runner of these sagas vanished: their lease ran out a minute ago."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "update checkout.checkouts set locked_until = now() - interval '1 minute' where checkout_id = any(%s)",
            (list(checkout_ids),),
        )


async def test_twenty_parallel_starts_of_one_key_make_one_checkout_and_all_answer_it(database):
    repo = PostgresCheckouts(database, lease_s=30)
    started = await asyncio.gather(*(repo.start(checkout()) for _ in range(20)))
    assert sum(created for _, created in started) == 1
    assert len({co.checkout_id for co, _ in started}) == 1
    (winner,) = [co for co, created in started if created]
    assert await repo.steps(winner.checkout_id) == [("started", "ok")]
    again, created = await repo.start(checkout(request_hash="h2"))  # the key again, another body
    assert (again.checkout_id, again.request_hash, created) == (winner.checkout_id, "h1", False)
    other, created = await repo.start(checkout(sub="sub-2"))  # the same key of another shopper is another one
    assert created
    assert other.checkout_id != winner.checkout_id


async def test_a_saved_step_keeps_the_sagas_state_and_a_terminal_one_its_event_each_one_statement(
    one_connection, pg_url
):
    database, sent = one_connection
    repo = PostgresCheckouts(database, lease_s=30)
    co, _ = await repo.start(checkout())
    co.status, co.lines, co.currency, co.subtotal_minor = Status.RESERVED, [{"product_id": "mug"}], "EUR", 3000
    await repo.save(co, "reserved")
    co.status, co.failure_reason, co.failure_detail, co.compensated = Status.FAILED, Reason.OUT_OF_STOCK, "mug", True
    event = outcome_event(co)
    assert event is not None
    await repo.save(co, "failed", "out_of_stock: " + "x" * 300, event)
    await asyncio.sleep(0)
    # each its own transaction, in one statement (no BEGIN, no COMMIT); the last one writes the event too
    assert [q.split(None, 2)[:2] for q in sent] == [["WITH", "made"], ["WITH", "moved"], ["WITH", "logged"]], sent
    assert "INSERT INTO outbox" in sent[-1]
    stored = await repo.get(co.checkout_id)
    assert stored == co
    assert await repo.get("chk-none") is None
    assert await repo.steps(co.checkout_id) == [
        ("started", "ok"),
        ("reserved", "ok"),
        ("failed", ("out_of_stock: " + "x" * 300)[:200]),
    ]
    with psycopg.connect(pg_url) as conn:
        lease = conn.execute("select locked_until from checkout.checkouts where checkout_id = %s", (co.checkout_id,))
        assert lease.fetchone() == (None,)
        outbox = conn.execute("select event_id, event_type, body->'data'->>'reason' from checkout.outbox").fetchall()
        assert outbox == [(event.event_id, "CheckoutFailed", "out_of_stock")]


async def test_the_sweeper_claims_only_unfinished_sagas_whose_lease_ran_out_oldest_first_and_none_held(
    database, pg_url
):
    repo = PostgresCheckouts(database, lease_s=30)
    made = [(await repo.start(checkout(key=f"key-{n}")))[0] for n in range(6)]
    running, oldest, second, held, newest, done = made
    done.status = Status.COMPLETED
    await repo.save(done, "completed")  # finished: never claimed, whatever its lease
    lease_ended(pg_url, *(co.checkout_id for co in (oldest, second, held, newest, done)))
    await repo.save(newest, "retry:started", "catalog away")  # saved last: the newest, and leased again...
    lease_ended(pg_url, newest.checkout_id)  # ...until that lease ran out too
    assert await repo.claim_stuck(limit=0) == []
    claiming = datetime.now(UTC)  # every lease the sweeper takes from here on ends 30 s after its claim, or later

    async with database.transaction() as other_runner:  # another sweeper holds one of them
        await other_runner.execute(
            db.Query("select 1 from checkouts where checkout_id = :id for update"), {"id": held.checkout_id}
        )
        first = await repo.claim_stuck(limit=1)
        claimed = await repo.claim_stuck()
    assert first == [oldest]
    assert [co.checkout_id for co in claimed] == [second.checkout_id, newest.checkout_id]
    # Claimed sagas are leased to the sweeper now: a further pass takes only the one that was held.
    assert [co.checkout_id for co in await repo.claim_stuck()] == [held.checkout_id]
    assert await repo.claim_stuck() == []
    with psycopg.connect(pg_url) as conn:
        leases = dict(conn.execute("select checkout_id, locked_until from checkout.checkouts").fetchall())
    leased = claiming + timedelta(seconds=30)
    assert all(leases[co.checkout_id] >= leased for co in (oldest, second, held, newest))
    assert leases[running.checkout_id] > datetime.now(UTC)  # its runner's lease, from its start, still running
    assert leases[done.checkout_id] < datetime.now(UTC)  # its ended lease untouched
