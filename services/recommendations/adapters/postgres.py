"""The Counts and Rankings ports on PostgreSQL (Aurora in AWS): SQLAlchemy 2 Core, async, psycopg 3.

Counters are upserts (``orders = orders + 1``), written in key order so two consumers
counting overlapping baskets lock rows in the same order and cannot deadlock.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.consumer import UnitOfWork
from services.recommendations.adapters.tables import co_purchases, products
from services.recommendations.domain import Basket, Item
from services.recommendations.ports import Counts, Rankings


class PostgresCounts(Counts):
    """Counts written in the consumer's unit of work (or any connection in a transaction)."""

    def __init__(self, conn: UnitOfWork | AsyncConnection):
        self.conn = conn

    async def add(self, basket: Basket) -> None:
        if not basket.units:
            return
        rows = [
            {"product_id": p, "name": basket.names[p][:200], "orders": 1, "units": basket.units[p]}
            for p in sorted(basket.units)
        ]
        new = insert(products).values(rows)
        await self.conn.execute(
            new.on_conflict_do_update(
                index_elements=[products.c.product_id],
                set_={
                    "name": new.excluded.name,
                    "orders": products.c.orders + 1,
                    "units": products.c.units + new.excluded.units,
                    "updated_at": func.now(),
                },
            )
        )
        pairs = sorted({(a, b) for a, b in basket.pairs()} | {(b, a) for a, b in basket.pairs()})
        if pairs:
            new_pairs = insert(co_purchases).values([{"product_id": a, "other_id": b, "orders": 1} for a, b in pairs])
            await self.conn.execute(
                new_pairs.on_conflict_do_update(
                    index_elements=[co_purchases.c.product_id, co_purchases.c.other_id],
                    set_={"orders": co_purchases.c.orders + 1},
                )
            )


class PostgresRankings(Rankings):
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def bought_together(self, product_id: str, limit: int) -> list[Item]:
        query = (
            select(co_purchases.c.other_id, func.coalesce(products.c.name, ""), co_purchases.c.orders)
            .select_from(co_purchases.outerjoin(products, products.c.product_id == co_purchases.c.other_id))
            .where(co_purchases.c.product_id == product_id)
            .order_by(co_purchases.c.orders.desc(), co_purchases.c.other_id)
            .limit(limit)
        )
        return await self._items(query)

    async def popular(self, limit: int, exclude: str | None = None) -> list[Item]:
        query = select(products.c.product_id, products.c.name, products.c.orders)
        if exclude is not None:
            query = query.where(products.c.product_id != exclude)
        query = query.order_by(products.c.orders.desc(), products.c.units.desc(), products.c.product_id).limit(limit)
        return await self._items(query)

    async def _items(self, query: object) -> list[Item]:
        async with self.engine.connect() as conn:
            return [Item(r[0], r[1], int(r[2])) for r in await conn.execute(query)]
