"""The checkout service: ``uvicorn services.checkout.app:create_app --factory``.

Its parts: the database, a client per downstream service, the saga, the outbox relay and the
sweeper that resumes sagas whose runner vanished.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.checkout.adapters.downstream import Downstream
from services.checkout.adapters.postgres import Checkouts
from services.checkout.api import router
from services.checkout.saga import Saga, sweep
from services.checkout.settings import CheckoutSettings
from services.common.app import create_service_app
from services.common.runtime import Runtime

DOWNSTREAM = ("cart", "catalog", "order", "payment", "profile")


def create_app(settings: CheckoutSettings | None = None) -> FastAPI:
    settings = settings or CheckoutSettings()

    async def parts(rt: Runtime) -> None:
        engine = await rt.database("services.checkout", "checkout")
        timeout = httpx.Timeout(settings.call_timeout_s, connect=1.0)
        clients = [await rt.client(name, timeout=timeout) for name in DOWNSTREAM]
        rt.state.repo = repo = Checkouts(engine, settings.lease_s)
        rt.state.engine = engine
        rt.state.saga = saga = Saga(repo, Downstream(*clients), settings)
        rt.relay(engine)
        rt.every("sweeper", settings.sweep_interval_s, lambda: sweep(saga))

    return create_service_app("checkout", settings, [router], parts=parts)
