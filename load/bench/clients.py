"""``nox -s bench -- clients``: what one operation of each client library costs, client and server, side by side.

The per-call cost of the libraries a checkout goes through (issue 13, docs/commerce-core.md), each measured in this
process as client CPU (``time.process_time``) per operation, one operation after another, against a real server on
loopback started here:

- **SQL**, a unit of work (BEGIN, an insert, an update, a select, COMMIT) against an embedded PostgreSQL:
  SQLAlchemy Core on psycopg and on asyncpg (the statements built per call, as they were), SQLAlchemy on asyncpg
  with the statements built once (bound parameters), the chassis' ``services.common.db.Database`` (SQLAlchemy
  compiles once, asyncpg's pool runs: what the services use), and each driver alone;
- **HTTP**, a small JSON POST on a keep-alive connection to a uvicorn app: httpx's own transport, the chassis'
  ``services.common.http.Client`` (aiohttp with httpx's errors and answer, what the services use) and aiohttp alone;
- **AWS**, the calls a checkout makes, through the shop's own adapters against the emulator
  (``localcloud.moto_server``) with every resource of reference/ provisioned: the cart's read and its two kinds of
  conditional ``UpdateItem`` (a line added; checkout's take), an event's trip (an outbox relay's ``PublishBatch`` of
  an ``OrderConfirmed``, which SNS delivers to two queues through their filter policies, then each queue's consumer's
  ``ReceiveMessage`` and ``DeleteMessageBatch``: one event at a time, as at low rates; ten at once, as under load,
  per event; and one at a time beside 200 messages held in flight in each queue, as a consumer holds them until its
  gathered delete, or longer when it falls behind), and the notification's ``SendEmail``.

Beside the client's CPU, the server's: the CPU its processes spent (psutil: PostgreSQL's postmaster and backends,
the HTTP server, the emulator and its worker) over the same operations, per operation. A unit of work's or a call's
cost to the machine is the two together.

``--rounds`` (3) rounds, each alternative once a round in the same order; the report gives every round's figure and
the median. Figures move with the machine's speed: compare alternatives within a run, not across runs. Writes
``artifacts/bench/clients.json`` and ``clients.png`` (each operation's client and server CPU, stacked).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
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
from unittest import mock

from load.bench.moto import cpu_s
from load.bench.run import ARTIFACTS

N_SQL = 1500  # units of work per measure (after 100 unmeasured)
N_HTTP = 2000
N_AWS = 300


def bench(args: argparse.Namespace) -> dict[str, Any]:
    rounds = args.rounds or 3
    load_before = os.getloadavg()
    report: dict[str, Any] = {
        "scenario": "clients",
        "rounds": rounds,
        "unit": "CPU µs per operation: the client's (this process) and the server's (its processes)",
    }
    print("SQL: a unit of work against an embedded PostgreSQL", flush=True)
    report["sql"] = _median(_sql(rounds))
    print("HTTP: a JSON POST on a keep-alive connection", flush=True)
    report["http"] = _median(_http(rounds))
    print("AWS: a checkout's calls against the emulator, through the shop's adapters", flush=True)
    report["aws"] = _median(_aws(rounds))
    report["load_average"] = {
        "before": [round(x, 2) for x in load_before],
        "after": [round(x, 2) for x in os.getloadavg()],
    }
    report["plot"] = str(plot(report, (args.out or ARTIFACTS / "clients.json").with_suffix(".png")))
    return report


PARTS = {"sql": "SQL, a unit of work", "http": "HTTP, a request", "aws": "AWS, a checkout's calls"}


def table(report: dict[str, Any]) -> str:
    width = max(len(name) for part in PARTS for name in report[part])
    lines = [
        f"CPU per operation, µs (median of {report['rounds']} rounds; each round's client figure in brackets):",
        f"       {'':{width}} {'client':>7} {'server':>7} {'both':>7}",
    ]
    for part in PARTS:
        for name, row in report[part].items():
            runs = ", ".join(f"{x:.0f}" for x in row["rounds"])
            server = row.get("server_median")
            both = f"{row['median'] + server:7.0f}" if server is not None else f"{'':7}"
            server_text = f"{server:7.0f}" if server is not None else f"{'-':>7}"
            lines.append(f"  {part:4} {name:{width}} {row['median']:7.0f} {server_text} {both}  ({runs})")
    load = report["load_average"]
    lines.append(f"load average before {load['before']}, after {load['after']}")
    if "plot" in report:
        lines.append(f"plot: {report['plot']}")
    return "\n".join(lines)


def plot(report: dict[str, Any], out: Path) -> Path:
    """Each operation's CPU, the client's and the server's stacked, one panel per part (their scales differ)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [len(report[part]) for part in PARTS]
    fig, axes = plt.subplots(len(PARTS), 1, figsize=(10, 1.2 + 0.42 * sum(sizes)), height_ratios=sizes)
    for ax, (part, title) in zip(axes, PARTS.items(), strict=True):
        names = list(report[part])[::-1]  # the first row on top
        client = [report[part][n]["median"] / 1000 for n in names]
        server = [report[part][n].get("server_median", 0.0) / 1000 for n in names]
        both = [c + v for c, v in zip(client, server, strict=True)]
        ax.barh(names, client, color="tab:blue", label="client (this process)")
        ax.barh(names, server, left=client, color="tab:orange", label="server (its processes)")
        for y, total in enumerate(both):
            ax.text(total, y, f" {total:.2f}", va="center", fontsize=8)
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_xlim(0, max(both) * 1.15)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel("CPU ms per operation (median of the rounds)")
    axes[0].legend(fontsize=8, loc="lower right")
    load = report["load_average"]
    fig.suptitle(
        f"what one operation costs, client and server; load average {load['before'][0]} -> {load['after'][0]}",
        fontsize=9,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


Measured = tuple[float, float | None]  # client CPU µs per operation, the server's (None: no server of ours)


def _median(runs: dict[str, list[Measured]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, measured in runs.items():
        client = [c for c, _ in measured]
        row: dict[str, Any] = {"median": round(statistics.median(client), 1), "rounds": [round(x, 1) for x in client]}
        server = [s for _, s in measured if s is not None]
        if server:
            row |= {
                "server_median": round(statistics.median(server), 1),
                "server_rounds": [round(x, 1) for x in server],
            }
        out[name] = row
    return out


def _cpu_per(
    n: int, once: Callable[[], Awaitable[Any]], server_pid: int | None = None
) -> Callable[[], Awaitable[Measured]]:
    """A measure of ``once``: this process's CPU per call over ``n`` calls (after a few unmeasured), and the CPU of
    the server's process tree (``server_pid`` and its children) over the same calls."""

    async def measure() -> Measured:
        for _ in range(min(100, n)):
            await once()
        server_before = cpu_s(server_pid) if server_pid else 0.0
        start = time.process_time()
        for _ in range(n):
            await once()
        client = (time.process_time() - start) / n * 1e6
        server = (cpu_s(server_pid) - server_before) / n * 1e6 if server_pid else None
        return client, server

    return measure


# --------------------------------------------------------------------------- SQL


def _sql(rounds: int) -> dict[str, list[Measured]]:
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
    server_pid: int | None = None  # the postmaster's, once it runs: its backends are its children

    async def alchemy(url: str, built_once: bool) -> Measured:
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
            return await _cpu_per(N_SQL, unit, server_pid)()
        finally:
            await engine.dispose()

    async def chassis(url: str) -> Measured:
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
            return await _cpu_per(N_SQL, unit, server_pid)()
        finally:
            await database.close()

    async def raw_psycopg(url: str) -> Measured:
        async with await psycopg.AsyncConnection.connect(url) as conn:

            async def unit() -> None:
                k = uuid.uuid4()
                async with conn.transaction():
                    await conn.execute("insert into t (id, n, body) values (%s, %s, %s)", (k, 1, json.dumps({"a": 1})))
                    await conn.execute("update t set n = n + 1 where id = %s", (k,))
                    await (await conn.execute("select n, body from t where id = %s", (k,))).fetchone()

            return await _cpu_per(N_SQL, unit, server_pid)()

    async def raw_asyncpg(url: str) -> Measured:
        conn = await asyncpg.connect(url)
        try:

            async def unit() -> None:
                k = uuid.uuid4()
                async with conn.transaction():
                    await conn.execute("insert into t (id, n, body) values ($1, $2, $3)", k, 1, json.dumps({"a": 1}))
                    await conn.execute("update t set n = n + 1 where id = $1", k)
                    await conn.fetchrow("select n, body from t where id = $1", k)

            return await _cpu_per(N_SQL, unit, server_pid)()
        finally:
            await conn.close()

    out: dict[str, list[Measured]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-clients-") as tmp:
        logs = Path(tmp) / "logs"
        logs.mkdir()
        with backends.embedded_postgres(Path(tmp), logs) as pg:
            server_pid = pg.pid
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


def _http(rounds: int) -> dict[str, list[Measured]]:
    with tempfile.TemporaryDirectory(prefix="bench-clients-") as tmp, _hello_server(Path(tmp)) as (url, pid):
        return _http_rounds(rounds, url, pid)


@contextlib.contextmanager
def _hello_server(log_dir: Path) -> Iterator[tuple[str, int]]:
    """``_hello`` on uvicorn (httptools), started as the local cloud starts a server: its URL once it answers, and
    its pid."""
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
        yield url, child.pid
    finally:
        child.stop()


def _http_rounds(rounds: int, url: str, server_pid: int) -> dict[str, list[Measured]]:
    import aiohttp
    import httpx

    from services.common import http

    async def with_httpx(transport: httpx.AsyncBaseTransport) -> Measured:
        async with httpx.AsyncClient(base_url=url, transport=transport) as client:

            async def once() -> None:
                (await client.post("/x", json={"a": 1})).json()

            return await _cpu_per(N_HTTP, once, server_pid)()

    async def with_chassis() -> Measured:
        async with http.Client(url) as client:

            async def once() -> None:
                (await client.request("POST", "/x", json={"a": 1})).json()

            return await _cpu_per(N_HTTP, once, server_pid)()

    async def with_aiohttp() -> Measured:
        async with aiohttp.ClientSession() as session:

            async def once() -> None:
                async with session.post(url + "/x", json={"a": 1}) as answer:
                    await answer.json()

            return await _cpu_per(N_HTTP, once, server_pid)()

    measures = {
        "httpx (its own transport)": lambda: with_httpx(httpx.AsyncHTTPTransport()),
        "services.common.http.Client (aiohttp)": with_chassis,
        "aiohttp alone": with_aiohttp,
    }
    out: dict[str, list[Measured]] = {}
    for r in range(rounds):
        for name, measure in measures.items():
            out.setdefault(name, []).append(asyncio.run(measure()))
        print(f"  round {r + 1}/{rounds}", flush=True)
    return out


# --------------------------------------------------------------------------- AWS

STAGE = "bench"
REGION = "us-east-1"
PRODUCTS = ("p-0001", "p-0002", "p-0003")  # a cart of three lines
BATCH = 10  # SNS's and SQS's most per batch call: events a relay or a consumer handles in one call under load
HELD = 200  # messages in flight in each queue for one measure: a consumer's undeleted ones under load


def _aws(rounds: int) -> dict[str, list[Measured]]:
    from localcloud import backends, health
    from localcloud.provision import Provisioner

    with (
        tempfile.TemporaryDirectory(prefix="bench-clients-") as tmp,
        backends.embedded_moto(REGION, Path(tmp)) as aws,
        mock.patch.dict(os.environ, health.emulator_env(aws.url, REGION)),
    ):
        print("  provisioning every resource of reference/", flush=True)
        outputs = Provisioner(
            endpoint_url=aws.url, region=REGION, stage=STAGE, database_url="postgresql://bench@127.0.0.1:9/bench"
        ).provision()
        return _aws_rounds(rounds, outputs, aws.pid)


def _aws_rounds(rounds: int, outputs: Any, server_pid: int) -> dict[str, list[Measured]]:
    """The checkout's AWS calls through the services' own adapters, each ``N_AWS`` times a round."""
    from reference.events import new_event
    from reference.resources import EMAIL_SENDERS
    from services.cart.adapters.dynamodb import DynamoCarts
    from services.common.outbox import SnsPublisher
    from services.common.sqs import SqsSource
    from services.notification.adapters.ses import SesMailer
    from services.notification.domain import Email

    carts = DynamoCarts(outputs.tables["carts"], REGION)
    cart_id = "bench-cart"
    carts.table.put_item(
        Item={"cart_id": cart_id, "lines": {p: 10**9 for p in PRODUCTS}, "version": 1, "updated_at": 0,
              "expires_at": int(time.time()) + 86_400}
    )  # fmt: skip
    publisher = SnsPublisher(STAGE, REGION)
    queues = [SqsSource.connect(q, stage=STAGE, region=REGION, wait_s=0) for q in ("notification", "recommendations")]
    mailer = SesMailer(EMAIL_SENDERS[0].address, REGION)
    email = Email(to="shopper@example.com", subject="Your order", text="Thank you. " * 40, html="<p>Thanks</p>" * 40)

    def confirmed(n: int) -> list[dict[str, Any]]:
        data = {"order_id": "o-1", "lines": []}
        return [new_event("OrderConfirmed", source="order", subject="o-1", data=data).model_dump(mode="json")] * n

    async def event_trip(n: int) -> None:
        await asyncio.to_thread(publisher.publish, "order-events", confirmed(n))
        for queue in queues:
            got = await queue.receive(max_messages=BATCH)
            if len(got) != n:
                raise RuntimeError(f"{queue.queue_url} held {len(got)} messages, not the {n} just published")
            await queue.delete(got)

    @contextlib.contextmanager
    def in_flight(n: int) -> Iterator[None]:
        """``n`` events received from each queue and not yet deleted for the block: held in flight, as the shop's
        consumers hold them until their gathered delete (or longer, when they fall behind)."""
        for start in range(0, n, BATCH):
            publisher.publish("order-events", confirmed(min(BATCH, n - start)))
        held = []
        for queue in queues:
            receive = functools.partial(
                queue.sqs.receive_message, QueueUrl=queue.queue_url, MaxNumberOfMessages=BATCH, VisibilityTimeout=3600,
                WaitTimeSeconds=0,
            )  # fmt: skip
            while got := receive().get("Messages"):
                held += [(queue, m["ReceiptHandle"]) for m in got]
        try:
            yield
        finally:
            for queue, receipt in held:
                queue.sqs.delete_message(QueueUrl=queue.queue_url, ReceiptHandle=receipt)

    def per_call(once: Callable[[], Awaitable[Any]], per: int = 1) -> Callable[[], Awaitable[Measured]]:
        async def measure() -> Measured:
            client, server = await _cpu_per(N_AWS // per, once, server_pid)()
            return client / per, (server / per if server is not None else None)

        return measure

    async def beside_held() -> Measured:
        with in_flight(HELD):
            return await per_call(lambda: event_trip(1))()

    measures: dict[str, Callable[[], Awaitable[Measured]]] = {
        "DynamoDB GetItem (the cart's read)": per_call(lambda: carts.get(cart_id)),
        "DynamoDB UpdateItem (a line added)": per_call(
            lambda: carts.write_line(
                cart_id, PRODUCTS[0], 1, adding=True, most=2 * 10**9, max_lines=50, ttl_s=86_400, if_match=None
            )
        ),
        "DynamoDB UpdateItem (checkout's take)": per_call(
            lambda: carts.take(cart_id, {p: 1 for p in PRODUCTS}, 86_400)
        ),
        "an event's trip: PublishBatch, 2 queues' Receive + DeleteBatch": per_call(lambda: event_trip(1)),
        f"the same, {BATCH} events at once (per event)": per_call(lambda: event_trip(BATCH), BATCH),
        f"the same, one event, {HELD} others in flight in each queue": beside_held,
        "SES SendEmail": per_call(lambda: mailer.send(email)),
    }
    out: dict[str, list[Measured]] = {}
    for r in range(rounds):
        for name, measure in measures.items():
            out.setdefault(name, []).append(asyncio.run(measure()))
        print(f"  round {r + 1}/{rounds}", flush=True)
    return out
