"""``nox -s bench -- clients``: what one operation of each client library costs our process, alternatives side by side.

The per-call cost of the libraries a checkout goes through (issue 13, docs/commerce-core.md), each measured in this
process as client CPU (``time.process_time``) per operation, one operation after another, against a real server on
loopback started here:

- **SQL**, a unit of work (BEGIN, an insert, an update, a select, COMMIT) against an embedded PostgreSQL:
  SQLAlchemy Core on psycopg and on asyncpg (the statements built per call, as they were), SQLAlchemy on asyncpg
  with the statements built once (bound parameters), the chassis' ``services.common.db.Database`` (SQLAlchemy
  compiles once, asyncpg's pool runs: what the services use), and each driver alone;
- **HTTP**, a small JSON POST on a keep-alive connection to a uvicorn app: httpx's own transport, the chassis'
  ``services.common.http.Client`` (aiohttp with httpx's errors and answer, what the services use) and aiohttp alone;
- **AWS**, botocore's ``GetItem`` and ``PublishBatch`` against the emulator (``localcloud.moto_server``; client
  thread CPU, so the emulator's own work in its process is not counted).

``--rounds`` (3) rounds, each alternative once a round in the same order; the report gives every round's figure and
the median. Figures move with the machine's speed: compare alternatives within a run, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

N_SQL = 1500  # units of work per measure (after 100 unmeasured)
N_HTTP = 2000
N_AWS = 300


def bench(args: argparse.Namespace) -> dict[str, Any]:
    rounds = args.rounds or 3
    load_before = os.getloadavg()
    report: dict[str, Any] = {"scenario": "clients", "rounds": rounds, "unit": "client CPU µs per operation"}
    print("SQL: a unit of work against an embedded PostgreSQL", flush=True)
    report["sql"] = _median(_sql(rounds))
    print("HTTP: a JSON POST on a keep-alive connection", flush=True)
    report["http"] = _median(_http(rounds))
    print("AWS: botocore against the emulator", flush=True)
    report["aws"] = _median(_aws(rounds))
    report["load_average"] = {
        "before": [round(x, 2) for x in load_before],
        "after": [round(x, 2) for x in os.getloadavg()],
    }
    return report


def table(report: dict[str, Any]) -> str:
    lines = [f"client CPU per operation, µs (median of {report['rounds']} rounds; each round's in brackets):"]
    for part in ("sql", "http", "aws"):
        for name, row in report[part].items():
            runs = ", ".join(f"{x:.0f}" for x in row["rounds"])
            lines.append(f"  {part:4} {name:48} {row['median']:7.0f}  ({runs})")
    load = report["load_average"]
    lines.append(f"load average before {load['before']}, after {load['after']}")
    return "\n".join(lines)


def _median(runs: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    return {k: {"median": round(statistics.median(v), 1), "rounds": [round(x, 1) for x in v]} for k, v in runs.items()}


def _cpu_per(n: int, once: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[float]]:
    async def measure() -> float:
        for _ in range(min(100, n)):
            await once()
        start = time.process_time()
        for _ in range(n):
            await once()
        return (time.process_time() - start) / n * 1e6

    return measure


# --------------------------------------------------------------------------- SQL


def _sql(rounds: int) -> dict[str, list[float]]:
    import asyncpg
    import psycopg
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from localcloud import backends

    md = sa.MetaData()
    t = sa.Table(
        "t", md, sa.Column("id", sa.Uuid, primary_key=True), sa.Column("n", sa.Integer), sa.Column("body", sa.JSON)
    )
    insert_once = t.insert().values(id=sa.bindparam("k"), n=sa.bindparam("n"), body=sa.bindparam("body", type_=sa.JSON))
    update_once = t.update().where(t.c.id == sa.bindparam("k")).values(n=t.c.n + 1)
    select_once = sa.select(t.c.n, t.c.body).where(t.c.id == sa.bindparam("k"))

    async def alchemy(url: str, built_once: bool) -> float:
        engine = create_async_engine(url, pool_size=2)
        async with engine.begin() as conn:
            await conn.run_sync(md.drop_all)
            await conn.run_sync(md.create_all)

        async def unit() -> None:
            k, i = uuid.uuid4(), 1
            async with engine.begin() as conn:
                if built_once:
                    await conn.execute(insert_once, {"k": k, "n": i, "body": {"a": i}})
                    await conn.execute(update_once, {"k": k})
                    (await conn.execute(select_once, {"k": k})).one()
                else:
                    await conn.execute(t.insert().values(id=k, n=i, body={"a": i}))
                    await conn.execute(t.update().where(t.c.id == k).values(n=t.c.n + 1))
                    (await conn.execute(sa.select(t.c.n, t.c.body).where(t.c.id == k))).one()

        try:
            return await _cpu_per(N_SQL, unit)()
        finally:
            await engine.dispose()

    async def chassis(url: str) -> float:
        from services.common import db

        database = await db.Database.connect(url, "public", max_size=2)
        insert, update, select = db.Query(insert_once), db.Query(update_once), db.Query(select_once)

        async def unit() -> None:
            k = uuid.uuid4()
            async with database.transaction() as conn:
                await conn.execute(insert, {"k": k, "n": 1, "body": {"a": 1}})
                await conn.execute(update, {"k": k})
                await conn.fetchrow(select, {"k": k})

        try:
            return await _cpu_per(N_SQL, unit)()
        finally:
            await database.close()

    async def raw_psycopg(url: str) -> float:
        async with await psycopg.AsyncConnection.connect(url) as conn:

            async def unit() -> None:
                k = uuid.uuid4()
                async with conn.transaction():
                    await conn.execute("insert into t (id, n, body) values (%s, %s, %s)", (k, 1, json.dumps({"a": 1})))
                    await conn.execute("update t set n = n + 1 where id = %s", (k,))
                    await (await conn.execute("select n, body from t where id = %s", (k,))).fetchone()

            return await _cpu_per(N_SQL, unit)()

    async def raw_asyncpg(url: str) -> float:
        conn = await asyncpg.connect(url)
        try:

            async def unit() -> None:
                k = uuid.uuid4()
                async with conn.transaction():
                    await conn.execute("insert into t (id, n, body) values ($1, $2, $3)", k, 1, json.dumps({"a": 1}))
                    await conn.execute("update t set n = n + 1 where id = $1", k)
                    await conn.fetchrow("select n, body from t where id = $1", k)

            return await _cpu_per(N_SQL, unit)()
        finally:
            await conn.close()

    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-clients-") as tmp:
        logs = Path(tmp) / "logs"
        logs.mkdir()
        with backends.embedded_postgres(Path(tmp), logs) as pg:
            plain = "postgresql://" + pg.url.split("://", 1)[1]
            measures = {
                "SQLAlchemy on psycopg, built per call": lambda: alchemy(plain.replace("://", "+psycopg://", 1), False),
                "SQLAlchemy on asyncpg, built per call": lambda: alchemy(plain.replace("://", "+asyncpg://", 1), False),
                "SQLAlchemy on asyncpg, built once": lambda: alchemy(plain.replace("://", "+asyncpg://", 1), True),
                "the chassis: compiled once, run on asyncpg's pool": lambda: chassis(plain),
                "psycopg alone": lambda: raw_psycopg(plain),
                "asyncpg alone": lambda: raw_asyncpg(plain),
            }
            for r in range(rounds):
                for name, measure in measures.items():
                    out.setdefault(name, []).append(asyncio.run(measure()))
                print(f"  round {r + 1}/{rounds}", flush=True)
    return out


# --------------------------------------------------------------------------- HTTP

HELLO = b'{"ok": true, "items": [1, 2, 3]}'


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": HELLO})


def _http(rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="bench-clients-") as tmp, _hello_server(Path(tmp)) as url:
        return _http_rounds(rounds, url)


@contextlib.contextmanager
def _hello_server(log_dir: Path) -> Iterator[str]:
    """``_hello`` on uvicorn (httptools), started as the local cloud starts a server: its URL once it answers."""
    from localcloud import backends
    from localcloud.processes import spawn

    def start(port: int) -> Any:
        argv = [sys.executable, "-m", "uvicorn", "load.bench.clients:_hello", "--port", str(port), "--no-access-log",
                "--log-level", "warning", "--http", "httptools", "--lifespan", "off"]  # fmt: skip
        return spawn("hello", argv, log_dir=log_dir, cwd=Path(__file__).resolve().parents[2])

    child, url = backends.start_on_a_free_port(
        start, lambda u: urllib.request.urlopen(u, timeout=1).read(), lambda port: f"http://127.0.0.1:{port}",  # noqa: S310
        what="hello answer",
    )  # fmt: skip
    try:
        yield url
    finally:
        child.stop()


def _http_rounds(rounds: int, url: str) -> dict[str, list[float]]:
    import aiohttp
    import httpx

    from services.common import http

    async def with_httpx(transport: httpx.AsyncBaseTransport) -> float:
        async with httpx.AsyncClient(base_url=url, transport=transport) as client:

            async def once() -> None:
                (await client.post("/x", json={"a": 1})).json()

            return await _cpu_per(N_HTTP, once)()

    async def with_chassis() -> float:
        async with http.Client(url) as client:

            async def once() -> None:
                (await client.request("POST", "/x", json={"a": 1})).json()

            return await _cpu_per(N_HTTP, once)()

    async def with_aiohttp() -> float:
        async with aiohttp.ClientSession() as session:

            async def once() -> None:
                async with session.post(url + "/x", json={"a": 1}) as answer:
                    await answer.json()

            return await _cpu_per(N_HTTP, once)()

    measures = {
        "httpx (its own transport)": lambda: with_httpx(httpx.AsyncHTTPTransport()),
        "services.common.http.Client (aiohttp)": with_chassis,
        "aiohttp alone": with_aiohttp,
    }
    out: dict[str, list[float]] = {}
    for r in range(rounds):
        for name, measure in measures.items():
            out.setdefault(name, []).append(asyncio.run(measure()))
        print(f"  round {r + 1}/{rounds}", flush=True)
    return out


# --------------------------------------------------------------------------- AWS


def _aws(rounds: int) -> dict[str, list[float]]:
    import boto3

    from localcloud import backends, health

    with (
        tempfile.TemporaryDirectory(prefix="bench-clients-") as tmp,
        backends.embedded_moto("us-east-1", Path(tmp)) as aws,
    ):
        return _aws_rounds(
            rounds, boto3.session.Session(**health.EMULATOR_CREDENTIALS, region_name="us-east-1"), aws.url
        )


def _aws_rounds(rounds: int, session: Any, endpoint: str) -> dict[str, list[float]]:
    dynamodb, sns = session.client("dynamodb", endpoint_url=endpoint), session.client("sns", endpoint_url=endpoint)
    dynamodb.create_table(
        TableName="bench", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    dynamodb.put_item(TableName="bench", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    topic = sns.create_topic(Name="bench")["TopicArn"]
    entry = {
        "Id": "1",
        "Message": '{"a": 1}',
        "MessageAttributes": {"traceparent": {"DataType": "String", "StringValue": "x"}},
    }

    def per_call(call: Callable[[], Any]) -> float:
        for _ in range(30):
            call()
        start = time.thread_time()
        for _ in range(N_AWS):
            call()
        return (time.thread_time() - start) / N_AWS * 1e6

    measures = {
        "botocore GetItem": lambda: dynamodb.get_item(TableName="bench", Key={"pk": {"S": "a"}}),
        "botocore PublishBatch": lambda: sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[entry]),
    }
    out: dict[str, list[float]] = {}
    for r in range(rounds):
        for name, call in measures.items():
            out.setdefault(name, []).append(per_call(call))
        print(f"  round {r + 1}/{rounds}", flush=True)
    return out
