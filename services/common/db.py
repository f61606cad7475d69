"""PostgreSQL (Aurora) for the services that own data: one schema per service, Alembic migrations.

Each service keeps its tables in its own schema of the shared database, so services
never read each other's tables; in AWS that is the same Aurora cluster and database.
Migrations run at start under an advisory lock, so replicas starting together migrate once
(on EKS they can also run as a Job before the rollout: ``python -m services.common.db``).
"""

from __future__ import annotations

import argparse
import select
from importlib.resources import files
from typing import Any

from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DRIVER = "postgresql+asyncpg"


def async_engine(url: str, schema: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    """An async engine on asyncpg whose connections see ``schema`` first; a connection the server closed is never
    handed out.

    asyncpg whatever driver ``url`` names (the secrets give psycopg URLs; psycopg stays for migrations, the
    relay's ``LISTEN`` and the tools): the same unit of work (a transaction of three statements) costs the
    client less CPU through SQLAlchemy on asyncpg than on psycopg (``nox -s bench -- clients``: 1,892 against
    2,195 µs; issue 13, docs/commerce-core.md).
    """
    engine = create_async_engine(
        make_url(url).set(drivername=DRIVER),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args={"server_settings": {"search_path": f"{schema},public"}},
    )
    event.listen(engine.sync_engine.pool, "checkout", closed_by_server)
    return engine


def closed_by_server(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """The pool's liveness check at each checkout, without a round trip (SQLAlchemy's ``pool_pre_ping`` sends one).

    An idle connection in the pool has nothing to read: PostgreSQL speaks only when asked, and a
    server that stops (a restart, a failover, ``pg_terminate_backend``) says ``FATAL`` and closes the
    socket. asyncpg sees that as soon as the event loop reads it (``is_closed()``); a socket left readable
    is the same news not read yet. Either way the connection is dropped and the pool connects again
    (``DisconnectionError``: SQLAlchemy retries the checkout with a new connection). The rare false alarm (a
    parameter the server reports unasked) costs one reconnect. What this cannot see, as the ping could: a
    server that went silent without closing (a network partition); the statement's own error then
    invalidates the pool, as it would have after a ping that timed out.
    """
    conn = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    if conn.is_closed():
        raise DisconnectionError("the connection is closed")
    transport = getattr(conn, "_transport", None)  # asyncpg's asyncio transport: its socket, to peek at
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None and select.select([sock], [], [], 0)[0]:
        raise DisconnectionError("the server spoke first: it closed the connection or is closing it")


def constraint_name(exc: BaseException) -> str | None:
    """The constraint a driver's integrity error names (asyncpg's, under SQLAlchemy's wrapper; or psycopg's)."""
    orig = getattr(exc, "orig", exc)
    for error in (orig, getattr(orig, "__cause__", None)):
        name = getattr(error, "constraint_name", None) or getattr(getattr(error, "diag", None), "constraint_name", None)
        if name:
            return str(name)
    return None


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, each statement its own transaction: for a unit of work of one statement (a read, an insert
    that stands alone), no BEGIN and no COMMIT round trip; a statement is atomic on its own."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def prepare(package: str, schema: str, secret_id: str, region: str, *, migrate_schema: bool = True) -> str:
    """What every service with tables does at start: read the credentials secret, migrate its schema.

    Returns the SQLAlchemy URL (psycopg driver) for ``async_engine``.
    """
    import asyncio

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
