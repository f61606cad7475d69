"""A service's runtime: the parts its lifespan starts, in order, stopped in reverse, each reporting in /readyz.

A service's ``app.py`` only names its parts::

    async def parts(rt: Runtime) -> None:
        database = await rt.database("services.order", "order")
        rt.state.service = service = OrderService(PostgresOrders(database))
        rt.relay(database)
        rt.consumer("order-payments", IdempotentPolicy(database, payments.handler(service)))

    return create_service_app("order", settings, [api.router], parts=parts)

What the runtime guarantees, the same in every service:

- **Start-up never waits for AWS messaging.** The outbox relay and the queue consumers connect in
  the background and retry with back-off; until they can, ``/readyz`` reports them ``down``, and
  the service answers its API meanwhile (events wait, committed, in the outbox).
- **Switched-off parts are not built.** ``<PREFIX>RUN_RELAY=false`` or ``RUN_CONSUMER=false``
  builds no publisher and no SQS client: API-only pods need neither.
- **Readiness.** Each part registers a check. A *critical* check down (the database, the cache a
  service cannot answer without) makes ``/readyz`` 503 and takes the pod out of the load
  balancer; a background part down (relay, consumer, sweeper) is reported as ``degraded`` with
  200: an SNS outage must not take every API pod out of service.
- **Bounded stop.** Background loops get ``<PREFIX>SHUTDOWN_GRACE_S`` to finish what they hold
  (a relay pass, a batch of messages), then are cancelled; a cancel inside a transaction rolls
  it back and SQS delivers the message again. Then resources close in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.datastructures import State

from services.common import telemetry
from services.common.background import Loop, Loops
from services.common.settings import ServiceSettings, service_url

if TYPE_CHECKING:  # imported where a part is built: a service pays only for the parts it has (issue 20)
    import httpx
    import redis.asyncio as redis

    from services.common.consumer import Policy, QueueConsumer
    from services.common.db import Database
    from services.common.outbox import OutboxRelay

T = TypeVar("T")
Check = Callable[[], Awaitable[object]]
log = logging.getLogger("services.runtime")


@dataclass(frozen=True)
class Probe:
    check: Check
    critical: bool


class Runtime:
    """Builds a service's parts in its lifespan and undoes them in reverse; see the module docstring."""

    def __init__(self, name: str, settings: ServiceSettings, state: State):
        self.name = name
        self.settings = settings
        self.state = state
        self.loops = Loops()
        self.probes: dict[str, Probe] = {}
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Runtime:
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.loops.close(grace_s=self.settings.shutdown_grace_s)
        finally:
            await self._stack.__aexit__(None, None, None)

    # ------------------------------------------------------------------ resources and checks

    def check(self, name: str, check: Check, *, critical: bool = True) -> None:
        """Report ``check`` in /readyz under ``name`` (it raises when the dependency is down)."""
        self.probes[name] = Probe(check, critical)

    def on_close(self, close: Callable[[], object]) -> None:
        """Call ``close`` (sync or async) when the service stops, after the loops, in reverse order."""

        async def run() -> None:
            result = close()
            if inspect.isawaitable(result):
                await result

        self._stack.push_async_callback(run)

    async def enter(self, context: AbstractAsyncContextManager[T]) -> T:
        """Enter an async context manager now; it exits when the service stops."""
        return await self._stack.enter_async_context(context)

    async def database(self, package: str, schema: str) -> Database:
        """The service's PostgreSQL: credentials from Secrets Manager, its schema migrated, a pool of connections.

        Needs ``DatabaseSettings``. Registers the critical ``database`` check.
        """
        from services.common import db  # asyncpg, SQLAlchemy, Alembic, Mako: only the services with a database

        s: Any = self.settings
        url = await db.prepare(package, schema, s.database_secret_id, s.aws_region, migrate_schema=s.migrate_on_start)
        database = await db.Database.connect(url, schema, max_size=s.db_pool_size + s.db_max_overflow)
        self.on_close(database.close)
        ping = db.Query("select 1")

        async def check() -> None:
            await database.fetchval(ping)

        self.check("database", check)
        return database

    async def client(self, service: str, *, timeout: httpx.Timeout | None = None) -> httpx.AsyncClient:
        """A pooled HTTP client for another service of reference/ (closed when this one stops)."""
        from services.common import http

        return await self.enter(http.client(service_url(service), timeout=timeout or http.DEFAULT_TIMEOUT))

    def redis(self, url: str, *, timeout_s: float) -> redis.Redis:
        """A Redis (ElastiCache) client whose calls give up after ``timeout_s``, closed when the service stops.

        A call on a connection the server has closed is retried once on a new connection.

        No check is registered: the services that use Redis decide whether they can answer without it.
        """
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            health_check_interval=30,
            connection_class=_redis_connection_class(),
            # A pooled connection the server closed (a node replaced, a failover) is retried once on a new one;
            # a timeout is not: that server is slow or gone, and a second wait would double the caller's.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self.on_close(client.aclose)
        telemetry.instrument_redis(client)  # a kept request's commands as client spans (tracing on only)
        return client

    # ------------------------------------------------------------------ background parts

    def background(self, name: str, loop: Loop, *, ready: Check | None = None) -> None:
        """Run ``loop(stop)`` until the service stops; /readyz reports it (non-critical) as down once it
        has died, or while ``ready`` raises."""
        self.loops.start(name, loop)
        alive = self.loops.checks()[name]

        async def check() -> None:
            await alive()
            if ready is not None:
                await ready()

        self.check(name, check, critical=False)

    def every(self, name: str, interval_s: float, work: Callable[[], Awaitable[object]]) -> None:
        """Run ``work()`` now and every ``interval_s`` s (0 switches it off); a failed run is logged, not fatal."""
        if interval_s <= 0:
            return

        async def loop(stop: asyncio.Event) -> None:
            while not stop.is_set():
                try:
                    done = await work()
                    if done:
                        log.info("%s: %s", name, done)
                except Exception:
                    log.exception("%s failed; trying again in %.1f s", name, interval_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval_s)

        self.background(name, loop)

    def relay(self, database: Database) -> OutboxRelay | None:
        """Publish this service's outbox to SNS in the background (``RelaySettings``); None when switched off."""
        s: Any = self.settings
        if not s.run_relay:
            return None
        from services.common.outbox import OutboxRelay, SnsPublisher

        relay = OutboxRelay(
            database, lambda: SnsPublisher(s.stage, s.aws_region), idle_s=s.relay_idle_s, gather_s=s.relay_gather_s
        )
        self.state.relay = relay
        self.background("relay", relay.run, ready=relay.ready)
        return relay

    def consumer(self, queue: str, policy: Policy, *, name: str = "consumer") -> QueueConsumer | None:
        """Consume ``queue`` (a logical name of reference/) with ``policy`` (``ConsumerSettings``); None when off."""
        s: Any = self.settings
        if not s.run_consumer:
            return None
        from services.common.consumer import QueueConsumer
        from services.common.sqs import SqsSource

        consumer = QueueConsumer(
            lambda: SqsSource.connect(queue, stage=s.stage, region=s.aws_region, wait_s=s.consumer_wait_s),
            policy,
            name=f"{self.name} {name} ({queue})",
            gather_s=s.consumer_gather_s,
            delete_within_s=s.consumer_delete_within_s,
        )
        setattr(self.state, name, consumer)
        self.background(name, consumer.run, ready=consumer.ready)
        return consumer


Parts = Callable[[Runtime], Awaitable[None]]


async def run_checks(probes: dict[str, Probe], timeout_s: float = 2.0) -> dict[str, dict[str, Any]]:
    """Run every probe at once; each answers up/down with its latency, and whether it is critical."""

    async def one(probe: Probe) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            await asyncio.wait_for(probe.check(), timeout_s)
            status, detail = "up", ""
        except Exception as exc:  # noqa: BLE001 - a failed check is a 'down'
            status, detail = "down", f"{type(exc).__name__}: {exc}"
        return {
            "status": status,
            "detail": detail,
            "critical": probe.critical,
            "latency_ms": round((time.perf_counter() - start) * 1000, 1),
        }

    names = list(probes)
    results = await asyncio.gather(*(one(probes[n]) for n in names))
    return dict(zip(names, results, strict=True))


def verdict(results: dict[str, dict[str, Any]]) -> tuple[str, int]:
    """``ok``/200 all up; ``degraded``/200 only background parts down; ``down``/503 a critical check down."""
    if any(r["status"] != "up" and r["critical"] for r in results.values()):
        return "down", 503
    if any(r["status"] != "up" for r in results.values()):
        return "degraded", 200
    return "ok", 200


@functools.cache
def _redis_connection_class() -> type:
    """redis-py's connection, with a write on a connection the server (or a node replacement) closed reported
    as the connection error it is.

    Under uvloop (uvicorn's loop) writing to a closed transport raises ``RuntimeError`` ("the handler is
    closed"), where asyncio's own loop raises nothing and the read then fails with ``ConnectionError``. redis-py
    retries and reconnects only on its connection errors, so every pooled connection that Valkey had reset
    answered one request with a 500 (seen in the ``cache-down`` chaos experiment). As ``ConnectionResetError``
    it is an ``OSError``: redis-py drops the connection, retries on a new one, and a service that can answer
    without Redis falls back as it does when Redis is down.
    """
    import redis.asyncio as redis

    class Connection(redis.Connection):
        async def _send_packed_command(self, command: Iterable[bytes]) -> None:
            try:
                await super()._send_packed_command(command)
            except RuntimeError as exc:
                if self._writer is None or not self._writer.transport.is_closing():
                    raise
                raise ConnectionResetError(f"Valkey connection closed before the write: {exc}") from exc

    return Connection
