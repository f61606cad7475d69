"""The payment service's wiring: ``create_app(settings)`` builds nothing until the app starts.

At start (the lifespan) it reads the database credentials from Secrets Manager, migrates the
``payment`` schema, builds the provider and the orchestrator, and starts the outbox relay
(the diagram's event publisher) as a background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common import db, outbox, secrets
from services.common.app import Check, create_service_app
from services.payment import api
from services.payment.adapters.postgres import PostgresPayments
from services.payment.adapters.simulated import SimulatedProvider, SimulationConfig
from services.payment.ports import PaymentProvider
from services.payment.service import PaymentOrchestrator
from services.payment.settings import PaymentSettings

NAME = "payment"
SCHEMA = "payment"
log = logging.getLogger("services.payment")


def create_app(settings: PaymentSettings | None = None) -> FastAPI:
    """The payment service as an ASGI app (uvicorn: ``services.payment.app:create_app --factory``)."""
    settings = settings or PaymentSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        payments = await open_payments(settings)
        provider = build_provider(settings)
        app.state.provider = provider
        app.state.orchestrator = PaymentOrchestrator(
            payments,
            provider,
            pending_wait_s=settings.pending_wait_ms / 1000,
            stale_after_s=settings.stale_pending_s,
        )
        stop = asyncio.Event()
        relay = asyncio.create_task(run_relay(settings, payments, stop)) if settings.run_relay else None
        try:
            yield
        finally:
            stop.set()
            if relay is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await relay
            await provider.close()
            await payments.close()

    def checks(app: FastAPI) -> dict[str, Check]:
        return {"database": app.state.orchestrator.payments.ping}

    app = create_service_app(NAME, settings, [api.internal, api.public], lifespan=lifespan, checks=checks)
    api.install(app)
    return app


async def open_payments(settings: PaymentSettings) -> PostgresPayments:
    """The PostgreSQL repository, its credentials read from Secrets Manager and its schema migrated."""
    secret = await asyncio.to_thread(secrets.read_secret, settings.database_secret, settings.aws_region)
    url = secrets.database_url(secret, "psycopg")
    if settings.migrate_on_start:
        await asyncio.to_thread(db.migrate, "services.payment", url, SCHEMA)
    return PostgresPayments(db.async_engine(url, SCHEMA, pool_size=settings.db_pool_size))


def build_provider(settings: PaymentSettings) -> PaymentProvider:
    """The card provider the settings name (the simulated one is the only adapter: no card network runs here)."""
    return SimulatedProvider(
        SimulationConfig(
            decline_rate=settings.sim_decline_rate,
            timeout_rate=settings.sim_timeout_rate,
            latency_ms=settings.sim_latency_ms,
            latency_jitter_ms=settings.sim_latency_jitter_ms,
            timeout_ms=settings.provider_timeout_ms,
            duplicate_callbacks=settings.sim_duplicate_callbacks,
            seed=settings.sim_seed,
        )
    )


async def run_relay(settings: PaymentSettings, payments: PostgresPayments, stop: asyncio.Event) -> None:
    """Publish the outbox to SNS until ``stop``. Events wait in the outbox while SNS (or STS, which
    the publisher asks for the account once) is unreachable; payments go on meanwhile."""
    while not stop.is_set():
        try:
            publisher = await asyncio.to_thread(outbox.SnsPublisher, settings.stage, settings.aws_region)
            break
        except Exception:
            log.exception("the outbox relay cannot reach AWS yet; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5.0)
    else:
        return
    relay = outbox.OutboxRelay(payments.engine, publisher, idle_s=settings.relay_idle_ms / 1000)
    await relay.run(stop)
