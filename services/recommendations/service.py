"""The consumer's handler and the queries: counting confirmed orders, ranking what goes with a product."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from reference.events import Event, OrderData, payload
from services.recommendations import domain
from services.recommendations.ports import Counts, Rankings


class Recommender:
    """``await recommender(event, conn)`` counts an OrderConfirmed; the queries read the counts."""

    def __init__(self, rankings: Rankings, counts_for: Callable[[AsyncConnection], Counts]):
        self.rankings = rankings
        self.counts_for = counts_for

    async def __call__(self, event: Event, conn: AsyncConnection) -> None:
        if event.event_type != "OrderConfirmed":
            raise ValueError(f"{event.event_type} is not counted: the queue's filter should not let it in")
        order = payload(event)
        assert isinstance(order, OrderData)
        await self.counts_for(conn).add(domain.basket_of(order))

    async def for_product(self, product_id: str, limit: int) -> domain.Recommendations:
        together = await self.rankings.bought_together(product_id, limit)
        popular = [] if together else await self.rankings.popular(limit, exclude=product_id)
        return domain.choose(together, popular)

    async def popular(self, limit: int) -> domain.Recommendations:
        return domain.Recommendations("popular", await self.rankings.popular(limit))
