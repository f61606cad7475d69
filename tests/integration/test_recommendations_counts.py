"""For any set of confirmed orders, the co-purchase count of two products is the number of orders holding both."""

from __future__ import annotations

import asyncio
import uuid
from itertools import permutations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference.events import OrderData
from services.common import db
from services.recommendations.adapters.postgres import PostgresCounts, PostgresRankings
from services.recommendations.app import SCHEMA
from services.recommendations.domain import MAX_LIMIT, basket_of

PRODUCTS = ("a", "b", "c", "d", "e")
line = st.tuples(st.sampled_from(PRODUCTS), st.integers(1, 3))
orders_strategy = st.lists(st.lists(line, min_size=1, max_size=6), max_size=8)


def order_data(prefix: str, lines: list[tuple[str, int]]) -> OrderData:
    return OrderData(
        order_id=uuid.uuid4().hex, customer_sub="s", currency="EUR", total_minor=0, status="confirmed",
        lines=[{"product_id": prefix + p, "name": p, "quantity": q, "unit_price_minor": 1} for p, q in lines],
    )  # fmt: skip


async def count_and_read(url: str, prefix: str, orders: list[list[tuple[str, int]]]) -> dict[tuple[str, str], int]:
    # One event loop per example (asyncio.run), so no pooled connection may outlive it.
    database = await db.Database.connect(url, SCHEMA, max_size=1)
    try:
        for lines in orders:
            async with database.transaction() as conn:
                await PostgresCounts(conn).add(basket_of(order_data(prefix, lines)))
        rankings = PostgresRankings(database)
        counts = {}
        for p in PRODUCTS:
            for item in await rankings.bought_together(prefix + p, MAX_LIMIT):
                counts[(p, item.product_id.removeprefix(prefix))] = item.orders
        return counts
    finally:
        await database.close()


def test_a_pairs_count_is_the_number_of_orders_holding_both(pg_url):
    url = pg_url.replace("postgresql://", "postgresql+psycopg://")
    db.migrate("services.recommendations", url, SCHEMA)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(orders=orders_strategy)
    def check(orders):
        prefix = f"{uuid.uuid4().hex[:8]}-"  # each example counts products of its own in the one database
        counts = asyncio.run(count_and_read(url, prefix, orders))
        for a, b in permutations(PRODUCTS, 2):
            holding_both = sum(1 for lines in orders if a in {p for p, _ in lines} and b in {p for p, _ in lines})
            assert counts.get((a, b), 0) == holding_both, (a, b)

    check()
