"""Idempotent SQS consumers: each event's effects and the record that it was handled commit together.

For every message: parse the envelope, then in ONE database transaction insert the event
id into ``processed_events`` and run the handler. A duplicate delivery finds the id already
there and does nothing; a handler that fails rolls both back and leaves the message on the
queue, so SQS delivers it again after the visibility timeout and, after the queue's
``maxReceiveCount`` failed receives, moves it to the dead-letter queue. A message that is
not a valid envelope (a poison message) is left alone the same way and ends in the DLQ.
Messages are deleted only after their transaction committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from reference import physical_name
from reference.events import Event

log = logging.getLogger("services.consumer")


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


metadata = sa.MetaData()
processed_events = sa.Table("processed_events", metadata, *_columns())

T = TypeVar("T")
Handler = Callable[[Event, AsyncConnection], Awaitable[None]]


def create_processed_events_table(op: object) -> None:
    """For a consumer's Alembic migration: ``create_processed_events_table(op)`` in ``upgrade()``."""
    op.create_table(processed_events.name, *_columns())  # type: ignore[attr-defined]


@dataclass
class Outcome:
    handled: int = 0
    duplicates: int = 0
    failed: int = 0
    poison: int = 0


def in_daemon_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
    """Run a blocking call (an SQS long poll) in a daemon thread.

    Not ``asyncio.to_thread``: the interpreter joins executor threads at exit, so a long
    poll in flight would hold a stopping service for up to 20 s after its lifespan ended.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(method: Callable[[Any], None], value: Any) -> None:
        if not future.done():  # the awaiting task may have been cancelled meanwhile
            method(value)

    def run() -> None:
        try:
            outcome: tuple[Callable[[Any], None], Any] = (future.set_result, fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            outcome = (future.set_exception, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody is waiting any more
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=run, name="sqs-long-poll", daemon=True).start()
    return future


class Consumer:
    """Long-polls one queue and hands each new event to ``handler`` inside a transaction."""

    def __init__(self, engine: AsyncEngine, queue: str, handler: Handler, *, stage: str, region: str, wait_s: int = 20):
        self.engine = engine
        self.handler = handler
        self.wait_s = wait_s
        self.sqs = boto3.client("sqs", region_name=region)
        self.queue_url = self.sqs.get_queue_url(QueueName=physical_name(queue, stage))["QueueUrl"]

    async def poll_once(self, wait_s: int | None = None) -> Outcome:
        """Receive up to 10 messages and process them; returns what happened to each."""
        got = await in_daemon_thread(
            self.sqs.receive_message,
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self.wait_s if wait_s is None else wait_s,
            MessageAttributeNames=["All"],
        )
        outcome = Outcome()
        for message in got.get("Messages", []):
            result = await self.process(message["Body"])
            setattr(outcome, result, getattr(outcome, result) + 1)
            if result in ("handled", "duplicates"):
                await asyncio.to_thread(
                    self.sqs.delete_message, QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return outcome

    async def process(self, body: str) -> str:
        """'handled', 'duplicates', 'failed' or 'poison' for one message body."""
        try:
            event = Event.model_validate_json(body)
        except ValidationError as exc:
            log.error("poison message left for the DLQ: %s", exc.errors()[:3])
            return "poison"
        try:
            async with self.engine.begin() as conn:
                first = await conn.execute(
                    insert(processed_events)
                    .values(event_id=event.event_id, event_type=event.event_type)
                    .on_conflict_do_nothing()
                    .returning(processed_events.c.event_id)
                )
                if first.first() is None:
                    return "duplicates"
                await self.handler(event, conn)
        except Exception:
            log.exception("handling %s %s failed; SQS will redeliver it", event.event_type, event.event_id)
            return "failed"
        return "handled"

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception:
                log.exception("consumer poll failed")
                await asyncio.sleep(1)
