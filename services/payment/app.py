"""The payment service: ``uvicorn services.payment.app:create_app --factory``.

Its parts: the database (credentials from Secrets Manager, the ``payment`` schema migrated), the
card provider, the orchestrator, and the outbox relay (the diagram's event publisher), which
connects to SNS in the background while payments go on.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.common import flags
from services.common.app import create_service_app
from services.common.runtime import Runtime
from services.payment import api
from services.payment.adapters.postgres import PostgresHolds, PostgresPayments
from services.payment.adapters.simulated import HoldBook, MemoryHolds, SimulatedProvider, SimulationConfig
from services.payment.breaker import CircuitBreaker, Thresholds
from services.payment.ports import PaymentProvider
from services.payment.service import PaymentOrchestrator
from services.payment.settings import PaymentSettings


def create_app(settings: PaymentSettings | None = None) -> FastAPI:
    """The payment service as an ASGI app; nothing connects until the lifespan starts."""
    settings = settings or PaymentSettings()

    async def parts(rt: Runtime) -> None:
        database = await rt.database("services.payment", "payment")
        rt.state.provider = provider = build_provider(settings, PostgresHolds(database))
        rt.on_close(provider.close)  # closed before the database: its last callbacks still reach it
        rt.state.orchestrator = PaymentOrchestrator(
            PostgresPayments(database),
            provider,
            pending_wait_s=settings.pending_wait_ms / 1000,
            stale_after_s=settings.stale_pending_s,
            breaker=(breaker := build_breaker(settings)),
        )
        flags.evidence("breaker", breaker.view)  # GET /_faults shows its state and transitions
        rt.relay(database)

    return create_service_app("payment", settings, [api.internal, api.public], parts=parts)


def build_provider(settings: PaymentSettings, holds: HoldBook | None = None) -> PaymentProvider:
    """The card provider the settings name (the simulated one is the only adapter: no card network runs here),
    keeping its holds in ``holds`` (in memory when None)."""
    return SimulatedProvider(
        SimulationConfig(
            decline_rate=settings.sim_decline_rate,
            timeout_rate=settings.sim_timeout_rate,
            latency_ms=settings.sim_latency_ms,
            latency_jitter_ms=settings.sim_latency_jitter_ms,
            timeout_ms=settings.provider_timeout_ms,
            duplicate_callbacks=settings.sim_duplicate_callbacks,
            seed=settings.sim_seed,
        ),
        holds=holds or MemoryHolds(),
    )


def build_breaker(settings: PaymentSettings) -> CircuitBreaker:
    """The circuit breaker around the provider, with the ``PAYMENT_BREAKER_*`` thresholds."""
    return CircuitBreaker(
        "payment-provider",
        Thresholds(
            failure_ratio=settings.breaker_failure_ratio,
            window=settings.breaker_window,
            min_calls=settings.breaker_min_calls,
            open_s=settings.breaker_open_s,
            half_open_calls=settings.breaker_half_open_calls,
        ),
    )
