"""The chassis' database (services/common/db.py): statements compiled once and run on asyncpg, a pool that hands
out no connection the server closed and sends nothing but the statements.

Real PostgreSQL: a pooled connection's backend is ended from another session (as a restart or a failover
ends it), and the next unit of work must still succeed, on a new backend, with no error to the caller.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from services.common import db

BACKEND = db.Query("select pg_backend_pid()")
md = sa.MetaData()
things = sa.Table(
    "pool_things",
    md,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("body", JSONB),
    sa.Column("at", sa.DateTime(timezone=True)),
)
PUT = db.Query(
    things.insert().values(
        id=sa.bindparam("id", type_=UUID(as_uuid=True)),
        n=sa.bindparam("n", type_=sa.Integer),
        body=sa.bindparam("body", type_=JSONB),
        at=sa.bindparam("at", type_=sa.DateTime(timezone=True)),
    )
)
BUMP = db.Query(
    things.update()
    .where(things.c.id == sa.any_(sa.bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))))
    .values(n=things.c.n + 1)
)
GET = db.Query(sa.select(things).where(things.c.id == sa.bindparam("id", type_=UUID(as_uuid=True))))


@pytest.fixture
async def database(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("create schema if not exists pool_test")
        admin.execute("drop table if exists pool_test.pool_things")
        admin.execute(
            "create table pool_test.pool_things (id uuid primary key, n integer not null, body jsonb, at timestamptz)"
        )
    database = await db.Database.connect(pg_url, "pool_test", max_size=1)
    try:
        yield database
    finally:
        await database.close()


def test_a_statement_is_compiled_once_with_its_parameters_by_name_and_its_literals_kept():
    assert BUMP.sql.startswith("UPDATE pool_things SET n=(pool_things.n + $1::INTEGER) WHERE pool_things.id = ANY")
    assert BUMP.names == ("n_1", "ids")
    assert BUMP.args({"ids": ["x"]}) == [1, ["x"]]  # the literal 1, then the caller's list
    with pytest.raises(KeyError, match="ids"):
        BUMP.args({})
    with pytest.raises(ValueError, match="any_"):
        db.Query(sa.select(things).where(things.c.id.in_(sa.bindparam("ids", expanding=True))))
    assert db.Query("select :a + :b").names == ("a", "b")


async def test_values_go_in_and_come_out_as_python_values(database):
    key, at = uuid.uuid4(), datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    async with database.transaction() as session:
        assert await session.execute(PUT, {"id": key, "n": 1, "body": {"a": [1, "b"]}, "at": at}) == 1
        assert await session.execute(BUMP, {"ids": [key, uuid.uuid4()]}) == 1
    row = await database.fetchrow(GET, {"id": key})
    assert (row["id"], row["n"], row["body"], row["at"]) == (key, 2, {"a": [1, "b"]}, at)
    assert await database.fetchrow(GET, {"id": uuid.uuid4()}) is None


async def test_a_transaction_that_raises_leaves_nothing(database):
    key = uuid.uuid4()

    async def twice() -> None:
        async with database.transaction() as session:
            await session.execute(PUT, {"id": key, "n": 1, "body": None, "at": None})
            await session.execute(PUT, {"id": key, "n": 2, "body": None, "at": None})

    with pytest.raises(db.IntegrityError) as refused:
        await twice()
    assert db.constraint_name(refused.value) == "pool_things_pkey"
    assert await database.fetchrow(GET, {"id": key}) is None
    assert await database.fetchval(db.Query("select count(*) from pool_things")) == 0


async def test_a_connection_ended_by_the_server_is_replaced_when_taken_from_the_pool(database, pg_url):
    first = await database.fetchval(BACKEND)
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
    async with database.transaction() as session:  # no error: the pool saw the closed socket
        second = await session.fetchval(BACKEND)
    assert second != first


async def test_a_live_connection_is_reused_with_nothing_sent_but_the_statements(database):
    sent: list[str] = []
    async with database.connection() as session:
        session.raw.add_query_logger(lambda record: sent.append(record.query))
    pids = [await database.fetchval(BACKEND) for _ in range(3)]
    await asyncio.sleep(0)  # asyncpg hands each record to the logger on the loop's next turn
    assert len(set(pids)) == 1  # one connection, kept
    assert sent == ["select pg_backend_pid()"] * 3  # no ping when taken, no reset query when given back


async def test_a_kept_requests_statements_are_client_spans_and_no_other_statement_is(pg_url, monkeypatch):
    pytest.importorskip("opentelemetry.sdk", reason="the tracing extras are not installed")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from services.common import telemetry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_provider", provider)
    database = await db.Database.connect(pg_url, "public", max_size=1)
    try:
        await database.fetchval(BACKEND)  # a background poll's: no span
        with provider.get_tracer("t").start_as_current_span("request", kind=trace.SpanKind.SERVER):
            async with database.transaction() as session:
                await session.fetchval(BACKEND)
            with pytest.raises(db.asyncpg.UndefinedTableError):
                await database.fetch(db.Query("select * from missing"))
    finally:
        await database.close()
    ok, failed = [s for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.CLIENT]
    assert ok.attributes["db.statement"] == "select pg_backend_pid()"
    assert ok.attributes["db.system"] == "postgresql"
    assert ok.name == f"select {ok.attributes['db.name']}"
    assert failed.status.status_code is trace.StatusCode.ERROR
    assert "missing" in failed.status.description
    assert telemetry.segment_document(ok, "order")["sql"]["sanitized_query"] == "select pg_backend_pid()"


async def test_a_server_that_refuses_connections_is_database_unreachable_the_callers_503(pg_url):
    import socket

    from services.common import problems

    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host_port = pg_url.split("@", 1)[1].split("/", 1)[0]
    database = await db.Database.connect(pg_url.replace(host_port, f"127.0.0.1:{port}"), "public", min_size=0)
    try:
        with pytest.raises(db.DatabaseUnreachable) as refused:
            await database.fetchval(BACKEND)
    finally:
        await database.close()
    assert isinstance(refused.value.__cause__, OSError)
    assert problems.dependency_failure(refused.value) == "services: DatabaseUnreachable"
