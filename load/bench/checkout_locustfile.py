"""Shoppers at a constant arrival rate: each adds one product to its cart, then checks out with ``pm_card_ok``.

Every virtual user is its own shopper (its cart is its own) and starts at most
``BENCH_RATE_PER_USER`` checkouts a second (``constant_throughput``), so the whole run offers
users x that rate while the answers keep up. Identity comes as the headers the gateway sets
after it verified a token (``X-Shop-User``, ``X-Shop-Email``): see load/bench/README.md for why.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid

from locust import FastHttpUser, constant_throughput, task

from services.common.identity import Caller

PRODUCTS = os.environ["BENCH_PRODUCTS"].split(",")
CART_URL = os.environ["BENCH_CART_URL"]
RUN = os.environ.get("BENCH_RUN", uuid.uuid4().hex[:8])
ADDRESS = {"name": "Bench Shopper", "line1": "1 Load St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}
NUMBERS = itertools.count()


class Shopper(FastHttpUser):
    wait_time = constant_throughput(float(os.environ["BENCH_RATE_PER_USER"]))
    connection_timeout = 10.0
    network_timeout = 30.0

    def on_start(self) -> None:
        n = next(NUMBERS)
        self.identity = Caller(f"bench-{RUN}-{n}", f"shopper{n}@bench.example.com").headers()

    @task
    def checkout(self) -> None:
        line = {"product_id": random.choice(PRODUCTS), "quantity": 1}  # noqa: S311 - load, not crypto
        with self.client.post(
            f"{CART_URL}/cart/items", json=line, headers=self.identity, name="cart add", catch_response=True
        ) as added:
            if added.status_code != 200:
                added.failure(f"status {added.status_code}")
                return
        headers = {**self.identity, "Idempotency-Key": uuid.uuid4().hex}
        body = {"shipping_address": ADDRESS, "payment_method": "pm_card_ok"}
        with self.client.post("/checkout", json=body, headers=headers, name="checkout", catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"status {r.status_code}: {r.text[:120]}")
