"""Events are never lost and never doubled: outbox, relay, idempotent consumers, DLQ."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import sqlalchemy as sa
from consumer_support import database_with, queue_depth
from consumer_support import drain as drain_consumer
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert

from localcloud.provision import Outputs
from reference.events import Event, new_event
from services.common import consumer as consumer_mod
from services.common import db
from services.common import outbox as outbox_mod
from services.common.consumer import Consumer, UnitOfWork
from services.common.outbox import OutboxRelay, SnsPublisher, enqueue

ledger = sa.Table("ledger", sa.MetaData(), sa.Column("order_id", sa.String, primary_key=True))
RECORD = db.Query(ledger.insert().values(order_id=sa.bindparam("order_id", type_=sa.String)))
RECORDED = db.Query(sa.select(ledger.c.order_id))
COUNT_RECORDED = db.Query(sa.select(sa.func.count()).select_from(ledger))
COUNT_PROCESSED = db.Query(sa.select(sa.func.count()).select_from(consumer_mod.processed_events))


@pytest.fixture
async def database(pg_url):
    database = await database_with(pg_url, ledger.metadata)
    yield database
    await database.close()


def order_event(order_id: str, event_type: str = "OrderConfirmed") -> Event:
    return new_event(event_type, source="order", subject=order_id, data={"order_id": order_id})


def drain(sqs, url: str) -> list[dict]:
    out = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


async def test_committed_events_reach_the_subscribed_queues_and_are_marked_published(
    database, aws, provisioned: Outputs
):
    async with database.transaction() as conn:
        await enqueue(conn, order_event("o-1"))
        await enqueue(conn, order_event("o-2", "OrderPlaced"))  # no queue takes OrderPlaced (analytics will)
    relay = OutboxRelay(database, SnsPublisher(aws.stage, aws.region))
    assert await relay.publish_pending() == 2
    assert await relay.pending() == 0

    sqs = aws.client("sqs")
    reco = drain(sqs, provisioned.queues["recommendations"])
    notif = drain(sqs, provisioned.queues["notification"])
    assert [e["subject"] for e in reco] == ["o-1"]
    assert [e["subject"] for e in notif] == ["o-1"]
    assert Event.model_validate(reco[0]).event_type == "OrderConfirmed"


async def test_a_listening_relay_is_woken_by_the_commit_not_by_its_poll(database, aws, provisioned, monkeypatch):
    monkeypatch.setattr(outbox_mod, "LISTEN_POLL_S", 60.0)  # its safety poll: a minute away
    relay, stop = OutboxRelay(database, SnsPublisher(aws.stage, aws.region), idle_s=60), asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await until(lambda: relay.listening, "the relay listens")
        for n in range(2):  # the first may go out in the pass made on listening; the second only if woken
            async with database.transaction() as conn:
                await enqueue(conn, order_event(f"o-woken-{n}"))
            await until(relay.pending, f"event {n} is published", want=0, async_=True)
    finally:
        stop.set()
        await task
    assert not relay.listening


async def until(probe, what: str, *, want: object = True, async_: bool = False, within_s: float = 15.0) -> None:
    """Wait (at most ``within_s``, well under the relay's 60 s poll) until ``probe()`` gives ``want``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        got = await probe() if async_ else probe()
        if got == want:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {within_s} s: {what}")


FIRST_RECORD = db.Query(
    outbox_mod.written_with(
        pg_insert(ledger)
        .values(order_id=sa.bindparam("order_id", type_=sa.String))
        .on_conflict_do_nothing()
        .returning(ledger.c.order_id)
    )
)
WRITTEN = db.Query(
    sa.select(outbox_mod.outbox.c.event_id).where(
        outbox_mod.outbox.c.event_id == sa.any_(sa.bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))
    )
)


async def test_a_change_writes_its_event_and_wakes_the_relay_only_if_it_changed_a_row(database, pg_url):
    import asyncpg

    woken: list[str] = []
    listening = await asyncpg.connect(pg_url)
    try:
        await listening.add_listener("outbox_public", lambda *note: woken.append(note[2]))
        made, met, other = order_event("o-cas-1"), order_event("o-cas-1"), order_event("o-cas-2")
        rows = []
        for event in (made, met, other):  # the second meets the first's row: it changes nothing
            rows.append(await database.fetch(FIRST_RECORD, outbox_mod.params(event) | {"order_id": event.subject}))
        assert [[r["order_id"] for r in got] for got in rows] == [["o-cas-1"], [], ["o-cas-2"]]
        # NOTIFYs arrive in commit order: once the third statement's is in, a second one's would be too.
        await until(lambda: len(woken), "the relay's wake-ups", want=2)
        assert len(woken) == 2
        ids = [e.event_id for e in (made, met, other)]
        assert {r["event_id"] for r in await database.fetch(WRITTEN, {"ids": ids})} == {made.event_id, other.event_id}
    finally:
        await listening.close()


async def test_a_rolled_back_transaction_publishes_nothing(database, aws, provisioned: Outputs):
    async def failing_change() -> None:
        async with database.transaction() as conn:
            await enqueue(conn, order_event("o-ghost"))
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    relay = OutboxRelay(database, SnsPublisher(aws.stage, aws.region))
    assert await relay.publish_pending() == 0
    assert drain(aws.client("sqs"), provisioned.queues["recommendations"]) == []


async def test_events_stay_pending_while_sns_is_unreachable_and_go_out_after(database, aws, provisioned: Outputs):
    async with database.transaction() as conn:
        await enqueue(conn, order_event("o-3"))
    publisher = SnsPublisher(aws.stage, aws.region)
    good_prefix = publisher.arn_prefix
    publisher.arn_prefix = good_prefix.replace("123456789012", "000000000000")  # a topic that does not exist
    relay = OutboxRelay(database, publisher)
    assert await relay.publish_pending() == 0
    assert await relay.pending() == 1
    publisher.arn_prefix = good_prefix
    assert await relay.publish_pending() == 1
    assert [e["subject"] for e in drain(aws.client("sqs"), provisioned.queues["recommendations"])] == ["o-3"]


async def record(event: Event, uow: UnitOfWork) -> None:
    await uow.execute(RECORD, {"order_id": event.subject})


async def test_a_duplicate_delivery_is_handled_once(database, aws, provisioned: Outputs):
    event = order_event("o-4")
    sqs = aws.client("sqs")
    for _ in range(3):  # at-least-once: the same event may arrive several times
        sqs.send_message(QueueUrl=provisioned.queues["recommendations"], MessageBody=event.model_dump_json())
    consumer = Consumer(database, "recommendations", record, stage=aws.stage, region=aws.region)
    total = await drain_consumer(consumer)
    assert (total.handled, total.duplicates) == (1, 2)
    assert [r[0] for r in await database.fetch(RECORDED)] == ["o-4"]


async def test_a_batching_window_takes_what_arrived_meanwhile_in_one_receive_and_one_delete(
    database, aws, provisioned: Outputs
):
    sqs, url = aws.client("sqs"), provisioned.queues["recommendations"]
    consumer = Consumer(database, "recommendations", record, stage=aws.stage, region=aws.region, wait_s=5)
    consumer.gather_s = 5.0  # long enough that a loaded machine still sends the four within it
    source = consumer.source
    assert source is not None
    batches: list[int] = []
    deletes: list[int] = []
    receive, delete = source.receive, source.delete

    async def counted_receive(*args, **kwargs):
        got = await receive(*args, **kwargs)
        batches.append(len(got)) if got else None
        return got

    async def counted_delete(messages):
        deletes.append(len(messages))
        await delete(messages)

    source.receive, source.delete = counted_receive, counted_delete  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        sqs.send_message(QueueUrl=url, MessageBody=order_event("o-w0").model_dump_json())
        await until(lambda: deletes == [1], "the first message is handled and deleted")
        for n in range(1, 5):  # they arrive while the consumer waits out its window
            sqs.send_message(QueueUrl=url, MessageBody=order_event(f"o-w{n}").model_dump_json())
        await until(lambda: sum(deletes) == 5, "the four are handled and deleted")
    finally:
        stop.set()
        await task
    assert (batches, deletes) == ([1, 4], [1, 4])
    assert sorted(r[0] for r in await database.fetch(RECORDED)) == [f"o-w{n}" for n in range(5)]


def counting_deletes(consumer) -> list[int]:
    """The size of each delete call the consumer's source makes, from now on (the calls still go to SQS)."""
    source = consumer.source
    assert source is not None
    deletes: list[int] = []
    delete = source.delete

    async def counted_delete(messages):
        deletes.append(len(messages))
        await delete(messages)

    source.delete = counted_delete  # type: ignore[method-assign]
    return deletes


async def test_handled_messages_of_several_receives_are_deleted_in_one_call_and_a_stop_deletes_what_is_left(
    database, aws, provisioned: Outputs
):
    sqs, url = aws.client("sqs"), provisioned.queues["recommendations"]
    consumer = Consumer(database, "recommendations", record, stage=aws.stage, region=aws.region, wait_s=1)
    consumer.delete_within_s = 600.0  # only a full batch or the stop deletes here
    deletes = counting_deletes(consumer)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        for n in range(3):  # one receive each: each is handled before the next is sent
            sqs.send_message(QueueUrl=url, MessageBody=order_event(f"o-d{n}").model_dump_json())
            await until(lambda n=n: len(consumer._settled) == n + 1, f"message {n} handled")
        assert deletes == []
        assert queue_depth(aws, url) == 3  # handled and committed, still in flight
        for n in range(3, 13):  # ten more: the tenth settled sends a full batch at once
            sqs.send_message(QueueUrl=url, MessageBody=order_event(f"o-d{n}").model_dump_json())
        await until(lambda: deletes == [10], "a full batch deleted at once")
    finally:
        stop.set()
        await task
    assert deletes == [10, 3]
    assert queue_depth(aws, url) == 0
    assert sorted(r[0] for r in await database.fetch(RECORDED)) == sorted(f"o-d{n}" for n in range(13))


async def test_a_handled_message_is_deleted_within_the_window_without_another_receive(
    database, aws, provisioned: Outputs
):
    sqs, url = aws.client("sqs"), provisioned.queues["recommendations"]
    consumer = Consumer(database, "recommendations", record, stage=aws.stage, region=aws.region, wait_s=20)
    consumer.delete_within_s = 0.3
    deletes = counting_deletes(consumer)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        sqs.send_message(QueueUrl=url, MessageBody=order_event("o-t").model_dump_json())
        await until(lambda: deletes == [1], "deleted by the window's timer while the next long poll waits")
        assert queue_depth(aws, url) == 0
    finally:
        stop.set()
        await task
    assert deletes == [1]


async def test_a_failing_handler_commits_nothing_and_the_message_ends_in_the_dlq(database, aws, provisioned: Outputs):
    async def explode(event: Event, uow: UnitOfWork) -> None:
        await record(event, uow)
        raise RuntimeError("downstream is broken")

    sqs = aws.client("sqs")
    sqs.set_queue_attributes(QueueUrl=provisioned.queues["recommendations"], Attributes={"VisibilityTimeout": "0"})
    sqs.send_message(QueueUrl=provisioned.queues["recommendations"], MessageBody=order_event("o-5").model_dump_json())
    consumer = Consumer(database, "recommendations", explode, stage=aws.stage, region=aws.region)
    failures = 0
    for _ in range(10):
        failures += (await consumer.poll_once(wait_s=0)).failed
    assert failures == 5  # the queue's maxReceiveCount
    assert await database.fetchval(COUNT_RECORDED) == 0
    assert await database.fetchval(COUNT_PROCESSED) == 0
    dead = drain(sqs, provisioned.dlqs["recommendations"])
    assert [e["subject"] for e in dead] == ["o-5"]


async def test_a_poison_message_is_not_deleted_and_ends_in_the_dlq(database, aws, provisioned: Outputs):
    sqs = aws.client("sqs")
    sqs.set_queue_attributes(QueueUrl=provisioned.queues["recommendations"], Attributes={"VisibilityTimeout": "0"})
    sqs.send_message(QueueUrl=provisioned.queues["recommendations"], MessageBody="{not an event")
    consumer = Consumer(database, "recommendations", record, stage=aws.stage, region=aws.region)
    poison = sum([(await consumer.poll_once(wait_s=0)).poison for _ in range(8)])
    assert poison == 5
    assert [
        m["Body"] for m in sqs.receive_message(QueueUrl=provisioned.dlqs["recommendations"]).get("Messages", [])
    ] == ["{not an event"]


def test_dead_letters_can_be_listed_shown_and_redriven_to_a_consumer_that_handles_them(aws, provisioned, capsys):
    from services.common.dlq import DeadLetters, main

    sqs = aws.client("sqs")
    events = [order_event(f"o-dead-{i}") for i in range(3)]
    for event in events:
        sqs.send_message(QueueUrl=provisioned.dlqs["recommendations"], MessageBody=event.model_dump_json())
    dl = DeadLetters(aws.stage, aws.region)

    assert {r["queue"]: r["dead"] for r in dl.summary()}["recommendations"] == 3
    shown = dl.peek("recommendations", 10)
    assert sorted(s["subject"] for s in shown) == ["o-dead-0", "o-dead-1", "o-dead-2"]
    assert dl.summary()[1]["dead"] == 3, "showing must leave the letters in the DLQ"

    assert main(["show", "recommendations", "--limit", "2"]) == 0
    assert capsys.readouterr().out.count("OrderConfirmed") == 2

    assert dl.redrive("recommendations", limit=2) == 2
    assert main(["redrive", "recommendations"]) == 0
    assert "redrove 1 message(s)" in capsys.readouterr().out
    assert {r["queue"]: (r["waiting"], r["dead"]) for r in dl.summary()}["recommendations"] == (3, 0)
    assert sorted(e["subject"] for e in drain(sqs, provisioned.queues["recommendations"])) == [
        "o-dead-0",
        "o-dead-1",
        "o-dead-2",
    ]
