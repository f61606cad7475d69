"""The recommendations service's wiring: ``create_app(settings)`` builds nothing until the app starts.

At start (the lifespan) it reads the database credentials from Secrets Manager, migrates the
``recommendations`` schema and runs the consumer of the "recommendations" queue as a
background task (unless ``RECOMMENDATIONS_RUN_CONSUMER=false``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common import db
from services.common.app import Check, create_service_app
from services.common.background import Loops
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
        url = await db.prepare("services.recommendations", SCHEMA, settings.database_secret, settings.aws_region,
                               migrate_schema=settings.migrate_on_start)  # fmt: skip
        engine = db.async_engine(url, SCHEMA, pool_size=settings.db_pool_size)
        rankings = PostgresRankings(engine)
        app.state.recommender = recommender = Recommender(rankings, PostgresCounts)
        app.state.consumer = await asyncio.to_thread(
            Consumer, engine, QUEUE, recommender, stage=settings.stage, region=settings.aws_region,
            wait_s=settings.poll_wait_s,
        )  # fmt: skip
        app.state.loops = loops = Loops()
        if settings.run_consumer:
            loops.start("consumer", app.state.consumer.run)
        try:
            yield
        finally:
            await loops.close()
            await rankings.close()

    def checks(app: FastAPI) -> dict[str, Check]:
        return {"database": app.state.recommender.rankings.ping, **app.state.loops.checks()}

    return create_service_app(NAME, settings, [api.router], lifespan=lifespan, checks=checks)
