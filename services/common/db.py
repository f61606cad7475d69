"""PostgreSQL (Aurora) for the services that own data: one schema per service, Alembic migrations.

Each service keeps its tables in its own schema of the shared database, so services
never read each other's tables; in AWS that is the same Aurora cluster and database.
Migrations run at start under an advisory lock, so replicas starting together migrate once
(on EKS they can also run as a Job before the rollout: ``python -m services.common.db``).

At run time a service's statements are written in SQLAlchemy Core (or SQL text), compiled once (``Query``)
and run on asyncpg's pool (``Database``); Alembic migrates on psycopg.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import select
from collections.abc import AsyncIterator, Mapping
from importlib.resources import files
from typing import Any

import asyncpg
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as _asyncpg_dialect
from sqlalchemy.engine import URL, Connection
from sqlalchemy.sql import ClauseElement

from services.common import telemetry

IntegrityError = asyncpg.IntegrityConstraintViolationError  # a unique, foreign-key, check or not-null violation
Record = asyncpg.Record  # a row: ``row["column"]`` or ``row[0]``


class DatabaseUnreachable(ConnectionError):
    """The pool could not open a connection (the server down, restarting or refusing): the caller's 503."""


def closed_by_server(conn: Any) -> bool:
    """Whether a pooled connection is dead, found without a round trip (SQLAlchemy's ``pool_pre_ping`` sends one).

    An idle connection in the pool has nothing to read: PostgreSQL speaks only when asked, and a
    server that stops (a restart, a failover, ``pg_terminate_backend``) says ``FATAL`` and closes the
    socket. asyncpg sees that as soon as the event loop reads it (``is_closed()``); a socket left readable
    is the same news not read yet. Either way the connection is dropped and the pool connects again. The rare
    false alarm (a parameter the server reports unasked) costs one reconnect. What this cannot see, as the ping
    could: a server that went silent without closing (a network partition); the statement's own error then
    tells, as a ping that timed out would have.
    """
    if conn.is_closed():
        return True
    transport = getattr(conn, "_transport", None)  # asyncpg's asyncio transport: its socket, to peek at
    sock = transport.get_extra_info("socket") if transport is not None else None
    return sock is not None and bool(select.select([sock], [], [], 0)[0])


def constraint_name(exc: BaseException) -> str | None:
    """The constraint an integrity error (``IntegrityError``, asyncpg's) names."""
    name = getattr(exc, "constraint_name", None)
    return str(name) if name else None


# --------------------------------------------------------------------------- statements on asyncpg directly

_DIALECT = _asyncpg_dialect()


class Query:
    """A statement compiled once for asyncpg: its SQL (``$1``, ``$2`` ...) and the names its parameters bind.

    SQLAlchemy Core (or SQL text with ``:name`` parameters) writes the statement, once, at import; asyncpg runs it,
    prepared on each connection the first time and kept in that connection's statement cache. SQLAlchemy's
    execution layer (its connection and result objects, the greenlet hand-over, the type processors) is not on the
    path: for the same unit of work it cost the client more CPU than the driver (issue 13, docs/commerce-core.md).

    Values go to asyncpg as they are: a ``dict`` or ``list`` for JSON and JSONB (the pool's codec encodes it), a
    ``datetime``, a ``UUID``, a ``list`` for an array. An ``IN`` over a list is ``column == sa.any_(bindparam(...,
    type_=ARRAY(...)))`` (``= ANY($1)``): an expanding ``IN`` is compiled per call, which is what this avoids.
    """

    __slots__ = ("defaults", "names", "sql")

    def __init__(self, statement: ClauseElement | str):
        if isinstance(statement, str):
            statement = text(statement)
        compiled = statement.compile(dialect=_DIALECT)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError(f"an expanding parameter cannot be compiled once; use sa.any_(): {compiled.string[:120]}")
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        # A literal in the statement (``n + 1``) is a bound parameter too, with its value.
        self.defaults = {
            n: compiled.binds[n].effective_value for n in self.names if compiled.binds[n].value is not None
        }

    def args(self, params: Mapping[str, Any] | None) -> list[Any]:
        if not self.names:
            return []
        params = params or {}
        try:
            return [params[n] if n in params else self.defaults[n] for n in self.names]
        except KeyError as missing:
            raise KeyError(f"no value for parameter {missing} of: {self.sql[:200]}") from None

    def __repr__(self) -> str:
        return f"Query({self.sql[:60]!r})"


class Session:
    """One pooled connection in use: a unit of work's statements (in a transaction, when ``Database.transaction``
    gave it), each a ``Query`` and its parameters by name. ``raw`` is asyncpg's connection (``LISTEN``, ``COPY``)."""

    __slots__ = ("_spans", "raw")

    def __init__(self, raw: asyncpg.Connection, spans: dict[str, Any] | None):
        self.raw, self._spans = raw, spans

    async def fetch(self, query: Query, params: Mapping[str, Any] | None = None) -> list[Record]:
        """Every row."""
        return await self._run(self.raw.fetch, query, params)

    async def fetchrow(self, query: Query, params: Mapping[str, Any] | None = None) -> Record | None:
        """The first row, or None."""
        return await self._run(self.raw.fetchrow, query, params)

    async def fetchval(self, query: Query, params: Mapping[str, Any] | None = None) -> Any:
        """The first row's first value, or None."""
        return await self._run(self.raw.fetchval, query, params)

    async def execute(self, query: Query, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement for its effect; how many rows it touched (the command tag's count, 0 for none)."""
        count = (await self._run(self.raw.execute, query, params)).rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    async def _run(self, run: Any, query: Query, params: Mapping[str, Any] | None) -> Any:
        """``run`` (one of asyncpg's four) on ``query``: in a client span when tracing is on and a request is kept."""
        if self._spans is None:
            return await run(query.sql, *query.args(params))
        span = telemetry.sql_span(self._spans, query.sql)
        try:
            out = await run(query.sql, *query.args(params))
        except BaseException as exc:
            telemetry.end_sql_span(span, exc)
            raise
        telemetry.end_sql_span(span, None)
        return out


class Database:
    """A service's PostgreSQL: an asyncpg pool whose connections see the service's schema first.

    ``fetch``/``fetchrow``/``fetchval``/``execute`` run one statement on a pooled connection, as its own
    transaction (no ``BEGIN`` and ``COMMIT`` round trips); ``transaction()`` gives a ``Session`` for several in one.
    A connection the server closed is never handed out (``closed_by_server``); a statement's client span is
    recorded when a kept request runs it and tracing is on.
    """

    def __init__(self, pool: asyncpg.Pool, url: URL, spans: dict[str, Any] | None = None):
        self.pool, self.url, self._spans = pool, url, spans

    @classmethod
    async def connect(cls, url: str, schema: str, *, min_size: int = 1, max_size: int = 20) -> Database:
        """A pool on ``url`` (any SQLAlchemy PostgreSQL URL: its driver part is ignored), ``schema`` first on the
        search path."""
        parsed = make_url(url)
        pool = await asyncpg.create_pool(
            parsed.set(drivername="postgresql").render_as_string(hide_password=False),
            min_size=min_size,
            max_size=max_size,
            max_inactive_connection_lifetime=1800,
            server_settings={"search_path": f"{schema},public"},
            init=_codecs,
            connection_class=_Connection,
        )
        return cls(pool, parsed, telemetry.sql_attributes(parsed))

    async def close(self, timeout_s: float = 5.0) -> None:
        """Close every connection once it is given back; after ``timeout_s``, those still held too."""
        try:
            await asyncio.wait_for(self.pool.close(), timeout_s)
        except TimeoutError:
            self.pool.terminate()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Session]:
        """A pooled connection for several statements, each its own transaction."""
        raw = await self._acquire()
        try:
            yield Session(raw, self._spans)
        finally:
            await self.pool.release(raw)

    @contextlib.asynccontextmanager
    async def transaction(self, isolation: str | None = None) -> AsyncIterator[Session]:
        """A pooled connection in one transaction: committed when the block ends, rolled back if it raises."""
        async with self.connection() as session, session.raw.transaction(isolation=isolation):
            yield session

    async def fetch(self, query: Query, params: Mapping[str, Any] | None = None) -> list[Record]:
        async with self.connection() as session:
            return await session.fetch(query, params)

    async def fetchrow(self, query: Query, params: Mapping[str, Any] | None = None) -> Record | None:
        async with self.connection() as session:
            return await session.fetchrow(query, params)

    async def fetchval(self, query: Query, params: Mapping[str, Any] | None = None) -> Any:
        async with self.connection() as session:
            return await session.fetchval(query, params)

    async def execute(self, query: Query, params: Mapping[str, Any] | None = None) -> int:
        async with self.connection() as session:
            return await session.execute(query, params)

    async def _acquire(self) -> asyncpg.Connection:
        """A pooled connection, none the server closed: such a one is dropped and the pool connects anew. A
        connection that cannot be opened is ``DatabaseUnreachable`` (asyncpg raises the socket's ``OSError``)."""
        try:
            for _ in range(self.pool.get_max_size()):
                raw = await self.pool.acquire()
                if not closed_by_server(raw):
                    return raw
                raw.terminate()  # the pool sees it closed and connects again for the next acquire
                await self.pool.release(raw)
            return await self.pool.acquire()
        except (OSError, TimeoutError) as exc:
            raise DatabaseUnreachable(f"PostgreSQL unreachable: {type(exc).__name__}: {exc}") from exc


class _Connection(asyncpg.Connection):  # type: ignore[misc]
    """asyncpg's connection, released to the pool without the reset query (``RESET ALL``, ``UNLISTEN *``, ``CLOSE
    ALL``, advisory unlocks: a round trip per release, for session state no unit of work here leaves behind). An
    open transaction is still rolled back on release (asyncpg's ``_reset``)."""

    def get_reset_query(self) -> str:
        return ""


async def _codecs(conn: asyncpg.Connection) -> None:
    """JSON and JSONB as Python values, both ways."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_dumps, decoder=json.loads, schema="pg_catalog")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


async def prepare(package: str, schema: str, secret_id: str, region: str, *, migrate_schema: bool = True) -> str:
    """What every service with tables does at start: read the credentials secret, migrate its schema.

    Returns the SQLAlchemy URL (psycopg driver) for ``Database.connect``.
    """

    from services.common.secrets import database_url, read_secret

    url = database_url(await asyncio.to_thread(read_secret, secret_id, region))
    if migrate_schema:
        await asyncio.to_thread(migrate, package, url, schema)
    return url


def migrate(package: str, url: str, schema: str) -> None:
    """Upgrade ``<package>/migrations`` to head in ``schema``, creating the schema if needed."""
    from alembic import command  # Alembic (and Mako) only when migrating: the adapters import this module too
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files(package) / "migrations"))
    config.set_main_option("path_separator", "os")
    engine = create_engine(url, poolclass=None)
    try:
        with engine.begin() as conn:
            conn.execute(text("select pg_advisory_xact_lock(hashtext(:key))"), {"key": f"migrate:{schema}"})
            conn.execute(text(f'create schema if not exists "{schema}"'))
            conn.execute(text(f'set local search_path to "{schema}", public'))
            config.attributes["connection"] = conn
            config.attributes["schema"] = schema
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def run_migrations_online(connection: Connection, schema: str, target_metadata: object = None) -> None:
    """What each service's ``migrations/env.py`` calls: run Alembic on the connection ``migrate`` gives."""
    from alembic import context

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a service's database migrations (the EKS pre-rollout Job).")
    parser.add_argument("service", help="service package name, e.g. catalog")
    parser.add_argument("--url", required=True, help="SQLAlchemy URL, e.g. postgresql+psycopg://...")
    args = parser.parse_args()
    migrate(f"services.{args.service}", args.url, args.service)


if __name__ == "__main__":
    main()
