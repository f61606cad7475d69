"""Helpers of the profile tests: the service started against this test's Cognito pool and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from localcloud.provision import Outputs, Provisioner
from reference import RESOURCES
from services.profile.app import create_app
from services.profile.settings import ProfileSettings

PASSWORD = "Correct-Horse-9-Battery"

# What the profile service touches of the reference model: the KMS key, the user pool and the
# secrets. Provisioning only these (with the same Provisioner) keeps each test about a second shorter.
PROFILE_RESOURCES = replace(
    RESOURCES,
    tables=(),
    topics=(),
    queues=(),
    subscriptions=(),
    buckets=(),
    streams=(),
    delivery_streams=(),
    email_senders=(),
)


def provision(aws: Any, pg_url: str) -> Outputs:
    """The pool and the stage's database secret (pointing at this test's database), in a fresh emulator."""
    provisioner = Provisioner(endpoint_url=aws.endpoint_url, region=aws.region, stage=aws.stage, database_url=pg_url)
    return provisioner.provision(PROFILE_RESOURCES)


def settings_for(cloud: Outputs, **overrides: Any) -> ProfileSettings:
    """The settings the local stack would give the service, pointed at this test's pool and database."""
    return ProfileSettings(
        stage=cloud.stage,
        aws_region=cloud.region,
        user_pool_id=cloud.user_pool_id,
        user_pool_client_id=cloud.user_pool_clients["web"],
        **overrides,
    )


@asynccontextmanager
async def running(settings: ProfileSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The service started (lifespan included) and a client that calls it in-process."""
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@dataclass(frozen=True)
class Person:
    """A confirmed user of the emulator's pool, and the headers the gateway sends on their behalf."""

    sub: str
    email: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Shop-User": self.sub, "X-Shop-Email": self.email}


def person(idp: Any, pool_id: str, email: str) -> Person:
    """Create a confirmed user in the pool (as an admin would) and return their ``sub``."""
    idp.admin_create_user(UserPoolId=pool_id, Username=email, UserAttributes=[{"Name": "email", "Value": email}])
    idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=PASSWORD, Permanent=True)
    user = idp.admin_get_user(UserPoolId=pool_id, Username=email)
    sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    return Person(sub, email)


def fields_of(problem: dict[str, Any]) -> set[str]:
    """The fields a 422 problem names."""
    return {e["field"] for e in problem.get("errors", [])}
