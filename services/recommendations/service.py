"""The recommendations service's use cases: count a confirmed order (the consumer's handler), rank what goes along."""

from __future__ import annotations

from collections.abc import Callable

from reference.events import Event, OrderData, payload
from services.common.consumer import UnitOfWork
from services.recommendations import domain
from services.recommendations.ports import Counts, Rankings


class Recommender:
    """``handle(event, uow)`` counts an OrderConfirmed in the consumer's unit of work; the queries read the counts."""

    def __init__(self, rankings: Rankings, counts_for: Callable[[UnitOfWork], Counts]):
        self.rankings = rankings
        self.counts_for = counts_for

    async def handle(self, event: Event, uow: UnitOfWork) -> None:
        domain.counted(event.event_type)
        order = payload(event)
        assert isinstance(order, OrderData)
        await self.counts_for(uow).add(domain.basket_of(order))

    async def for_product(self, product_id: str, limit: int) -> domain.Recommendations:
        together = await self.rankings.bought_together(product_id, limit)
        popular = [] if together else await self.rankings.popular(limit, exclude=product_id)
        return domain.choose(together, popular)

    async def popular(self, limit: int) -> domain.Recommendations:
        return domain.Recommendations("popular", await self.rankings.popular(limit))
