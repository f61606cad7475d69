"""Consuming events: an SQS source (``services.common.sqs``) and a policy that decides each message.

The policy every service with a database uses is the **idempotent consumer**: parse the
envelope, then in ONE database transaction insert the event id into ``processed_events``
and run the handler with a unit of work bound to that transaction. A duplicate delivery
finds the id already there and does nothing; a handler that fails rolls both back and
leaves the message on the queue, so SQS delivers it again after the visibility timeout and,
after the queue's ``maxReceiveCount`` failed receives, moves it to the dead-letter queue. A
message that is not a valid envelope (a poison message) is left alone the same way and ends
in the DLQ. Messages are deleted (in one batch call) only after their transaction committed.

Each message is handled in a consumer span continuing the trace its message attributes carry
(services/common/telemetry.py): the idempotent policy opens one per message around the handler,
so the handler's SQL and the events it emits join that trace; for other policies (the search
indexer decides a batch at once) ``QueueConsumer`` records one per message around the batch.

``QueueConsumer`` joins a source and a policy into the loop the runtime runs; it connects to
SQS lazily and retries until AWS answers, so a service starts while SQS is unreachable and
reports the consumer as not ready meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import UUID, insert

from reference.events import Event
from services.common import outbox, telemetry
from services.common.background import build_with_backoff
from services.common.db import Database, Query, Session
from services.common.sqs import MAX_BATCH, Message, SqsSource, in_daemon_thread  # noqa: F401 - in_daemon_thread re-exported

log = logging.getLogger("services.consumer")


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


metadata = sa.MetaData()
processed_events = sa.Table("processed_events", metadata, *_columns())


# Compiled once (issue 13: docs/commerce-core.md).
FIRST_TIME = Query(
    insert(processed_events)
    .values(
        event_id=sa.bindparam("event_id", type_=UUID(as_uuid=True)),
        event_type=sa.bindparam("event_type", type_=sa.String),
    )
    .on_conflict_do_nothing()
    .returning(processed_events.c.event_id)
)


def create_processed_events_table(op: object) -> None:
    """For a consumer's Alembic migration: ``create_processed_events_table(op)`` in ``upgrade()``."""
    op.create_table(processed_events.name, *_columns())  # type: ignore[attr-defined]


class Outcome(StrEnum):
    """What became of one message. HANDLED and DUPLICATE are deleted; FAILED and POISON come back."""

    HANDLED = "handled"
    DUPLICATE = "duplicates"
    FAILED = "failed"
    POISON = "poison"

    @property
    def settled(self) -> bool:
        return self in (Outcome.HANDLED, Outcome.DUPLICATE)


@dataclass
class Tally:
    """How many messages of a poll ended each way."""

    handled: int = 0
    duplicates: int = 0
    failed: int = 0
    poison: int = 0

    def add(self, outcome: Outcome, count: int = 1) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + count)

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    @property
    def received(self) -> int:
        """How many messages the poll received, whatever became of them."""
        return sum(getattr(self, f.name) for f in fields(self))

    def __iadd__(self, other: Tally) -> Tally:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


class UnitOfWork:
    """What a handler may do: run statements in the message's transaction and emit events through the outbox.

    Everything commits with the record that the event was handled, or nothing does. ``fetch``, ``fetchrow``,
    ``fetchval`` and ``execute`` are the transaction's ``Session``'s (services/common/db.py).
    """

    __slots__ = ("connection", "execute", "fetch", "fetchrow", "fetchval")

    def __init__(self, conn: Session):
        self.connection = conn
        self.fetch, self.fetchrow, self.fetchval, self.execute = conn.fetch, conn.fetchrow, conn.fetchval, conn.execute

    async def emit(self, event: Event) -> None:
        """Store ``event`` in this service's outbox, in this transaction (the relay publishes it after commit)."""
        await outbox.enqueue(self.connection, event)


@contextlib.asynccontextmanager
async def transaction(database: Database) -> AsyncIterator[UnitOfWork]:
    """A unit of work outside a consumer (an API call's state change): one transaction, committed on exit.

    The same statements and ``emit`` a handler gets, so one use case runs unchanged from a route or a message.
    """
    async with database.transaction() as conn:
        yield UnitOfWork(conn)


Handler = Callable[[Event, UnitOfWork], Awaitable[None]]


class Policy(Protocol):
    """Decides a batch of messages: one outcome per message, in order."""

    async def decide(self, messages: Sequence[Message]) -> list[Outcome]: ...


class IdempotentPolicy:
    """Each event once: its effects and the record that it was handled commit together."""

    traces_each = True  # opens a consumer span per message itself (QueueConsumer need not)

    def __init__(self, database: Database, handler: Handler):
        self.database = database
        self.handler = handler

    async def decide(self, messages: Sequence[Message]) -> list[Outcome]:
        return [await self.process(m.body, telemetry.from_message_attributes(m.attributes)) for m in messages]

    async def process(self, body: str, trace: dict[str, str] | None = None) -> Outcome:
        """Decide one message, in a consumer span continuing ``trace`` (its message attributes' context)."""
        with telemetry.span("process", trace, kind="consumer") as current:
            outcome = await self._process(body, current)
            if not outcome.settled:
                telemetry.fail(current, f"{outcome.value}: left on the queue for redelivery or the DLQ")
            return outcome

    async def _process(self, body: str, current: object) -> Outcome:
        try:
            event = Event.model_validate_json(body)
        except ValidationError as exc:
            log.error("poison message left for the DLQ: %s", exc.errors()[:3])
            return Outcome.POISON
        if current is not None:
            current.update_name(f"{event.event_type} process")  # type: ignore[attr-defined]
            current.set_attribute("messaging.message.id", str(event.event_id))  # type: ignore[attr-defined]
        try:
            async with self.database.transaction() as conn:
                first = await conn.fetchrow(FIRST_TIME, {"event_id": event.event_id, "event_type": event.event_type})
                if first is None:
                    return Outcome.DUPLICATE
                await self.handler(event, UnitOfWork(conn))
        except Exception:
            log.exception("handling %s %s failed; SQS will redeliver it", event.event_type, event.event_id)
            return Outcome.FAILED
        return Outcome.HANDLED


class QueueConsumer:
    """Polls a source, lets the policy decide, deletes what was settled. ``run`` is a runtime loop.

    ``gather_s`` is a batching window, as Lambda's for an SQS event source: after a receive that was not full, the
    next one is made ``gather_s`` after it, so what arrives meanwhile comes in one receive and is deleted in one
    call (SQS bills each call; locally each is the emulator's CPU). A message waits at most that much longer; a
    full receive (10) is followed at once, and a long poll that found nothing waits on SQS as before.

    ``delete_within_s`` gathers the deletes of several receives: a settled message is deleted at most that long
    after it was settled, in one ``DeleteMessageBatch`` with the others settled meanwhile (ten go at once, oldest
    first; a stop deletes what is left). Nothing waits for it: the message was handled and committed, and until it is
    deleted it is only in flight. If the process dies first, SQS hands it out again after the visibility timeout
    (30 s, well above the window) and it is found already handled: a duplicate, as any redelivery. 0 deletes after
    each receive.
    """

    def __init__(
        self,
        source: SqsSource | Callable[[], SqsSource],
        policy: Policy,
        *,
        name: str = "consumer",
        gather_s: float = 0.0,
        delete_within_s: float = 0.0,
    ):
        self.name = name
        self.policy = policy
        self.gather_s = gather_s
        self.delete_within_s = delete_within_s
        self._settled: list[Message] = []  # settled, not deleted yet (delete_within_s)
        self._deleting_at: asyncio.TimerHandle | None = None
        self._deletes: set[asyncio.Task[None]] = set()
        self.source: SqsSource | None = source if isinstance(source, SqsSource) else None
        self._connect = None if isinstance(source, SqsSource) else source
        self.error: str | None = None
        self._receiving = False
        self._received_at = 0.0  # the event loop's time when the last receive answered

    async def connect(self, stop: asyncio.Event) -> bool:
        """Look the queue up, retrying with back-off until AWS answers or ``stop`` is set."""
        if self.source is None:
            assert self._connect is not None
            self.source = await build_with_backoff(self._connect, stop, what="SQS", on_error=self._failed)
            self.error = None if self.source else self.error
        return self.source is not None

    def _failed(self, reason: str) -> None:
        self.error = reason

    async def poll_once(self, wait_s: int | None = None) -> Tally:
        """Receive up to 10 messages, decide them, delete the settled ones; what became of each."""
        assert self.source is not None, "connect() first"
        self._receiving = True
        try:
            messages = await self.source.receive(wait_s)
        finally:
            self._receiving = False
        self._received_at = asyncio.get_running_loop().time()
        tally = Tally()
        if not messages:
            return tally
        if getattr(self.policy, "traces_each", False):
            outcomes = await self.policy.decide(messages)
        else:
            names = [f"{self.name} process"] * len(messages)
            with telemetry.Spans(names, [telemetry.from_message_attributes(m.attributes) for m in messages],
                                 kind="consumer") as spans:  # fmt: skip
                outcomes = await self.policy.decide(messages)
                spans.settle([o.settled for o in outcomes], [o.value for o in outcomes])
        for outcome in outcomes:
            tally.add(outcome)
        await self._delete([m for m, o in zip(messages, outcomes, strict=True) if o.settled])
        return tally

    async def _delete(self, settled: list[Message]) -> None:
        """Delete ``settled`` now, or within ``delete_within_s`` together with what is settled meanwhile."""
        assert self.source is not None
        if self.delete_within_s <= 0:
            await self.source.delete(settled)
            return
        self._settled += settled
        full = len(self._settled) - len(self._settled) % MAX_BATCH  # full batches go now, oldest first
        if full:
            batch, self._settled = self._settled[:full], self._settled[full:]
            await self._delete_now(batch)
        if self._settled and self._deleting_at is None:  # a timer left with nothing to delete deletes nothing
            self._deleting_at = asyncio.get_running_loop().call_later(self.delete_within_s, self._flush_later)

    def _flush_later(self) -> None:
        self._deleting_at = None
        task = asyncio.ensure_future(self.flush())
        self._deletes.add(task)
        task.add_done_callback(self._deletes.discard)

    async def flush(self) -> None:
        """Delete every settled message not deleted yet. If SQS refuses, they come back after the visibility timeout
        and are found handled (duplicates): logged, not raised."""
        if self._deleting_at is not None:
            self._deleting_at.cancel()
            self._deleting_at = None
        settled, self._settled = self._settled, []
        await self._delete_now(settled)

    async def _delete_now(self, settled: list[Message]) -> None:
        if not settled or self.source is None:
            return
        try:
            await self.source.delete(settled)
        except Exception as exc:  # noqa: BLE001 - SQS away: they are redelivered and found handled
            log.warning("%s: deleting %d handled messages failed (%s: %s); they come back as duplicates",
                        self.name, len(settled), type(exc).__name__, exc)  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        if not await self.connect(stop):
            return
        try:
            await self._run(stop)
        finally:  # what was handled is deleted before the loop ends (else it would come back as duplicates)
            await self.flush()
            await asyncio.gather(*self._deletes, return_exceptions=True)

    async def _run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            poll = asyncio.ensure_future(self.poll_once())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not poll.done():
                if self._receiving:
                    # Stopping during a long poll: abandon it. Whatever it receives is not deleted and
                    # comes back after the visibility timeout; nothing is lost.
                    poll.cancel()
                # Else a batch is being handled: let it finish (the runtime's grace bounds the wait).
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await poll
                break
            stopping.cancel()
            try:
                tally = poll.result()
                self.error = None
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                log.exception("%s poll failed", self.name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                continue
            if 0 < tally.received < MAX_BATCH and self.gather_s > 0:
                gathered = self._received_at + self.gather_s - asyncio.get_running_loop().time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(gathered, 0))

    async def ready(self) -> None:
        """Raises while the queue is not reachable (a readiness check)."""
        if self.source is None:
            raise RuntimeError(self.error or "not connected to SQS yet")
        if self.error:
            raise RuntimeError(self.error)


def Consumer(  # noqa: N802 - kept as the constructor name callers and tests know
    database: Database, queue: str, handler: Handler, *, stage: str, region: str, wait_s: int = 20
) -> QueueConsumer:
    """An idempotent consumer of ``queue``, connected now (blocking): for tests and tools."""
    source = SqsSource.connect(queue, stage=stage, region=region, wait_s=wait_s)
    return QueueConsumer(source, IdempotentPolicy(database, handler), name=f"{queue} consumer")
