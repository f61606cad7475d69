"""The adapters the order service needs, as small abstract classes."""

from __future__ import annotations

import abc
from typing import Any

from services.order.domain import Command, Order


class Orders(abc.ABC):
    """Where orders live. Every change writes its event (and a history row) in the same transaction."""

    @abc.abstractmethod
    async def create(self, order: Order, fingerprint: str, correlation_id: str | None = None) -> tuple[Order, bool]:
        """Store a new pending order and its OrderPlaced event; ``(order, created)``.

        The same id again with the same ``fingerprint`` returns the stored order (``created`` False);
        with another fingerprint it raises ``Conflict``.
        """

    @abc.abstractmethod
    async def get(self, order_id: str) -> Order | None: ...

    @abc.abstractmethod
    async def page(self, customer_sub: str, page: int, page_size: int) -> tuple[list[Order], int]:
        """One page of a customer's orders, newest first, and how many they have in all."""

    @abc.abstractmethod
    async def apply(self, order_id: str, command: Command, **args: Any) -> Order:
        """Run ``command`` through the state machine; raises ``NotFound`` or ``IllegalTransition``."""

    @abc.abstractmethod
    async def ping(self) -> None: ...
