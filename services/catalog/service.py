"""The catalog's use cases: read-through caching around the store, writes that invalidate it.

Reads return an ``Answer``: the body as JSON bytes, exactly as cached (a hit costs one Redis GET
and no serialization), and how long it may be shared. A product page carries stock, so it is kept
``STOCK_MAX_AGE_S`` at most, here and in every cache after this one (its age goes with it): that is
what bounds how long a guest can see stock that is gone, whatever invalidation missed. Every write
is one database transaction (its catalog events join it in the outbox), and the cache is
invalidated after it commits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from services.catalog import domain
from services.catalog.domain import (
    LISTING_MAX_AGE_S,
    STOCK_MAX_AGE_S,
    Answer,
    Category,
    NewProduct,
    Page,
    Reservation,
    ReservationLine,
    Sort,
)
from services.catalog.ports import Cache, CatalogStore, InventoryStore, MediaStore

log = logging.getLogger("services.catalog")


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def product_key(product_id: str) -> str:
    return f"product:{product_id}"


def listing_key(generation: int, *parts: object) -> str:
    return f"g{generation}:" + ":".join(str(p) for p in parts)


class Catalog:
    def __init__(
        self,
        store: CatalogStore,
        inventory: InventoryStore,
        cache: Cache,
        media: MediaStore,
        *,
        listing_ttl_s: float = 300,
    ):
        self.store = store
        self.inventory = inventory
        self.cache = cache
        self.media = media
        self.listing_ttl_s = listing_ttl_s

    # ------------------------------------------------------------------ reads

    async def product(self, product_id: str) -> Answer:
        key = product_key(product_id)
        cached = await self.cache.get(key)
        if cached is not None:
            return Answer(cached.body, STOCK_MAX_AGE_S, cached.age_s)
        product = await self.store.product(product_id)
        if product is None:
            raise domain.NotFound(f"no product {product_id}", field="id")
        body = dumps(product)
        await self.cache.set(key, body, STOCK_MAX_AGE_S)
        return Answer(body, STOCK_MAX_AGE_S)

    async def products_by_id(self, product_ids: Sequence[str]) -> bytes:
        """Several product pages at once (the cart prices its lines with one call): ``{"items": [...], "missing":
        [...]}``, each item the body ``product`` answers, read through the same cache (one MGET, then one query for
        the misses); ``missing`` names the ids no product has. Ids are answered once each, in the order asked."""
        ids = list(dict.fromkeys(product_ids))
        cached = await self.cache.get_many([product_key(p) for p in ids])
        bodies = {p: hit.body for p, hit in zip(ids, cached, strict=True) if hit is not None}
        misses = [p for p in ids if p not in bodies]
        for product in await self.store.products_by_id(misses) if misses else ():
            bodies[product["id"]] = body = dumps(product)
            await self.cache.set(product_key(product["id"]), body, STOCK_MAX_AGE_S)
        items = b",".join(bodies[p] for p in ids if p in bodies)
        return b'{"items":[' + items + b'],"missing":' + dumps([p for p in ids if p not in bodies]) + b"}"

    async def image_url(self, product_id: str) -> str:
        product = json.loads((await self.product(product_id)).body)
        if not product["image_url"]:
            raise domain.NotFound(f"product {product_id} has no image", field="id")
        return product["image_url"]

    async def products(self, category: str | None, sort: Sort, page: Page) -> Answer:
        async def load() -> Any:
            items, total = await self.store.products(category, sort, page)
            if not items and category is not None and await self.store.category(category) is None:
                raise domain.NotFound(f"no category {category}", field="category")
            pages = -(-total // page.size)
            return {
                "items": items,
                "page": page.number,
                "page_size": page.size,
                "total": total,
                "pages": pages,
                "sort": sort.value,
                "category": category,
            }

        return await self._listing(load, "products", category or "*", sort.value, page.number, page.size)

    async def categories(self) -> Answer:
        async def load() -> Any:
            return {"items": await self.store.categories()}

        return await self._listing(load, "categories")

    async def category(self, slug: str) -> Answer:
        async def load() -> Any:
            found = await self.store.category(slug)
            if found is None:
                raise domain.NotFound(f"no category {slug}", field="slug")
            return found

        return await self._listing(load, "category", slug)

    async def _listing(self, load: Any, *parts: object) -> Answer:
        # A listing carries no stock, and the generation retires it on every write that changes it, so a
        # cached one is as current as a fresh one: it goes out with no age.
        generation = await self.cache.generation()
        key = listing_key(generation, *parts) if generation >= 0 else None
        if key is not None:
            cached = await self.cache.get(key)
            if cached is not None:
                return Answer(cached.body, LISTING_MAX_AGE_S)
        body = dumps(await load())
        if key is not None:
            await self.cache.set(key, body, self.listing_ttl_s)
        return Answer(body, LISTING_MAX_AGE_S)

    async def reservation(self, reservation_id: str) -> Reservation:
        reservation = await self.inventory.get(reservation_id)
        if reservation is None:
            raise domain.NotFound(f"no reservation {reservation_id}", field="reservation_id")
        return reservation

    # ------------------------------------------------------------------ admin writes

    async def create_category(self, category: Category) -> None:
        await self.store.create_category(category)
        await self.cache.invalidate()

    async def create_product(self, product: NewProduct) -> bytes:
        await self.store.create_product(product)
        await self.cache.invalidate([product_key(product.id)])
        return (await self.product(product.id)).body

    async def update_product(self, product_id: str, changes: dict[str, Any]) -> bytes:
        if changes:
            await self.store.update_product(product_id, changes)
            await self.cache.invalidate([product_key(product_id)])
        return (await self.product(product_id)).body

    async def delete_product(self, product_id: str) -> None:
        image_key = await self.store.delete_product(product_id)
        await self.cache.invalidate([product_key(product_id)])
        if image_key:
            await self._forget_image(image_key)

    async def set_stock(self, product_id: str, on_hand: int) -> dict[str, int]:
        stock = await self.inventory.set_stock(product_id, on_hand)
        await self.cache.invalidate([product_key(product_id)], listings=False)
        return stock

    async def upload_image(self, product_id: str, data: bytes, content_type: str) -> str:
        domain.check_image(content_type, data)
        await self.product(product_id)  # 404 before anything is stored
        key = domain.media_key(product_id, content_type)
        await self.media.put(key, data, content_type)
        old = await self.store.set_image(product_id, key)
        await self.cache.invalidate([product_key(product_id)])
        if old and old != key:
            await self._forget_image(old)
        return domain.image_url(key) or ""

    async def _forget_image(self, key: str) -> None:
        try:
            await self.media.delete(key)
        except Exception:
            log.warning("could not delete media object", extra={"key": key}, exc_info=True)

    # ------------------------------------------------------------------ reservations (internal)

    async def reserve(
        self, reservation_id: str, lines: Sequence[ReservationLine], ttl_s: int
    ) -> tuple[Reservation, bool]:
        reservation, created = await self.inventory.reserve(reservation_id, lines, ttl_s)
        if created:
            await self._stock_changed(reservation)
        return reservation, created

    async def release(self, reservation_id: str) -> Reservation:
        reservation = await self.inventory.release(reservation_id)
        await self._stock_changed(reservation)
        if reservation.status == domain.ReservationStatus.COMMITTED:
            detail = f"reservation {reservation_id} is committed; its stock is sold"
            raise domain.Conflict(detail, field="reservation_id", reservation_status="committed")
        return reservation

    async def commit(self, reservation_id: str) -> Reservation:
        reservation = await self.inventory.commit(reservation_id)
        await self._stock_changed(reservation)
        if reservation.status != domain.ReservationStatus.COMMITTED:
            raise domain.Conflict(
                f"reservation {reservation_id} is {reservation.status} and cannot be committed",
                field="reservation_id",
                reservation_status=reservation.status.value,
            )
        return reservation

    async def sweep(self) -> int:
        expired = await self.inventory.sweep()
        for reservation in expired:
            await self._stock_changed(reservation)
        return len(expired)

    async def _stock_changed(self, reservation: Reservation) -> None:
        # Availability shows on product pages only, so listings stay cached.
        await self.cache.invalidate([product_key(line.product_id) for line in reservation.lines], listings=False)
