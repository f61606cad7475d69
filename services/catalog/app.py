"""The catalog service: ``uvicorn services.catalog.app:create_app --factory``.

Adapters are built in the lifespan: the database credentials come from Secrets Manager,
migrations run under an advisory lock, then the engine, the Redis cache and the S3 client
are made, a sweeper frees abandoned reservations in the background, and the outbox relay
publishes catalog events (see adapters/events.py) to SNS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import boto3
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.catalog import api, api_internal, domain
from services.catalog.adapters.inventory import PostgresInventory
from services.catalog.adapters.postgres import SCHEMA, PostgresCatalog, database_url
from services.catalog.adapters.redis_cache import RedisCache
from services.catalog.adapters.s3_media import S3Media
from services.catalog.service import Catalog
from services.catalog.settings import CatalogSettings
from services.common import db, problems
from services.common.app import JSON_TYPES, create_service_app
from services.common.outbox import OutboxRelay, SnsPublisher

log = logging.getLogger("services.catalog")


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or CatalogSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = await asyncio.to_thread(database_url, settings.database_secret_id, settings.aws_region)
        await asyncio.to_thread(db.migrate, "services.catalog", url, SCHEMA)
        engine = db.async_engine(url, SCHEMA, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)
        cache = RedisCache.from_url(
            settings.redis_url,
            settings.cache_prefix,
            settings.cache_ttl_s,
            timeout_s=settings.cache_timeout_s,
            retry_after_s=settings.cache_retry_after_s,
        )
        media = S3Media(boto3.client("s3", region_name=settings.aws_region), settings.media_bucket_name)
        catalog = Catalog(PostgresCatalog(engine), PostgresInventory(engine), cache, media)
        app.state.catalog = catalog
        tasks = [asyncio.create_task(_sweep_forever(catalog, settings.sweep_interval_s))]
        stop = asyncio.Event()
        if settings.run_relay:
            publisher = await asyncio.to_thread(SnsPublisher, settings.stage, settings.aws_region)
            app.state.relay = OutboxRelay(engine, publisher, idle_s=settings.relay_idle_s)
            tasks.append(asyncio.create_task(app.state.relay.run(stop), name="catalog-outbox-relay"))
        try:
            yield
        finally:
            stop.set()
            tasks[0].cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    try:
                        await asyncio.wait_for(task, 5)  # the relay finishes its pass
                    except TimeoutError:
                        log.warning("%s did not stop in time", task.get_name())
            await cache.close()
            await engine.dispose()

    app = create_service_app(
        "catalog",
        settings,
        [api.router, api_internal.router],
        lifespan=lifespan,
        checks=lambda app: {"database": app.state.catalog.store.ping},
        body_types=(*JSON_TYPES, *domain.IMAGE_TYPES),
    )
    app.add_exception_handler(domain.CatalogError, _problem)
    return app


STATUS = {domain.NotFound: (404, "Not found"), domain.Invalid: (422, "Unprocessable content")}


async def _problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, domain.CatalogError)
    status, title = next((v for k, v in STATUS.items() if isinstance(exc, k)), (409, "Conflict"))
    extensions = dict(exc.extensions)
    if exc.field:
        extensions["field"] = exc.field
        if status == 422:
            extensions["errors"] = [{"field": exc.field, "in": "body", "message": exc.detail}]
    return problems.problem_response(status, title, exc.detail, **extensions)


async def _sweep_forever(catalog: Catalog, interval_s: float) -> None:
    """Free holds past their expiry every ``interval_s`` (every replica sweeps; each hold is freed once)."""
    if interval_s <= 0:
        return
    while True:
        await asyncio.sleep(interval_s)
        try:
            expired = await catalog.sweep()
            if expired:
                log.info("expired abandoned reservations", extra={"count": expired})
        except Exception:
            log.warning("reservation sweep failed", exc_info=True)
