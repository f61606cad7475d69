"""A partner integration: pages through the catalog and runs searches as JSON, quickly and without a browser."""

from __future__ import annotations

import random

from locust import task

from load.journeys.common import Shop, ShopUser


class ApiClient(ShopUser):
    journey = "api_client"

    def on_start(self) -> None:
        super().on_start()
        self.tags = self.tags | {"User-Agent": "shop-partner-feed/1.4 (+https://partner.example.com)"}

    @task(3)
    def page(self) -> None:
        self.call("GET", f"/api/catalog/products?page={random.randint(1, 3)}&page_size=50&sort=price",  # noqa: S311
                  "/api/catalog/products?page")  # fmt: skip

    @task(1)
    def lookup(self) -> None:
        name = Shop.product()["name"]
        self.call("GET", f"/api/search?q={name.split()[0].lower()}&page_size=10", "/api/search?q")
