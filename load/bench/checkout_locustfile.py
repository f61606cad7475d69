"""Shoppers at a constant arrival rate: each adds one product to its cart, then checks out with ``pm_card_ok``.

Every virtual user is its own shopper (its cart is its own) and starts at most
``BENCH_RATE_PER_USER`` checkouts a second (``constant_throughput``), so the whole run offers
users x that rate while the answers keep up. Through the gateway (the host), each shopper
signs in with a Cognito access token from ``BENCH_TOKENS_FILE`` (one a line, made before the
run); without that file, it goes straight to the services with the identity headers the
gateway would set (``X-Shop-User``, ``X-Shop-Email``).
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from pathlib import Path

from locust import FastHttpUser, constant_throughput, task

from services.common.identity import Caller

PRODUCTS = os.environ["BENCH_PRODUCTS"].split(",")
TOKENS = Path(os.environ["BENCH_TOKENS_FILE"]).read_text().split() if os.environ.get("BENCH_TOKENS_FILE") else []
CART_URL = os.environ["BENCH_CART_URL"]
CHECKOUT_PATH = os.environ.get("BENCH_CHECKOUT_PATH", "/checkout")
RUN = os.environ.get("BENCH_RUN", uuid.uuid4().hex[:8])
ADDRESS = {"name": "Bench Shopper", "line1": "1 Load St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}
NUMBERS = itertools.count()


class Shopper(FastHttpUser):
    wait_time = constant_throughput(float(os.environ["BENCH_RATE_PER_USER"]))
    connection_timeout = 10.0
    network_timeout = 30.0

    def on_start(self) -> None:
        n = next(NUMBERS)
        if TOKENS:
            self.identity = {"Authorization": f"Bearer {TOKENS[n % len(TOKENS)]}"}
        else:
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
        with self.client.post(CHECKOUT_PATH, json=body, headers=headers, name="checkout", catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"status {r.status_code}: {r.text[:120]}")
