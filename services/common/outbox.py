"""The transactional outbox: an event is written in the same transaction as the state change it
describes, and a relay publishes it to SNS afterwards. No event is lost and none is invented:

- a rolled-back transaction leaves no event (the row was never committed);
- a crash between publishing and marking leaves the row unmarked, so it is published again:
  delivery is at-least-once, and consumers deduplicate by ``event_id``;
- several relays (replicas) share the work with ``FOR UPDATE SKIP LOCKED``.

Each row keeps the trace context of the transaction that wrote it (``trace_context``: the
``traceparent`` and ``X-Amzn-Trace-Id`` headers, NULL when tracing is off); the relay publishes
each event in a producer span of that trace and sends the span's context as message attributes,
so the consumers continue the same trace (services/common/telemetry.py).

The relay is woken on commit (issue 13): ``enqueue`` also sends a PostgreSQL ``NOTIFY`` on the
channel ``outbox_<schema>`` in the same statement, which PostgreSQL delivers only when the
transaction commits; the relay ``LISTEN``s on its own connection and publishes at once instead
of polling every ``idle_s``. Polling stays the safety net: every ``LISTEN_POLL_S`` while the
listener is up, every ``idle_s`` while it is down (the database restarting) or SNS is failing.

The relay is the diagram's "Event publisher" node: ORDER, CHECKOUT, PAY --> EVT --> SNS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from reference import physical_name
from reference.events import Event
from services.common import telemetry
from services.common.background import build_with_backoff
from services.common.db import Database, Query, Session

log = logging.getLogger("services.outbox")
BATCH = 10  # SNS PublishBatch takes at most 10 entries
LISTEN_POLL_S = 5.0  # the safety poll while the relay is woken by NOTIFY
GATHER_S = 0.1  # after a wake, commits of this long go out together (fewer PublishBatch calls, billed per call)
CHANNEL = sa.literal_column("'outbox_' || current_schema()")  # the writer's schema: one channel per service


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    ]


def _trace_column() -> sa.Column[Any]:
    return sa.Column("trace_context", JSONB, nullable=True)


metadata = sa.MetaData()
outbox = sa.Table(
    "outbox",
    metadata,
    *_columns(),
    _trace_column(),
    sa.Index("outbox_unpublished", "created_at", postgresql_where=sa.text("published_at is null")),
)


def create_outbox_table(op: Any) -> None:
    """For a service's Alembic migration: ``create_outbox_table(op)`` in ``upgrade()``."""
    op.create_table(outbox.name, *_columns())
    op.create_index("outbox_unpublished", "outbox", ["created_at"], postgresql_where=sa.text("published_at is null"))


def add_trace_context_column(op: Any) -> None:
    """For a service's Alembic migration: the outbox row's trace context (issue 14)."""
    op.add_column(outbox.name, _trace_column())


# The statements of every event written and every relay pass, compiled once (issue 13: docs/commerce-core.md).
_IDS = sa.any_(sa.bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))
_EVENT = {
    "event_id": sa.bindparam("event_id", type_=UUID(as_uuid=True)),
    "topic": sa.bindparam("topic", type_=sa.String),
    "event_type": sa.bindparam("event_type", type_=sa.String),
    "body": sa.bindparam("body", type_=JSONB),
    "trace_context": sa.bindparam("trace_context", type_=JSONB),
}
WRITE = Query(sa.select(sa.func.pg_notify(CHANNEL, "")).add_cte(outbox.insert().values(_EVENT).cte("written")))


def written_with(change: sa.Insert | sa.Update | sa.Delete) -> sa.Select[Any]:
    """``change`` (a statement ``RETURNING`` the row it changed) and, only if it changed one, the event ``params``
    gives written to the outbox with the relay woken on commit: one statement, its own transaction, where BEGIN,
    the change, the outbox write and COMMIT were four round trips. Its rows are ``change``'s.

    A data-modifying CTE runs to completion whatever reads it, so the event is written exactly when ``change``
    returns a row: of two racing compare-and-sets one writes its event, the other nothing. Parameters are bound by
    name: one of ``change``'s named as an event's (``event_id``, ``topic``, ``event_type``, ``body``,
    ``trace_context``) takes the event's value.
    """
    changed = change.cte("changed")
    written = outbox.insert().from_select(list(_EVENT), sa.select(*_EVENT.values()).select_from(changed))
    return sa.select(changed, sa.func.pg_notify(CHANNEL, "").label("notified")).add_cte(written.cte("written"))


PENDING = Query(
    sa.select(outbox.c.event_id, outbox.c.topic, outbox.c.body, outbox.c.trace_context)
    .where(outbox.c.published_at.is_(None))
    .order_by(outbox.c.created_at)
    .limit(sa.bindparam("limit", type_=sa.Integer))
    .with_for_update(skip_locked=True)
)
MARK_PUBLISHED = Query(
    outbox.update()
    .where(outbox.c.event_id == _IDS)
    .values(published_at=sa.bindparam("at", type_=sa.DateTime(timezone=True)))
)
COUNT_ATTEMPT = Query(outbox.update().where(outbox.c.event_id == _IDS).values(attempts=outbox.c.attempts + 1))
LISTEN_CHANNEL = Query(sa.select(CHANNEL))
COUNT_PENDING = Query(sa.select(sa.func.count()).where(outbox.c.published_at.is_(None)))


async def enqueue(conn: Session, event: Event) -> None:
    """Write ``event`` to the outbox inside the caller's transaction, with the caller's trace context, and
    wake the relay when that transaction commits (one statement: the insert and the ``NOTIFY``)."""
    await conn.execute(WRITE, params(event))


def params(event: Event) -> dict[str, Any]:
    """``event``'s outbox row with the caller's trace context: the parameters of ``WRITE`` and ``written_with``."""
    return {
        "event_id": event.event_id,
        "topic": event.topic,
        "event_type": event.event_type,
        "body": event.model_dump(mode="json"),  # JSON's values; the pool's codec writes it once
        "trace_context": telemetry.carrier() or None,
    }


class SnsPublisher:
    """Publishes envelopes to the stage's topics (topic ARNs resolved once from the account id)."""

    def __init__(self, stage: str, region: str):
        self.stage = stage
        self.sns = boto3.client("sns", region_name=region)
        account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
        self.arn_prefix = f"arn:aws:sns:{region}:{account}:"

    def topic_arn(self, topic: str) -> str:
        return self.arn_prefix + physical_name(topic, self.stage)

    def ping(self) -> None:
        """One cheap SNS call: raises while SNS is unreachable."""
        self.sns.list_topics()

    def publish(self, topic: str, events: list[dict[str, Any]], traces: list[dict[str, str]] | None = None) -> set[str]:
        """Publish up to 10 envelopes to one topic (each with its trace context, if any); returns the
        event ids SNS accepted."""
        traces = traces or [{} for _ in events]
        entries = [
            {
                "Id": str(i),
                "Message": json.dumps(body, separators=(",", ":")),
                "MessageAttributes": Event.model_validate(body).attributes() | telemetry.message_attributes(trace),
            }
            for i, (body, trace) in enumerate(zip(events, traces, strict=True))
        ]
        result = self.sns.publish_batch(TopicArn=self.topic_arn(topic), PublishBatchRequestEntries=entries)
        return {events[int(ok["Id"])]["event_id"] for ok in result.get("Successful", [])}


class OutboxRelay:
    """Moves committed outbox rows to SNS, oldest first, and marks them published."""

    def __init__(
        self,
        database: Database,
        publisher: SnsPublisher | Callable[[], SnsPublisher],
        *,
        idle_s: float = 0.2,
        gather_s: float = GATHER_S,
        clock: Callable[[], datetime] | None = None,
    ):
        """``publisher`` may be a factory: it is then called (with back-off) by ``run`` until AWS answers.

        ``gather_s``: after a wake, commits of this long go out together (one ``PublishBatch`` and one relay pass
        for what a checkout's steps commit a few tens of milliseconds apart); an event waits at most that long.
        """
        self.database = database
        self.publisher: SnsPublisher | None = publisher if isinstance(publisher, SnsPublisher) else None
        self._connect = None if isinstance(publisher, SnsPublisher) else publisher
        self.idle_s = idle_s
        self.gather_s = gather_s
        self.clock = clock or (lambda: datetime.now(UTC))
        self.error: str | None = None  # why the last pass could not publish, for /readyz
        self.listening = False  # woken by NOTIFY (else it polls every idle_s)

    async def connect(self, stop: asyncio.Event) -> bool:
        """Build the publisher, retrying with back-off until SNS/STS answer or ``stop`` is set.

        Meanwhile the service runs and its events wait, committed, in the outbox.
        """
        if self.publisher is None:
            assert self._connect is not None
            self.publisher = await build_with_backoff(self._connect, stop, what="SNS", on_error=self._failed)
            self.error = None if self.publisher else self.error
        return self.publisher is not None

    def _failed(self, reason: str) -> None:
        self.error = reason

    async def ready(self) -> None:
        """Raises while events cannot be published (a readiness check)."""
        if self.publisher is None or self.error:
            raise RuntimeError(self.error or "not connected to SNS yet")

    async def publish_pending(self, limit: int = 100) -> int:
        """One pass: publish up to ``limit`` pending events; returns how many were published."""
        async with self.database.transaction() as conn:
            rows = await conn.fetch(PENDING, {"limit": limit})
            if not rows:
                if self.error and self.publisher is not None:
                    await self._probe()
                return 0
            assert self.publisher is not None, "connect() first"
            published: set[str] = set()
            errors: list[str] = []
            for topic in sorted({r["topic"] for r in rows}):
                of_topic = [r for r in rows if r["topic"] == topic]
                for start in range(0, len(of_topic), BATCH):
                    chunk = of_topic[start : start + BATCH]
                    published |= await self._publish(topic, chunk, errors)
            self.error = errors[0] if errors else None
            ids = [r["event_id"] for r in rows]
            done = [i for i in ids if str(i) in published]
            if done:
                await conn.execute(MARK_PUBLISHED, {"ids": done, "at": self.clock()})
            failed = [i for i in ids if str(i) not in published]
            if failed:
                await conn.execute(COUNT_ATTEMPT, {"ids": failed})
            return len(done)

    async def _publish(self, topic: str, rows: list[Any], errors: list[str]) -> set[str]:
        """One PublishBatch, each event in a producer span of the trace that wrote it."""
        assert self.publisher is not None
        names = [f"{topic} publish {r['body'].get('event_type', '')}".strip() for r in rows]
        with telemetry.Spans(names, [r["trace_context"] for r in rows]) as spans:
            try:
                bodies = [r["body"] for r in rows]
                traced = [spans.carriers] if any(spans.carriers) else []  # tracing off: the plain call
                with telemetry.untraced():  # each entry carries its own event's context (see telemetry.untraced)
                    done = await asyncio.to_thread(self.publisher.publish, topic, bodies, *traced)
            except Exception as exc:
                errors.append(f"publishing to {topic} failed: {type(exc).__name__}: {exc}")
                log.exception("publishing to %s failed; will retry", topic)
                done = set()
            spans.settle([str(r["event_id"]) in done for r in rows], "SNS did not accept it; the relay retries")
        return done

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set; a full batch means more may wait, so go again at once."""
        if not await self.connect(stop):
            return
        wake = asyncio.Event()
        listener = asyncio.create_task(self._listen(wake, stop))
        try:
            while not stop.is_set():
                wake.clear()  # a commit during the pass wakes the next wait at once
                try:
                    count = await self.publish_pending()
                except Exception as exc:
                    self.error = f"outbox pass failed: {type(exc).__name__}: {exc}"
                    log.exception("outbox pass failed")
                    count = 0
                if count < 100:
                    pause = LISTEN_POLL_S if self.listening and not self.error else self.idle_s
                    if await _first_of(stop, wake, pause) and not stop.is_set():
                        await _first_of(stop, asyncio.Event(), self.gather_s)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _listen(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        """``LISTEN`` on this service's outbox channel and set ``wake`` on every notification; reconnect after
        a failure (meanwhile the relay polls)."""
        while not stop.is_set():
            try:
                channel = await self.database.fetchval(LISTEN_CHANNEL)
                url = self.database.url.set(drivername="postgresql").render_as_string(hide_password=False)
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as listening:
                    await listening.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self.listening = True
                    wake.set()  # what was committed before the LISTEN
                    async for _ in listening.notifies():
                        wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database away: poll meanwhile, listen again later
                log.warning("outbox listener lost (%s: %s); polling every %.1f s", type(exc).__name__, exc, self.idle_s)
            finally:
                self.listening = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def _probe(self) -> None:
        """After a failure with nothing to publish: is SNS back? (clears the readiness error if so)."""
        assert self.publisher is not None
        try:
            await asyncio.to_thread(self.publisher.ping)
            self.error = None
        except Exception as exc:  # noqa: BLE001 - still down: reported by readiness
            self.error = f"SNS still unreachable: {type(exc).__name__}: {exc}"

    async def pending(self) -> int:
        return int(await self.database.fetchval(COUNT_PENDING))


async def _first_of(stop: asyncio.Event, wake: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``stop`` or ``wake`` is set, or ``timeout_s`` passed; True if ``wake`` was set."""
    waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())}
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    return wake.is_set()
