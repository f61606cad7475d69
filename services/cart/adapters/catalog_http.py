"""The catalog over HTTP: current price and availability of each product in a cart."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from services.cart.domain import Product
from services.cart.ports import Catalog
from services.common import http
from services.common.errors import Unavailable

BATCH = 100  # the catalog's limit on ids per call (services/catalog/api_internal.py, MAX_IDS)


class HttpCatalog(Catalog):
    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def products(self, product_ids: Iterable[str]) -> dict[str, Product]:
        """Every product of ``product_ids`` the catalog knows, in one call (``GET /internal/products``)."""
        ids = sorted(set(product_ids))
        found: dict[str, Product] = {}
        for start in range(0, len(ids), BATCH):
            found |= await self._some(ids[start : start + BATCH])
        return found

    async def _some(self, product_ids: list[str]) -> dict[str, Product]:
        try:
            response = await http.request(self.client, "GET", "/internal/products", params={"ids": product_ids})
        except httpx.HTTPError as exc:
            raise Unavailable(f"the catalog did not answer: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise Unavailable(f"the catalog answered {response.status_code}")
        return {p.product_id: p for p in map(_product, response.json()["items"])}


def _product(body: dict) -> Product:
    availability = body.get("availability") or {}
    return Product(
        product_id=body["id"],
        name=body["name"],
        price_minor=int(body["price_minor"]),
        currency=body["currency"],
        available=int(availability.get("available", body.get("available", 0))),
        image_url=body.get("image_url"),
    )
