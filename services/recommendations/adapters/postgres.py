"""The Counts and Rankings ports on PostgreSQL (Aurora in AWS): statements written in SQLAlchemy Core, compiled
once and run on asyncpg (``services.common.db``).

Counters are upserts (``orders = orders + 1``), written in key order so two consumers
counting overlapping baskets lock rows in the same order and cannot deadlock. A basket's counts are two
statements built once (issue 13): its rows arrive as arrays, unnested and written in key order, whatever their count.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String, bindparam, column, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, insert

from services.common.consumer import UnitOfWork
from services.common.db import Database, Query, Session
from services.recommendations.adapters.tables import co_purchases, products
from services.recommendations.domain import Basket, Item
from services.recommendations.ports import Counts, Rankings

_basket = (
    func.unnest(
        bindparam("basket_ids", type_=ARRAY(String)),
        bindparam("basket_names", type_=ARRAY(String)),
        bindparam("basket_units", type_=ARRAY(BigInteger)),
    )
    .table_valued(column("product_id", String), column("name", String), column("units", BigInteger))
    .render_derived(name="basket")
)
_counted = insert(products).from_select(
    ["product_id", "name", "orders", "units"],
    select(_basket.c.product_id, _basket.c.name, literal(1, BigInteger), _basket.c.units).order_by(
        _basket.c.product_id
    ),
)
COUNT_PRODUCTS = Query(
    _counted.on_conflict_do_update(
        index_elements=[products.c.product_id],
        set_={
            "name": _counted.excluded.name,
            "orders": products.c.orders + 1,
            "units": products.c.units + _counted.excluded.units,
            "updated_at": func.now(),
        },
    )
)
_pairs = (
    func.unnest(bindparam("pair_ids", type_=ARRAY(String)), bindparam("pair_others", type_=ARRAY(String)))
    .table_valued(column("product_id", String), column("other_id", String))
    .render_derived(name="pair")
)
COUNT_PAIRS = Query(
    insert(co_purchases)
    .from_select(
        ["product_id", "other_id", "orders"],
        select(_pairs.c.product_id, _pairs.c.other_id, literal(1, BigInteger)).order_by(
            _pairs.c.product_id, _pairs.c.other_id
        ),
    )
    .on_conflict_do_update(
        index_elements=[co_purchases.c.product_id, co_purchases.c.other_id],
        set_={"orders": co_purchases.c.orders + 1},
    )
)
_LIMIT = bindparam("limit", type_=BigInteger)
BOUGHT_TOGETHER = Query(
    select(co_purchases.c.other_id, func.coalesce(products.c.name, ""), co_purchases.c.orders)
    .select_from(co_purchases.outerjoin(products, products.c.product_id == co_purchases.c.other_id))
    .where(co_purchases.c.product_id == bindparam("product_id", type_=String))
    .order_by(co_purchases.c.orders.desc(), co_purchases.c.other_id)
    .limit(_LIMIT)
)
_exclude = bindparam("exclude", type_=String)
POPULAR = Query(
    select(products.c.product_id, products.c.name, products.c.orders)
    .where(_exclude.is_(None) | (products.c.product_id != _exclude))
    .order_by(products.c.orders.desc(), products.c.units.desc(), products.c.product_id)
    .limit(_LIMIT)
)


class PostgresCounts(Counts):
    """Counts written in the consumer's unit of work (or any connection in a transaction)."""

    def __init__(self, conn: UnitOfWork | Session):
        self.conn = conn

    async def add(self, basket: Basket) -> None:
        if not basket.units:
            return
        ids = sorted(basket.units)
        await self.conn.execute(
            COUNT_PRODUCTS,
            {
                "basket_ids": ids,
                "basket_names": [basket.names[p][:200] for p in ids],
                "basket_units": [basket.units[p] for p in ids],
            },
        )
        pairs = sorted({(a, b) for a, b in basket.pairs()} | {(b, a) for a, b in basket.pairs()})
        if pairs:
            await self.conn.execute(
                COUNT_PAIRS, {"pair_ids": [a for a, _ in pairs], "pair_others": [b for _, b in pairs]}
            )


class PostgresRankings(Rankings):
    def __init__(self, database: Database):
        self.database = database

    async def bought_together(self, product_id: str, limit: int) -> list[Item]:
        return _items(await self.database.fetch(BOUGHT_TOGETHER, {"product_id": product_id, "limit": limit}))

    async def popular(self, limit: int, exclude: str | None = None) -> list[Item]:
        return _items(await self.database.fetch(POPULAR, {"exclude": exclude, "limit": limit}))


def _items(rows: list[Any]) -> list[Item]:
    return [Item(r[0], r[1], int(r[2])) for r in rows]
