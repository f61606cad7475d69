"""The checkout service: ``uvicorn services.checkout.app:create_app --factory``.

Its parts: the database, a client per downstream service (one adapter per port), the saga and the
use cases over it, the outbox relay and the sweeper that resumes sagas whose runner vanished.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.checkout.adapters.downstream import HttpCart, HttpInventory, HttpOrders, HttpPayments, HttpProfiles
from services.checkout.adapters.postgres import PostgresCheckouts
from services.checkout.api import router
from services.checkout.ports import Downstream
from services.checkout.saga import Saga, sweep
from services.checkout.service import CheckoutService
from services.checkout.settings import CheckoutSettings
from services.common.app import create_service_app
from services.common.runtime import Runtime


def create_app(settings: CheckoutSettings | None = None) -> FastAPI:
    settings = settings or CheckoutSettings()

    async def parts(rt: Runtime) -> None:
        database = await rt.database("services.checkout", "checkout")
        timeout = httpx.Timeout(settings.call_timeout_s, connect=1.0)
        downstream = Downstream(
            cart=HttpCart(await rt.client("cart", timeout=timeout)),
            inventory=HttpInventory(await rt.client("catalog", timeout=timeout)),
            orders=HttpOrders(await rt.client("order", timeout=timeout)),
            payments=HttpPayments(await rt.client("payment", timeout=timeout)),
        )
        profiles = HttpProfiles(await rt.client("profile", timeout=timeout))
        repo = PostgresCheckouts(database, settings.lease_s)
        rt.state.saga = saga = Saga(repo, downstream, settings)
        rt.state.service = CheckoutService(
            repo, saga, profiles, wait_for_twin_s=settings.wait_for_twin_s, email_cache_s=settings.email_cache_s
        )
        rt.relay(database)
        rt.every("sweeper", settings.sweep_interval_s, lambda: sweep(saga))

    return create_service_app("checkout", settings, [router], parts=parts)
