"""The anonymous browser: home, a category, a product, a search with a typo, type-ahead as they type."""

from __future__ import annotations

import random
from typing import ClassVar

from locust import task

from load.journeys.common import Shop, ShopUser, typo


class Browser(ShopUser):
    journey = "browser"
    # Where each page is read from: the efficiency check points them all at the bare hello endpoint.
    routes: ClassVar[dict[str, str]] = {
        "home": "/api/catalog/categories",
        "popular": "/api/recommendations/popular",
        "category": "/api/catalog/products",
        "product": "/api/catalog/products/{id}",
        "search": "/api/search",
        "suggest": "/api/search/suggest",
    }

    @task(3)
    def home(self) -> None:
        self.call("GET", self.routes["home"], "/api/catalog/categories")
        self.call("GET", self.routes["popular"], "/api/recommendations/popular")

    @task(3)
    def category(self) -> None:
        slug = random.choice(Shop.categories or ["all"])  # noqa: S311
        self.call("GET", f"{self.routes['category']}?category={slug}&page_size=24", "/api/catalog/products?category")

    @task(5)
    def product(self) -> None:
        self.call("GET", self.routes["product"].format(id=Shop.product()["id"]), "/api/catalog/products/[id]")

    @task(2)
    def search(self) -> None:
        word = typo(random.choice(Shop.words()))  # noqa: S311
        self.call("GET", f"{self.routes['search']}?q={word}", "/api/search?q")

    @task(2)
    def type_ahead(self) -> None:
        word = random.choice(Shop.words())  # noqa: S311
        for n in range(2, min(len(word), 5) + 1):  # one request per key press after the second
            self.call("GET", f"{self.routes['suggest']}?q={word[:n]}", "/api/search/suggest?q")
