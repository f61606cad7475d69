"""A relay killed between commit and publish, or between publish and mark, loses no event and doubles no effect.

Real PostgreSQL, real SNS -> SQS (the emulator); the faults are injected at the relay's own seams:
its clock is called only to mark rows published, and its publisher is the one SNS client it uses.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from reference.events import Event, new_event
from services.common import db
from services.common.consumer import Consumer, UnitOfWork
from services.common.outbox import OutboxRelay, SnsPublisher, enqueue
from tests.consumer_support import database_with, drain

effects = sa.Table("effects", sa.MetaData(), sa.Column("order_id", sa.String, primary_key=True))
RECORD = db.Query(effects.insert().values(order_id=sa.bindparam("order_id", type_=sa.String)))
APPLIED = db.Query(sa.select(effects.c.order_id))


@pytest.fixture
async def database(pg_url):
    database = await database_with(pg_url, effects.metadata)
    yield database
    await database.close()


async def record(event: Event, uow: UnitOfWork) -> None:
    """The consumer's effect: a primary key, so a second application of one event would fail loudly."""
    await uow.execute(RECORD, {"order_id": event.subject})


async def commit_events(database, count: int) -> list[str]:
    subjects = [f"o-fault-{i}" for i in range(count)]
    async with database.transaction() as conn:
        for subject in subjects:
            event = new_event("OrderConfirmed", source="order", subject=subject, data={"order_id": subject})
            await enqueue(conn, event)
    return subjects


async def applied(database) -> list[str]:
    return sorted(r[0] for r in await database.fetch(APPLIED))


class RelayDied(Exception):
    """The relay's process dies at the injected point (a kill -9 there)."""


async def test_events_committed_while_no_relay_runs_are_delivered_once_a_relay_starts(database, aws, provisioned):
    subjects = await commit_events(database, 3)
    consumer = Consumer(database, "recommendations", record, stage=aws.stage, region=aws.region)
    assert (await drain(consumer)).handled == 0, "nothing may travel before a relay runs"

    relay, stop = OutboxRelay(database, SnsPublisher(aws.stage, aws.region), idle_s=0.05), asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        for _ in range(100):
            if await relay.pending() == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert await relay.pending() == 0
    outcome = await drain(consumer)
    assert (outcome.handled, outcome.duplicates) == (3, 0)
    assert await applied(database) == subjects


def die_before_marking(relay: OutboxRelay) -> None:
    """SNS accepted the batch; the process dies before the rows are marked (the clock is read only to mark)."""

    def clock():
        raise RelayDied("killed between SNS's answer and the mark")

    relay.clock = clock


def lose_the_answer(relay: OutboxRelay) -> None:
    """SNS accepted the batch but its answer never came back (a timeout after the fact)."""
    publish = relay.publisher.publish

    def publish_then_fail(topic, events):
        publish(topic, events)
        raise TimeoutError("read timeout after SNS accepted the batch")

    relay.publisher.publish = publish_then_fail  # type: ignore[method-assign]


@pytest.mark.parametrize("fault", [die_before_marking, lose_the_answer], ids=["killed-before-mark", "answer-lost"])
async def test_a_batch_sns_accepted_but_never_marked_is_republished_and_handled_once(database, aws, provisioned, fault):
    subjects = await commit_events(database, 4)
    first = OutboxRelay(database, SnsPublisher(aws.stage, aws.region))
    fault(first)
    try:
        published = await first.publish_pending()
    except RelayDied:
        published = 0
    assert published == 0
    assert await first.pending() == 4, "rows SNS took but nobody marked must stay pending"

    restarted = OutboxRelay(database, SnsPublisher(aws.stage, aws.region))
    assert await restarted.publish_pending() == 4
    assert await restarted.pending() == 0

    consumer = Consumer(database, "recommendations", record, stage=aws.stage, region=aws.region)
    outcome = await drain(consumer)
    assert (outcome.handled, outcome.duplicates, outcome.failed) == (4, 4, 0), "each event arrived twice"
    assert await applied(database) == subjects
