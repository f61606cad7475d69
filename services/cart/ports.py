"""What the cart needs from the outside world."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from services.cart.domain import Cart, Product


class StaleCart(Exception):
    """The stored cart changed since it was read (another tab, another request)."""


class CartStore(ABC):
    @abstractmethod
    async def get(self, cart_id: str) -> Cart:
        """The cart, or an empty one (version 0) if none is stored or it expired."""

    @abstractmethod
    async def save(self, cart: Cart, ttl_s: int) -> Cart:
        """Store ``cart`` if the stored version is still ``cart.version``; raises StaleCart otherwise."""

    @abstractmethod
    async def delete(self, cart_id: str) -> None: ...

    async def take(self, cart_id: str, units: dict[str, int], ttl_s: int) -> Cart | None:
        """Take ``units`` out of the stored cart in one write, without reading it first, if it holds at least that
        many of each; None when it does not (or the store cannot): the caller then reads, changes and saves."""
        return None

    async def write_line(
        self,
        cart_id: str,
        product_id: str,
        quantity: int,
        *,
        adding: bool,
        most: int,
        max_lines: int,
        ttl_s: int,
        if_match: int | None,
    ) -> tuple[Cart, bool]:
        """Add ``quantity`` units of ``product_id`` (``adding``), or make its line ``quantity`` units, in one write,
        without reading the cart first, when the rules surely hold: the cart is stored and unexpired, at version
        ``if_match`` (if given), holds at most ``most`` units of the product afterwards (``domain.most_units``) and
        keeps within ``max_lines`` lines. Answers ``(the cart after, True)``; otherwise ``(the cart as stored now, as
        get reads it, False)``, and the caller applies the rules to that cart and saves it, which gives the exact
        refusal or result. This default never writes: it only reads."""
        return await self.get(cart_id), False


class SessionStore(ABC):
    @abstractmethod
    async def create(self, ttl_s: int) -> str: ...

    @abstractmethod
    async def valid(self, session_id: str) -> bool:
        """True if the session exists and has not expired (expired items are ignored, stored or not)."""

    @abstractmethod
    async def end(self, session_id: str) -> None: ...


class Catalog(ABC):
    @abstractmethod
    async def products(self, product_ids: Iterable[str]) -> dict[str, Product]:
        """Current name, price and availability of each product that exists."""
