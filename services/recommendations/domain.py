"""What the recommendations service counts and ranks, free of I/O.

A confirmed order is a basket of distinct products. Each unordered pair of them was bought
together once more; each product was ordered once more, in its basket's quantity. Rankings
break ties by product id, so the same counts always give the same answer (and the gateway's
cache holds one answer per URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Literal

from reference.events import OrderData
from services.common.errors import Invalid

DEFAULT_LIMIT = 10
MAX_LIMIT = 50
Source = Literal["bought-together", "popular"]


class NotCounted(Invalid):
    """An event the queue's filter policy should have kept out: it fails, and ends in the DLQ for a look."""


def counted(event_type: str) -> None:
    """Only confirmed orders are counted; raises ``NotCounted`` for anything else."""
    if event_type != "OrderConfirmed":
        raise NotCounted(f"{event_type} is not counted: the queue's filter should not let it in")


@dataclass(frozen=True, slots=True)
class Basket:
    """An order's distinct products: units ordered and the name the order showed, by product id."""

    units: dict[str, int]
    names: dict[str, str]

    def pairs(self) -> list[tuple[str, str]]:
        """Every unordered pair of distinct products, each once, as ``(a, b)`` with ``a < b``."""
        return list(combinations(sorted(self.units), 2))


@dataclass(frozen=True, slots=True)
class Item:
    """A recommended product and its evidence: how many orders (with the other product, or at all) held it."""

    product_id: str
    name: str
    orders: int


@dataclass(frozen=True, slots=True)
class Recommendations:
    source: Source
    items: list[Item]


def basket_of(order: OrderData) -> Basket:
    """The order's lines grouped by product (an order may list one product on two lines)."""
    units: dict[str, int] = {}
    names: dict[str, str] = {}
    for line in order.lines:
        units[line.product_id] = units.get(line.product_id, 0) + line.quantity
        names[line.product_id] = line.name
    return Basket(units, names)


def choose(bought_together: list[Item], popular: list[Item]) -> Recommendations:
    """Bought-together when the product has any co-purchase, else the popular list: a product page never goes empty."""
    if bought_together:
        return Recommendations("bought-together", bought_together)
    return Recommendations("popular", popular)
