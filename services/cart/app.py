"""The cart service's app factory: DynamoDB stores and the catalog client are built at start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.cart.adapters.catalog_http import HttpCatalog
from services.cart.adapters.dynamodb import DynamoCarts, DynamoSessions
from services.cart.api import internal, router
from services.cart.service import CartService
from services.cart.settings import CartSettings
from services.common import http
from services.common.app import create_service_app
from services.common.settings import service_url


def create_app(settings: CartSettings | None = None) -> FastAPI:
    settings = settings or CartSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        carts = DynamoCarts(settings.resource(settings.carts_table), settings.aws_region)
        sessions = DynamoSessions(settings.resource(settings.sessions_table), settings.aws_region)
        async with http.client(service_url("catalog")) as catalog_client:
            app.state.carts = carts
            app.state.cart = CartService(carts, sessions, HttpCatalog(catalog_client), settings)
            yield

    return create_service_app(
        "cart", settings, [router, internal], lifespan=lifespan, checks=lambda app: {"dynamodb": app.state.carts.ping}
    )
