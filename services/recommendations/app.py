"""The recommendations service's wiring: ``create_app(settings)`` builds nothing until the app starts.

At start (the lifespan) it reads the database credentials from Secrets Manager, migrates the
``recommendations`` schema and runs the consumer of the "recommendations" queue as a
background task (unless ``RECOMMENDATIONS_RUN_CONSUMER=false``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common import db, secrets
from services.common.app import Check, create_service_app
from services.common.consumer import Consumer
from services.recommendations import api
from services.recommendations.adapters.postgres import PostgresCounts, PostgresRankings
from services.recommendations.service import Recommender
from services.recommendations.settings import RecommendationsSettings

NAME = "recommendations"
SCHEMA = "recommendations"
QUEUE = "recommendations"


def create_app(settings: RecommendationsSettings | None = None) -> FastAPI:
    """The recommendations service as an ASGI app (uvicorn: ``services.recommendations.app:create_app --factory``)."""
    settings = settings or RecommendationsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = await open_database(settings)
        engine = db.async_engine(url, SCHEMA, pool_size=settings.db_pool_size)
        rankings = PostgresRankings(engine)
        app.state.recommender = recommender = Recommender(rankings, PostgresCounts)
        app.state.consumer = await asyncio.to_thread(
            Consumer, engine, QUEUE, recommender, stage=settings.stage, region=settings.aws_region,
            wait_s=settings.poll_wait_s,
        )  # fmt: skip
        stop = asyncio.Event()
        app.state.consumer_task = asyncio.create_task(app.state.consumer.run(stop)) if settings.run_consumer else None
        try:
            yield
        finally:
            await stop_consumer(app.state.consumer_task, stop)
            await rankings.close()

    def checks(app: FastAPI) -> dict[str, Check]:
        return {
            "database": app.state.recommender.rankings.ping,
            "consumer": lambda: consumer_alive(app.state.consumer_task),
        }

    return create_service_app(NAME, settings, [api.router], lifespan=lifespan, checks=checks)


async def open_database(settings: RecommendationsSettings) -> str:
    """The database URL from Secrets Manager, its schema migrated."""
    secret = await asyncio.to_thread(secrets.read_secret, settings.database_secret, settings.aws_region)
    url = secrets.database_url(secret, "psycopg")
    if settings.migrate_on_start:
        await asyncio.to_thread(db.migrate, "services.recommendations", url, SCHEMA)
    return url


async def stop_consumer(task: asyncio.Task[None] | None, stop: asyncio.Event, grace_s: float = 2.0) -> None:
    """Let the messages in hand finish for ``grace_s``, then cancel (a long poll would hold the stop for its wait).

    A cancel inside a message's transaction rolls it back and SQS redelivers the message.
    """
    stop.set()
    if task is None:
        return
    await asyncio.wait({task}, timeout=grace_s)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def consumer_alive(task: asyncio.Task[None] | None) -> None:
    if task is not None and task.done():
        raise RuntimeError("the queue consumer stopped")
