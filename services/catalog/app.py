"""The catalog service: ``uvicorn services.catalog.app:create_app --factory``.

Its parts: the database (migrated at start), the Redis cache, the S3 media bucket, the sweeper
that frees abandoned reservations, and the outbox relay that publishes catalog events
(adapters/events.py) to SNS. Every answer says how long it may be cached (no-store unless a read says more).
"""

from __future__ import annotations

import boto3
from fastapi import FastAPI

from services.catalog import api, api_internal, domain
from services.catalog.adapters.inventory import PostgresInventory
from services.catalog.adapters.postgres import PostgresCatalog
from services.catalog.adapters.redis_cache import RedisCache
from services.catalog.adapters.s3_media import S3Media
from services.catalog.service import Catalog
from services.catalog.settings import CatalogSettings
from services.common.app import JSON_TYPES, create_service_app
from services.common.caching import DefaultCacheControl
from services.common.runtime import Runtime


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or CatalogSettings()

    async def parts(rt: Runtime) -> None:
        database = await rt.database("services.catalog", "catalog")
        redis = rt.redis(settings.redis_url, timeout_s=settings.cache_timeout_s)
        cache = RedisCache(redis, settings.cache_prefix, retry_after_s=settings.cache_retry_after_s)
        media = S3Media(boto3.client("s3", region_name=settings.aws_region), settings.media_bucket_name)
        catalog = Catalog(
            PostgresCatalog(database), PostgresInventory(database), cache, media, listing_ttl_s=settings.cache_ttl_s
        )
        rt.state.catalog = catalog
        rt.every("sweeper", settings.sweep_interval_s, catalog.sweep)
        rt.relay(database)

    app = create_service_app(
        "catalog",
        settings,
        [api.router, api_internal.router, api_internal.products],
        parts=parts,
        body_types=(*JSON_TYPES, *domain.IMAGE_TYPES),
    )
    app.add_middleware(DefaultCacheControl)
    return app
