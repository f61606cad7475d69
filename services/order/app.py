"""The order service: ``uvicorn services.order.app:create_app --factory``.

Adapters are built in the lifespan: the database credentials come from Secrets Manager,
migrations run under an advisory lock, then the engine and the repository are made, and
two background tasks start: the outbox relay (the diagram's event publisher) and the
consumer of the order-payments queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common import db, problems, secrets
from services.common.app import create_service_app
from services.common.consumer import Consumer
from services.common.outbox import OutboxRelay, SnsPublisher
from services.order import api, api_internal, domain, payments
from services.order.adapters.postgres import PostgresOrders
from services.order.settings import OrderSettings

SCHEMA = "order"
QUEUE = "order-payments"
log = logging.getLogger("services.order")


def database_url(settings: OrderSettings) -> str:
    """The psycopg URL of the database, from the stage's Secrets Manager secret."""
    return secrets.database_url(secrets.read_secret(settings.database_secret_id, settings.aws_region), "psycopg")


def create_app(settings: OrderSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or OrderSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = await asyncio.to_thread(database_url, settings)
        if settings.migrate_on_start:
            await asyncio.to_thread(db.migrate, "services.order", url, SCHEMA)
        engine = db.async_engine(url, SCHEMA, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)
        orders = PostgresOrders(engine)
        app.state.orders = orders
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        try:
            if settings.run_relay:
                publisher = await asyncio.to_thread(SnsPublisher, settings.stage, settings.aws_region)
                app.state.relay = OutboxRelay(engine, publisher, idle_s=settings.relay_idle_s)
                tasks.append(asyncio.create_task(app.state.relay.run(stop), name="order-outbox-relay"))
            if settings.run_consumer:
                app.state.consumer = await asyncio.to_thread(payment_consumer, engine, orders, settings)
                tasks.append(asyncio.create_task(app.state.consumer.run(stop), name="order-payments-consumer"))
            yield
        finally:
            stop.set()
            await _stop(tasks)
            await engine.dispose()

    app = create_service_app(
        "order",
        settings,
        [api.router, api_internal.router],
        lifespan=lifespan,
        checks=lambda app: {"database": app.state.orders.ping},
    )
    app.add_exception_handler(domain.OrderError, _problem)
    return app


def payment_consumer(engine: object, orders: PostgresOrders, settings: OrderSettings) -> Consumer:
    """The consumer of the order-payments queue (its constructor looks the queue up, so it blocks)."""
    return Consumer(
        engine,  # type: ignore[arg-type]
        QUEUE,
        payments.handler(orders),
        stage=settings.stage,
        region=settings.aws_region,
        wait_s=settings.consumer_wait_s,
    )


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Let the relay finish its pass; cancel the consumer at once (its long poll can take 20 s)."""
    for task in tasks:
        if task.get_name() == "order-payments-consumer":
            task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await asyncio.wait_for(task, 5)
            except TimeoutError:
                log.warning("%s did not stop in time", task.get_name())


STATUS = {domain.NotFound: (404, "Not found"), domain.Invalid: (422, "Unprocessable content")}


async def _problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, domain.OrderError)
    status, title = next((v for k, v in STATUS.items() if isinstance(exc, k)), (409, "Conflict"))
    extensions = dict(exc.extensions)
    if status == 422 and "field" in extensions:
        extensions["errors"] = [{"field": extensions["field"], "in": "body", "message": exc.detail}]
    return problems.problem_response(status, title, exc.detail, **extensions)
