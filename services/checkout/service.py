"""The checkout use cases the routes call: start (or repeat) a checkout, and look one up.

A new Idempotency-Key starts a saga and runs it in this request; a key already used with the same
body waits for that run's outcome and answers it; with another body it is refused. The shopper's
e-mail comes from the token, else from the profile service (access tokens carry none).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from services.checkout import domain
from services.checkout.domain import TERMINAL, Checkout, StepFailed, past_pivot
from services.checkout.ports import Checkouts, Profiles
from services.checkout.saga import Saga
from services.common import metrics
from services.common.errors import Invalid, NotFound, Unavailable
from services.common.identity import Caller


class CheckoutService:
    def __init__(
        self,
        repo: Checkouts,
        saga: Saga,
        profiles: Profiles,
        *,
        wait_for_twin_s: float = 15.0,
        email_cache_s: float = 0.0,
    ):
        self.repo, self.saga, self.profiles = repo, saga, profiles
        self.wait_for_twin_s = wait_for_twin_s
        self.emails = Recent(email_cache_s)

    async def checkout(self, user: Caller, key: str | None, body: dict[str, Any]) -> tuple[Checkout, bool]:
        """The checkout of ``key`` run to its end (or as far as an outage allows); True if this call ran it."""
        key = domain.check_key(key)
        fingerprint = domain.request_hash(body)
        co = Checkout(
            checkout_id=domain.new_checkout_id(), customer_sub=user.sub, email=await self._email(user),
            idempotency_key=key, request_hash=fingerprint, shipping_address=body["shipping_address"],
            payment_method=body["payment_method"],
        )  # fmt: skip
        co, created = await self.repo.start(co)
        if created:
            co = await self.saga.run(co)
            metrics.checkout_outcome(co.status.value, co.failure_reason, co.total_minor, co.currency)
            return co, True
        if co.request_hash != fingerprint:
            raise domain.KeyReused("this Idempotency-Key was used with a different body", field="Idempotency-Key")
        return await self._twin_outcome(co), False

    async def get(self, user: Caller, checkout_id: str) -> Checkout:
        """One of the caller's checkouts (someone else's is NotFound)."""
        co = await self.repo.get(checkout_id)
        if co is None or co.customer_sub != user.sub:
            raise NotFound(f"no checkout {checkout_id}", field="checkout_id")
        return co

    async def _email(self, user: Caller) -> str:
        try:
            email = user.email or self.emails.get(user.sub) or await self.profiles.email_of(user.sub)
        except StepFailed as failure:
            raise Unavailable(f"the profile service did not answer: {failure.detail}") from None
        if not email:
            raise Invalid("the signed-in user has no e-mail address on record", field="email")
        if not user.email:
            self.emails.put(user.sub, email)
        return email

    async def _twin_outcome(self, co: Checkout) -> Checkout:
        """A request with a key already being processed waits for that run's outcome (and returns it)."""
        deadline = time.monotonic() + self.wait_for_twin_s
        while co.status not in TERMINAL and not past_pivot(co.status) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            co = await self.repo.get(co.checkout_id) or co
        return co


class Recent:
    """A few thousand values kept for ``ttl_s`` (a profile call per checkout saved); ``ttl_s`` 0 keeps none."""

    def __init__(self, ttl_s: float, size: int = 10_000):
        self.ttl_s, self.size = ttl_s, size
        self.values: dict[str, tuple[float, str]] = {}

    def get(self, key: str) -> str | None:
        kept = self.values.get(key)
        return kept[1] if kept and kept[0] > time.monotonic() else None

    def put(self, key: str, value: str) -> None:
        if self.ttl_s <= 0:
            return
        if len(self.values) >= self.size:
            self.values.clear()  # cheaper than an LRU, and a miss only costs one call
        self.values[key] = (time.monotonic() + self.ttl_s, value)
