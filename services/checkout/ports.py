"""What the checkout saga needs from the outside world: the services it calls, and where it keeps its sagas.

Each downstream port is one service's internal API as the saga uses it. Every write is idempotent on
the callee's side by an id derived from the checkout, so a retried or resumed step never doubles a
reservation, an order or a charge; compensations treat "never happened" as done. A transport failure
or an unexpected answer raises ``StepFailed(UNAVAILABLE)``; a business refusal its own reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from reference.events import Event
from services.checkout.domain import Checkout


class Cart(Protocol):
    async def priced_cart(self, co: Checkout) -> dict[str, Any]:
        """The shopper's cart as the cart service prices it (lines, totals, ``checkout_ready``, problems)."""
        ...

    async def remove_bought(self, co: Checkout) -> None:
        """Take what was bought out of the cart (what was added meanwhile stays)."""
        ...


class Inventory(Protocol):
    async def reserve(self, co: Checkout, ttl_s: int) -> None:
        """Hold every line's stock, or none (``StepFailed(OUT_OF_STOCK)``)."""
        ...

    async def commit_stock(self, co: Checkout) -> None: ...

    async def release_stock(self, co: Checkout) -> None: ...


class Orders(Protocol):
    async def create_order(self, co: Checkout) -> None: ...

    async def confirm_order(self, co: Checkout) -> None: ...

    async def cancel_order(self, co: Checkout, reason: str) -> None: ...


class Payments(Protocol):
    async def authorize(self, co: Checkout) -> str:
        """The authorized payment's id; ``StepFailed(PAYMENT_DECLINED or PAYMENT_TIMEOUT)`` otherwise."""
        ...

    async def capture(self, co: Checkout) -> None: ...

    async def void_payments(self, co: Checkout) -> None:
        """Void every payment of the order, also one whose authorization timed out (its id unknown here)."""
        ...


class Profiles(Protocol):
    async def email_of(self, sub: str) -> str | None:
        """The e-mail address recorded at sign-up (access tokens carry none); None if there is no profile."""
        ...


@dataclass(frozen=True)
class Downstream:
    """The services the saga drives, one port each."""

    cart: Cart
    inventory: Inventory
    orders: Orders
    payments: Payments


class Checkouts(Protocol):
    """The sagas' memory: one row per checkout, a step log, and a lease so one runner drives a saga at a time."""

    async def start(self, co: Checkout) -> tuple[Checkout, bool]:
        """Insert the checkout holding its lease; if its key was used before, that checkout instead (False)."""
        ...

    async def get(self, checkout_id: str) -> Checkout | None: ...

    async def save(self, co: Checkout, step: str, outcome: str = "ok", event: Event | None = None) -> None:
        """Record a step (and ``event``, in the same transaction); a terminal state also releases the lease."""
        ...

    async def claim_stuck(self, limit: int = 20) -> list[Checkout]:
        """Take over unfinished sagas whose lease ran out (their runner crashed or hung)."""
        ...

    async def steps(self, checkout_id: str) -> list[tuple[str, str]]: ...
