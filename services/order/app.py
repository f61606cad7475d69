"""The order service: ``uvicorn services.order.app:create_app --factory``.

Its parts: the database (credentials from Secrets Manager, migrated under an advisory lock),
the outbox relay (the diagram's event publisher) and the consumer of the order-payments queue.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.consumer import IdempotentPolicy
from services.common.runtime import Runtime
from services.order import api, api_internal, payments
from services.order.adapters.postgres import PostgresOrders
from services.order.service import OrderService
from services.order.settings import OrderSettings


def create_app(settings: OrderSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or OrderSettings()

    async def parts(rt: Runtime) -> None:
        database = await rt.database("services.order", "order")
        rt.state.service = service = OrderService(PostgresOrders(database), settings.page_size)
        rt.relay(database)
        rt.consumer(payments.QUEUE, IdempotentPolicy(database, payments.handler(service)))

    return create_service_app("order", settings, [api.router, api_internal.router], parts=parts)
