"""The checkout service's app factory: database, the four downstream clients, saga, relay, sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.checkout.adapters.downstream import Downstream
from services.checkout.adapters.postgres import Checkouts
from services.checkout.api import router
from services.checkout.saga import Saga, sweep
from services.checkout.settings import CheckoutSettings
from services.common import db, http
from services.common.app import create_service_app
from services.common.background import Loops
from services.common.outbox import OutboxRelay, SnsPublisher
from services.common.settings import service_url

log = logging.getLogger("services.checkout")


def create_app(settings: CheckoutSettings | None = None) -> FastAPI:
    settings = settings or CheckoutSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = await db.prepare("services.checkout", "checkout", settings.database_secret_id, settings.aws_region)
        engine = db.async_engine(url, "checkout", pool_size=settings.db_pool_size)
        timeout = httpx.Timeout(settings.call_timeout_s, connect=1.0)
        async with AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(http.client(service_url(n), timeout=timeout))
                for n in ("cart", "catalog", "order", "payment", "profile")
            ]
            repo = Checkouts(engine, settings.lease_s)
            app.state.settings, app.state.repo, app.state.engine = settings, repo, engine
            app.state.saga = Saga(repo, Downstream(*clients), settings)
            app.state.loops = loops = Loops()
            if settings.run_relay:
                relay = OutboxRelay(engine, await asyncio.to_thread(SnsPublisher, settings.stage, settings.aws_region))
                loops.start("relay", relay.run)
            if settings.sweep_interval_s:
                loops.start("sweeper", lambda stop: _sweeper(app.state.saga, settings.sweep_interval_s, stop))
            try:
                yield
            finally:
                await loops.close()
                await engine.dispose()

    async def database_up(app: FastAPI) -> None:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("select 1"))

    return create_service_app(
        "checkout",
        settings,
        [router],
        lifespan=lifespan,
        checks=lambda app: {"postgres": lambda: database_up(app), **app.state.loops.checks()},
    )


async def _sweeper(saga: Saga, every_s: float, stop: asyncio.Event) -> None:
    """Resume sagas whose runner vanished (crash, kill, hang) every ``every_s`` seconds."""
    while not stop.is_set():
        try:
            if touched := await sweep(saga):
                log.info("sweeper resumed %d checkout(s)", touched)
        except Exception:
            log.exception("sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
