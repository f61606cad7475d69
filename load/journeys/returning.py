"""The returning customer: comes back (signs in again), looks at past orders, buys again.

Each has an account of its own (made on its first visit, or one of the given test users): two
virtual users sharing an account would share a cart, and their checkouts would conflict.
"""

from __future__ import annotations

import random

from locust import task

from load.journeys.common import Shop
from load.journeys.shopper import Shopper


class Returning(Shopper):
    journey = "returning"

    @task
    def buy(self) -> None:
        if not self.sign_in():  # a new visit: new tokens
            return
        r = self.call("GET", "/api/orders", "/api/orders")
        orders = (r.json().get("items", []) if r is not None else []) or []
        if orders:
            self.call("GET", f"/api/orders/{orders[0]['order_id']}", "/api/orders/[id]")
        product_id = random.choice(Shop.buyable)  # noqa: S311
        if self.call("POST", "/api/cart/items", "/api/cart/items", json={"product_id": product_id, "quantity": 1}):
            self.checkout()
