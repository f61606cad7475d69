"""The profile service's wiring: ``create_app(settings)`` builds nothing until the app starts.

At start (the lifespan) it reads the database credentials from Secrets Manager, migrates the
``profile`` schema, opens the engine and the Cognito client, and puts both on ``app.state``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common import db, secrets
from services.common.app import Check, create_service_app
from services.profile import api
from services.profile.adapters.cognito import CognitoIdentity
from services.profile.adapters.postgres import PostgresProfiles
from services.profile.settings import ProfileSettings

NAME = "profile"
SCHEMA = "profile"


def create_app(settings: ProfileSettings | None = None) -> FastAPI:
    """The profile service as an ASGI app (uvicorn: ``services.profile.app:create_app --factory``)."""
    settings = settings or ProfileSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        profiles = await open_profiles(settings)
        identity = CognitoIdentity(
            settings.user_pool_id, settings.user_pool_client_id, settings.aws_region, auto_confirm=settings.auto_confirm
        )
        app.state.profiles, app.state.identity = profiles, identity
        try:
            yield
        finally:
            identity.close()
            await profiles.close()

    def checks(app: FastAPI) -> dict[str, Check]:
        return {"database": app.state.profiles.ping}

    app = create_service_app(NAME, settings, [api.auth, api.me, api.internal], lifespan=lifespan, checks=checks)
    api.install(app)
    return app


async def open_profiles(settings: ProfileSettings) -> PostgresProfiles:
    """The PostgreSQL repository, its credentials read from Secrets Manager and its schema migrated."""
    secret = await asyncio.to_thread(secrets.read_secret, settings.database_secret, settings.aws_region)
    url = secrets.database_url(secret, "psycopg")
    if settings.migrate_on_start:
        await asyncio.to_thread(db.migrate, "services.profile", url, SCHEMA)
    return PostgresProfiles(db.async_engine(url, SCHEMA, pool_size=settings.db_pool_size))
