"""The returning customer: signs in with an account made earlier in the run, looks at past orders, buys again."""

from __future__ import annotations

import random

from locust import task

from load.journeys.common import Shop, ShopUser
from load.journeys.shopper import ACCOUNTS, Shopper


class Returning(Shopper):
    journey = "returning"

    def on_start(self) -> None:
        ShopUser.on_start(self)
        if not ACCOUNTS:  # first in this process: no one to return yet, so sign up like a new shopper
            Shopper.on_start(self)
            return
        self.account = random.choice(ACCOUNTS)  # noqa: S311
        self.signed_in = self.sign_in()

    @task
    def buy(self) -> None:
        if not self.signed_in:
            self.signed_in = self.sign_in()
            return
        r = self.call("GET", "/api/orders", "/api/orders")
        orders = (r.json().get("items", []) if r is not None else []) or []
        if orders:
            self.call("GET", f"/api/orders/{orders[0]['order_id']}", "/api/orders/[id]")
        product_id = random.choice(Shop.buyable)  # noqa: S311
        if self.call("POST", "/api/cart/items", "/api/cart/items", json={"product_id": product_id, "quantity": 1}):
            self.checkout()
