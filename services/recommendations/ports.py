"""What the recommendations service needs from outside: a place to count in and to rank from."""

from __future__ import annotations

import abc

from services.recommendations.domain import Basket, Item


class Counts(abc.ABC):
    """Counting inside one consumer transaction: it commits with the event's processed mark."""

    @abc.abstractmethod
    async def add(self, basket: Basket) -> None:
        """One more order of each product (its units) and one more co-purchase of each pair, both directions."""


class Rankings(abc.ABC):
    @abc.abstractmethod
    async def bought_together(self, product_id: str, limit: int) -> list[Item]:
        """The products most often ordered with ``product_id``, most first, ties by product id."""

    @abc.abstractmethod
    async def popular(self, limit: int, exclude: str | None = None) -> list[Item]:
        """The products in most orders (then most units), ties by product id."""
