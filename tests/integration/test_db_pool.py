"""The chassis' pool (services/common/db.py) hands out no connection the server closed, and pings none it did not.

Real PostgreSQL: a pooled connection's backend is ended from another session (as a restart or a failover
ends it), and the next unit of work must still succeed, on a new backend, with no error to the caller.
"""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from services.common import db

BACKEND = sa.text("select pg_backend_pid()")


def engine_for(pg_url: str):
    return db.async_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"), "public", pool_size=1)


def statements_sent(engine) -> list[str]:
    """Every statement the engine sends through a cursor, and every ping (SQLAlchemy's ``do_ping``)."""
    sent: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    dialect = engine.sync_engine.dialect
    ping = dialect.do_ping

    def counted(dbapi_connection):
        sent.append("<ping>")
        return ping(dbapi_connection)

    dialect.do_ping = counted
    return sent


async def test_a_connection_ended_by_the_server_is_replaced_at_checkout(pg_url):
    engine = engine_for(pg_url)
    try:
        async with engine.connect() as conn:
            first = (await conn.execute(BACKEND)).scalar_one()
        with psycopg.connect(pg_url, autocommit=True) as admin:
            assert admin.execute("select pg_terminate_backend(%s)", (first,)).fetchone()[0]
            # The backend is gone once the server no longer lists it (terminating is asynchronous); by then it has
            # sent its FATAL, which comes before its exit hooks.
            for _ in range(1000):
                if not admin.execute("select 1 from pg_stat_activity where pid = %s", (first,)).fetchone():
                    break
                admin.execute("select pg_sleep(0.01)")
            else:
                pytest.fail(f"backend {first} still listed 10 s after pg_terminate_backend")
        async with engine.begin() as conn:  # no OperationalError: the pool saw the closed socket
            second = (await conn.execute(BACKEND)).scalar_one()
        assert second != first
    finally:
        await engine.dispose()


async def test_a_live_connection_is_reused_without_a_ping(pg_url):
    engine = engine_for(pg_url)
    try:
        sent = statements_sent(engine)
        pids = []
        for _ in range(3):
            async with engine.connect() as conn:
                pids.append((await conn.execute(BACKEND)).scalar_one())
        assert len(set(pids)) == 1  # one connection, kept
        assert sent == ["select pg_backend_pid()"] * 3  # and nothing else sent: no ping per checkout
    finally:
        await engine.dispose()
