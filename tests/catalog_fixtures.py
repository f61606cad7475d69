"""Fixtures of the catalog tests, loaded by ``pytest_plugins = ("catalog_fixtures",)`` in their test modules.

The catalog reads its database from the stage's Secrets Manager secret and writes images
to the stage's media bucket; ``catalog_settings`` makes just those two in the test's
fresh emulator (the ``provisioned`` fixture makes all of reference/, 0.6 s a test),
pointing the secret at the test's own database.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from localcloud.provision import database_secret
from services.catalog.app import create_app
from services.catalog.settings import CatalogSettings


@pytest.fixture
def catalog_settings(aws: Any, pg_url: str, redis_space: Any) -> CatalogSettings:
    """Settings of a catalog whose secret, bucket and cache prefix belong to this test."""
    settings = CatalogSettings(
        stage=aws.stage,
        redis_url=redis_space.url,
        cache_prefix=f"{redis_space.prefix}catalog:",
        sweep_interval_s=0,
        run_relay=False,  # no topics here; the search tests run the relay against a provisioned stack
    )
    s3 = aws.client("s3")
    location = {} if aws.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": aws.region}}
    s3.create_bucket(Bucket=settings.media_bucket_name, **location)
    aws.client("secretsmanager").create_secret(
        Name=settings.database_secret_id, SecretString=json.dumps(database_secret(pg_url))
    )
    return settings


@pytest.fixture
async def catalog_app(catalog_settings: CatalogSettings) -> AsyncIterator[FastAPI]:
    app = create_app(catalog_settings)
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def client(catalog_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=catalog_app), base_url="http://test") as c:
        yield c
