"""The new shopper: signs up and in, fills a cart, changes it, checks out with an Idempotency-Key, views orders."""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from pathlib import Path

from locust import task

from load.journeys.common import Shop, ShopUser, fake

# Test users given to the run (staging: from Secrets Manager, see load/README.md): shoppers sign in as them,
# one each in turn, instead of signing up.
GIVEN: list[dict[str, str]] = (
    json.loads(Path(os.environ["LOAD_ACCOUNTS_FILE"]).read_text()) if os.environ.get("LOAD_ACCOUNTS_FILE") else []
)
_given = itertools.count()
# The share of shoppers that sign in as the storefront does (issue 22): a session cookie from /api/session, the
# tokens kept at the gateway, X-Shop-CSRF on every call. The others are mobile/API clients with bearer tokens.
COOKIE_SHARE = float(os.environ.get("LOAD_COOKIE_SHARE", "0.5"))
SESSION_COOKIE = "__Host-shop-session"
CSRF = {"X-Shop-CSRF": "1"}


def address() -> dict[str, str]:
    return {"name": fake.name(), "line1": fake.street_address(), "city": fake.city(),
            "postal_code": fake.postcode(), "country": "GB"}  # fmt: skip


class Shopper(ShopUser):
    journey = "shopper"

    def on_start(self) -> None:
        super().on_start()
        self.cookies = random.random() < COOKIE_SHARE  # noqa: S311 - load, not crypto
        if GIVEN:
            self.account = GIVEN[next(_given) % len(GIVEN)]  # one account per shopper while there are enough
            self.signed_in = self.sign_in()
            return
        self.account = {"email": f"{self.tags['X-Shop-Session']}-{fake.user_name()}@load.example.com",
                        "password": "Load-Shopper-1"}  # fmt: skip
        self.signed_in = self.call("POST", "/api/auth/signup", "/api/auth/signup", (201,), json=self.account) and (
            self.sign_in()
        )

    def sign_in(self) -> bool:
        if self.cookies:
            return self.sign_in_with_cookie()
        r = self.call("POST", "/api/auth/signin", "/api/auth/signin", json=self.account)
        if r is None:
            return False
        self.tags = self.tags | {"Authorization": f"Bearer {r.json()['access_token']}"}
        return True

    def sign_in_with_cookie(self) -> bool:
        """The browser's sign-in. The cookie is sent by hand: it is ``Secure``, and a cookie jar keeps it off
        plain HTTP to a host that is not loopback (a browser allows it on 127.0.0.1 and localhost only)."""
        tags = self.tags | CSRF  # a second sign-in sends the old cookie: the gateway ends that session first
        r = self.call("POST", "/api/session", "/api/session", json=self.account, headers=tags)
        if r is None:
            return False
        session = session_id(r.headers.get("set-cookie", ""))
        if not session:
            return False
        self.tags = tags | {"Cookie": f"{SESSION_COOKIE}={session}"}
        return True

    @task
    def buy(self) -> None:
        if not self.signed_in:
            self.signed_in = self.sign_in()
            return
        self.call("GET", f"/api/catalog/products/{Shop.product()['id']}", "/api/catalog/products/[id]")
        wanted = random.sample(Shop.buyable, k=min(2, len(Shop.buyable)))
        for product_id in wanted:
            if self.call("POST", "/api/cart/items", "/api/cart/items", json={"product_id": product_id, "quantity": 1}
                         ) is None:  # fmt: skip
                return
        self.call("PUT", f"/api/cart/items/{wanted[0]}", "/api/cart/items/[id]", json={"quantity": 2})
        self.call("GET", "/api/cart", "/api/cart")
        self.checkout()
        self.call("GET", "/api/orders", "/api/orders")

    def checkout(self) -> None:
        body = {"shipping_address": address(), "payment_method": "pm_card_ok"}
        key = {"Idempotency-Key": uuid.uuid4().hex}
        self.call("POST", "/api/checkout", "/api/checkout", (201,), json=body, headers=key)


def session_id(set_cookie: str) -> str:
    """The session id of a ``Set-Cookie`` answer (several cookies may be folded into one header)."""
    for part in set_cookie.split(","):
        name, _, rest = part.strip().partition("=")
        if name == SESSION_COOKIE:
            return rest.split(";", 1)[0]
    return ""
