"""The profile service: ``uvicorn services.profile.app:create_app --factory``.

Its parts: the database (the ``profile`` schema, migrated at start) and the Cognito client.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.runtime import Runtime
from services.profile import api
from services.profile.adapters.cognito import CognitoIdentity
from services.profile.adapters.postgres import PostgresProfiles
from services.profile.service import Accounts, Profiles
from services.profile.settings import ProfileSettings

NAME = "profile"
SCHEMA = "profile"


def create_app(settings: ProfileSettings | None = None) -> FastAPI:
    """The profile service as an ASGI app; nothing connects until it starts."""
    settings = settings or ProfileSettings()

    async def parts(rt: Runtime) -> None:
        repository = PostgresProfiles(await rt.database("services.profile", SCHEMA))
        identity = CognitoIdentity(
            settings.user_pool_id, settings.user_pool_client_id, settings.aws_region, auto_confirm=settings.auto_confirm
        )
        rt.on_close(identity.close)
        rt.state.accounts = Accounts(identity, repository)
        rt.state.profiles = Profiles(repository, settings.max_addresses)

    return create_service_app(NAME, settings, [api.auth, api.me, api.internal], parts=parts)
