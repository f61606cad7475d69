"""Helpers for tests of event consumers: publish through SNS (so the filter policies apply) and drain a consumer."""

from __future__ import annotations

import json

import sqlalchemy as sa

from reference.events import Event
from services.common import consumer, db, outbox
from services.common.consumer import QueueConsumer, Tally
from services.common.outbox import SnsPublisher


async def database_with(pg_url: str, *tables: sa.MetaData) -> db.Database:
    """The chassis' database on ``public`` with an outbox, a processed-events table and ``tables`` created."""
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            for md in (outbox.metadata, consumer.metadata, *tables):
                md.create_all(conn)
    finally:
        engine.dispose()
    return await db.Database.connect(pg_url, "public")


def publish(aws, *events: Event) -> None:
    """Publish envelopes the way the outbox relay does: to their topic, with the event_type attribute."""
    publisher = SnsPublisher(aws.stage, aws.region)
    for event in events:
        assert publisher.publish(event.topic, [json.loads(event.model_dump_json())]) == {str(event.event_id)}


async def drain(consumer: QueueConsumer, rounds: int = 20) -> Tally:
    """Poll until the queue gives nothing (or ``rounds`` polls); the summed outcome."""
    total = Tally()
    for _ in range(rounds):
        got = await consumer.poll_once(wait_s=0)
        if got == Tally():
            break
        total += got
    return total


def queue_depth(aws, url: str) -> int:
    attrs = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
