"""The catalog over HTTP: current price and availability of each product in a cart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import httpx

from services.cart.domain import Product
from services.cart.ports import Catalog
from services.common import http
from services.common.errors import Unavailable


class HttpCatalog(Catalog):
    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def products(self, product_ids: Iterable[str]) -> dict[str, Product]:
        ids = sorted(set(product_ids))
        found = await asyncio.gather(*(self._one(p) for p in ids))
        return {p.product_id: p for p in found if p is not None}

    async def _one(self, product_id: str) -> Product | None:
        try:
            response = await http.request(self.client, "GET", f"/catalog/products/{product_id}")
        except httpx.HTTPError as exc:
            raise Unavailable(f"the catalog did not answer: {type(exc).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Unavailable(f"the catalog answered {response.status_code}")
        body = response.json()
        availability = body.get("availability") or {}
        return Product(
            product_id=body["id"],
            name=body["name"],
            price_minor=int(body["price_minor"]),
            currency=body["currency"],
            available=int(availability.get("available", body.get("available", 0))),
            image_url=body.get("image_url"),
        )
