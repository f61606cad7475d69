"""The backends the catalog needs, as small abstract classes; adapters/ holds the real ones."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.catalog.domain import Category, NewProduct, Page, Reservation, ReservationLine, Sort


class CatalogStore(abc.ABC):
    """Categories and products. Reads return plain JSON-ready dicts; each write is one transaction."""

    @abc.abstractmethod
    async def categories(self) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def category(self, slug: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def products(self, category: str | None, sort: Sort, page: Page) -> tuple[list[dict[str, Any]], int]:
        """One page of product summaries and the total count of the listing."""

    @abc.abstractmethod
    async def product(self, product_id: str) -> dict[str, Any] | None:
        """A product with its category and availability."""

    async def products_by_id(self, product_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Several products as ``product`` gives each, in one read where the store can; unknown ids are left out."""
        found = [await self.product(p) for p in product_ids]
        return [p for p in found if p is not None]

    @abc.abstractmethod
    async def create_category(self, category: Category) -> None: ...

    @abc.abstractmethod
    async def create_product(self, product: NewProduct) -> None: ...

    @abc.abstractmethod
    async def update_product(self, product_id: str, changes: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    async def delete_product(self, product_id: str) -> str | None:
        """Delete a product and its inventory; returns its image key (to delete from media)."""

    @abc.abstractmethod
    async def set_image(self, product_id: str, image_key: str) -> str | None:
        """Point the product at a new image; returns the key it had before."""

    @abc.abstractmethod
    async def seed(self, categories: Sequence[Category], products: Sequence[NewProduct]) -> tuple[int, int]:
        """Insert whatever of these is missing (by slug and id); returns (categories, products) added."""

    @abc.abstractmethod
    async def ping(self) -> None: ...


class InventoryStore(abc.ABC):
    """Stock on hand and reservations against it. Available stock never goes below zero."""

    @abc.abstractmethod
    async def set_stock(self, product_id: str, on_hand: int) -> dict[str, int]: ...

    @abc.abstractmethod
    async def reserve(
        self, reservation_id: str, lines: Sequence[ReservationLine], ttl_s: int
    ) -> tuple[Reservation, bool]:
        """Hold every line or none; returns the reservation and whether this call created it."""

    @abc.abstractmethod
    async def release(self, reservation_id: str) -> Reservation:
        """Give a held reservation's stock back (idempotent); a committed one stays committed."""

    @abc.abstractmethod
    async def commit(self, reservation_id: str) -> Reservation:
        """Take a held, unexpired reservation's stock for good; otherwise report the state it is in."""

    @abc.abstractmethod
    async def get(self, reservation_id: str) -> Reservation | None: ...

    @abc.abstractmethod
    async def sweep(self, now: datetime | None = None, limit: int = 100) -> list[Reservation]:
        """Expire held reservations past their expiry; returns the ones it expired."""


@dataclass(frozen=True, slots=True)
class Cached:
    """A cache entry: the body as stored and how long ago it was stored."""

    body: bytes
    age_s: float


class Cache(abc.ABC):
    """Serialized responses by key, each kept for the time it is set with; a failing cache behaves as an empty one."""

    @abc.abstractmethod
    async def get(self, key: str) -> Cached | None: ...

    async def get_many(self, keys: Sequence[str]) -> list[Cached | None]:
        """``get`` of each key, in one round trip where the cache can."""
        return [await self.get(k) for k in keys]

    @abc.abstractmethod
    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    @abc.abstractmethod
    async def generation(self) -> int:
        """The listing generation (-1: unknown); every write bumps it, so older listing keys are never read again."""

    @abc.abstractmethod
    async def invalidate(self, keys: Sequence[str] = (), listings: bool = True) -> None:
        """Drop ``keys`` and, with ``listings``, retire every listing (a new generation)."""


class MediaStore(abc.ABC):
    """Product images in the media bucket."""

    @abc.abstractmethod
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> None: ...
