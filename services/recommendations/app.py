"""The recommendations service: ``uvicorn services.recommendations.app:create_app --factory``.

Its parts: the database (the ``recommendations`` schema, migrated at start) and the idempotent
consumer of the "recommendations" queue (not built at all when ``RECOMMENDATIONS_RUN_CONSUMER=false``).
"""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.consumer import IdempotentPolicy
from services.common.runtime import Runtime
from services.recommendations import api
from services.recommendations.adapters.postgres import PostgresCounts, PostgresRankings
from services.recommendations.service import Recommender
from services.recommendations.settings import RecommendationsSettings

NAME = "recommendations"
SCHEMA = "recommendations"
QUEUE = "recommendations"


def create_app(settings: RecommendationsSettings | None = None) -> FastAPI:
    """The recommendations service as an ASGI app; nothing connects until it starts."""
    settings = settings or RecommendationsSettings()

    async def parts(rt: Runtime) -> None:
        database = await rt.database("services.recommendations", SCHEMA)
        rt.state.recommender = recommender = Recommender(PostgresRankings(database), PostgresCounts)
        rt.state.policy = policy = IdempotentPolicy(database, recommender.handle)
        rt.consumer(QUEUE, policy)

    return create_service_app(NAME, settings, [api.router], parts=parts)
