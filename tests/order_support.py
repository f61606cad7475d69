"""Helpers of the order tests: the service started against this test's database and emulator."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from services.common import db
from services.common.consumer import Consumer, QueueConsumer
from services.common.db import Query
from services.order import payments
from services.order.adapters.postgres import PostgresOrders
from services.order.app import create_app
from services.order.service import OrderService
from services.order.settings import OrderSettings


def settings_for(aws: Any, database_secret: str, **overrides: Any) -> OrderSettings:
    """The settings the local stack would give the service; the background workers off unless asked for."""
    values: dict[str, Any] = {"run_relay": False, "run_consumer": False, "consumer_wait_s": 0, **overrides}
    return OrderSettings(stage=aws.stage, aws_region=aws.region, database_secret=database_secret, **values)


@asynccontextmanager
async def running(settings: OrderSettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The service started (lifespan included) and a client that calls it in-process."""
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield app, client


def order_body(order_id: str | None = None, customer: str = "sub-alice", **overrides: Any) -> dict[str, Any]:
    """A well-formed create request as checkout sends it: 2 x 1250 + 1 x 999 + 500 shipping."""
    body: dict[str, Any] = {
        "order_id": order_id or f"ord-{uuid.uuid4().hex[:12]}",
        "customer_sub": customer,
        "email": "alice@example.com",
        "lines": [
            {"product_id": "p-mug", "name": "Mug", "quantity": 2, "unit_price_minor": 1250},
            {"product_id": "p-tea", "name": "Tea", "quantity": 1, "unit_price_minor": 999},
        ],
        "currency": "EUR",
        "subtotal_minor": 3499,
        "shipping_minor": 500,
        "total_minor": 3999,
        "shipping_address": {"name": "Alice", "line1": "1 Main St", "city": "Berlin", "country": "DE"},
        "checkout_id": "chk-1",
    }
    body.update(overrides)
    return body


OUTBOX_ROWS = Query(
    "select event_type, published_at is not null as published from outbox"
    " where body->>'subject' = :id order by created_at, event_type"
)


async def outbox_rows(app: FastAPI, order_id: str) -> list[tuple[str, bool]]:
    """(event_type, published?) of every outbox row about ``order_id``, oldest first."""
    rows = await app.state.service.orders.database.fetch(OUTBOX_ROWS, {"id": order_id})
    return [(r["event_type"], r["published"]) for r in rows]


class Recorded:
    """The service's use cases on a pool of one connection whose every statement asyncpg reports to ``sent``."""

    def __init__(self, database: db.Database, sent: list[str]):
        self.database, self.sent = database, sent
        self.service = OrderService(PostgresOrders(database))

    async def statements(self) -> list[str]:
        """What was sent since the last call, each on one line (asyncpg reports on the loop's next turn)."""
        await asyncio.sleep(0)
        sent, self.sent[:] = list(self.sent), []
        return sent


@asynccontextmanager
async def recorded(app: FastAPI) -> AsyncIterator[Recorded]:
    url = app.state.service.orders.database.url.render_as_string(hide_password=False)
    database = await db.Database.connect(url, "order", max_size=1)
    try:
        sent: list[str] = []
        async with database.connection() as session:
            session.raw.add_query_logger(lambda record: sent.append(" ".join(record.query.split())))
        yield Recorded(database, sent)
    finally:
        await database.close()


def payment_consumer(app: FastAPI, settings: OrderSettings) -> QueueConsumer:
    """The service's consumer of order-payments, built apart from its runtime so a test polls it by hand
    (connecting looks the queue up, so it blocks: call it in a thread)."""
    database = app.state.service.orders.database
    handler = payments.handler(app.state.service)
    return Consumer(database, payments.QUEUE, handler, stage=settings.stage, region=settings.aws_region, wait_s=0)


def user(sub: str) -> dict[str, str]:
    """The headers the gateway sends for a signed-in caller."""
    return {"X-Shop-User": sub, "X-Shop-Email": f"{sub}@example.com"}
