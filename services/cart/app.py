"""The cart service: ``uvicorn services.cart.app:create_app --factory``.

Its parts: the DynamoDB carts and sessions tables and a pooled HTTP client to the catalog.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.cart.adapters.catalog_http import HttpCatalog
from services.cart.adapters.dynamodb import DynamoCarts, DynamoSessions
from services.cart.api import internal, router
from services.cart.service import CartService
from services.cart.settings import CartSettings
from services.common.app import create_service_app
from services.common.runtime import Runtime


def create_app(settings: CartSettings | None = None) -> FastAPI:
    """The cart service as an ASGI app; nothing connects until it starts."""
    settings = settings or CartSettings()

    async def parts(rt: Runtime) -> None:
        carts = DynamoCarts(settings.resource(settings.carts_table), settings.aws_region)
        sessions = DynamoSessions(settings.resource(settings.sessions_table), settings.aws_region)
        rt.check("dynamodb", carts.ping)
        catalog = HttpCatalog(await rt.client("catalog"))
        rt.state.cart = CartService(carts, sessions, catalog, settings)

    return create_service_app("cart", settings, [router, internal], parts=parts)
