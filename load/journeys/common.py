"""What every journey shares: tagging its requests as load, the shop's data, and how an answer is judged.

Each virtual user sends ``X-Shop-Synthetic: <run id>`` and ``X-Shop-Session: <its id>`` on every
request (the shop can tell load from customers), and a client address of its own from the
benchmarking range 198.18.0.0/15 in ``LOAD_CLIENT_IP_HEADER`` when the front door trusts that
header (load/README.md, "Why through the front door").
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import random
import urllib.request
import uuid
from typing import Any, ClassVar

from faker import Faker
from locust import FastHttpUser, between

from load.gates import WAF_BLOCKED
from load.journeys import journey

RUN = os.environ.get("LOAD_RUN", uuid.uuid4().hex[:8])
CLIENT_IP_HEADER = os.environ.get("LOAD_CLIENT_IP_HEADER", "")
ADDRESSES = ipaddress.ip_network("198.18.0.0/15")  # RFC 2544: for benchmarks, never a real customer
_numbers = itertools.count(1)
fake = Faker()


class Shop:
    """Products, categories and search words, read once per process from the shop itself."""

    products: ClassVar[list[dict[str, Any]]] = []
    categories: ClassVar[list[str]] = []
    buyable: ClassVar[list[str]] = [p for p in os.environ.get("LOAD_PRODUCTS", "").split(",") if p]

    @classmethod
    def load(cls, host: str) -> None:
        if cls.products:
            return
        headers = {"X-Shop-Synthetic": RUN, "Accept": "application/json"}
        if CLIENT_IP_HEADER:
            headers[CLIENT_IP_HEADER] = str(ADDRESSES[1])
        cls.products = _get(f"{host}/api/catalog/products?page_size=100", headers).get("items", [])
        categories = _get(f"{host}/api/catalog/categories", headers)
        items = categories.get("items", []) if isinstance(categories, dict) else categories
        cls.categories = [c["slug"] for c in items]
        cls.buyable = cls.buyable or [p["id"] for p in cls.products]

    @classmethod
    def product(cls) -> dict[str, Any]:
        return random.choice(cls.products)  # noqa: S311 - load, not crypto

    _words: ClassVar[list[str]] = []

    @classmethod
    def words(cls) -> list[str]:
        """Words of the product names, to search for (computed once: it is on every search's path)."""
        if not cls._words:
            cls._words = [w.lower() for p in cls.products for w in p["name"].split() if len(w) > 3] or ["shirt"]
        return cls._words


def typo(word: str) -> str:
    """One slip of the finger: a letter dropped, doubled or swapped with its neighbour."""
    if len(word) < 4:
        return word
    i = random.randrange(1, len(word) - 1)  # noqa: S311
    return random.choice([word[:i] + word[i + 1 :], word[:i] + word[i] + word[i:],  # noqa: S311
                          word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]])  # fmt: skip


class ShopUser(FastHttpUser):
    """A virtual user tagged as load, with its journey's think time from ``PLAN``."""

    abstract = True
    journey = ""
    connection_timeout = 10.0
    network_timeout = 30.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.journey:
            plan = journey(cls.journey)
            cls.weight = plan.weight if "weight" not in cls.__dict__ else cls.weight
            if "wait_time" not in cls.__dict__:
                cls.wait_time = between(*plan.think_s)

    def on_start(self) -> None:
        n = next(_numbers)  # per process: with --workers, the pid keeps sessions and addresses apart
        session = f"{RUN}-{os.getpid()}-{n}"
        self.tags = {"X-Shop-Synthetic": RUN, "X-Shop-Session": session, "Accept": "application/json"}
        if CLIENT_IP_HEADER:
            self.tags[CLIENT_IP_HEADER] = str(ADDRESSES[(os.getpid() * 4099 + n) % ADDRESSES.num_addresses])
        Shop.load(self.host)

    def call(self, method: str, path: str, name: str, expect: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        """One request under ``name``; an answer not in ``expect`` is a failure saying what came back."""
        headers = self.tags | kwargs.pop("headers") if "headers" in kwargs else self.tags
        with self.client.request(method, path, name=name, headers=headers, catch_response=True, **kwargs) as r:
            if r.status_code in expect:
                return r
            if r.status_code == 403 and b"blocked" in (r.content or b""):
                r.failure(f"{WAF_BLOCKED}: {method} {name}")
            else:
                r.failure(f"status {r.status_code}")
            return None


def _get(url: str, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - the host under test
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())
