"""What the order service needs from the outside world: a store of orders, used inside a unit of work.

A state change runs in one ``UnitOfWork`` (``services.common.consumer``): the consumer's, which also
records the event id, or one the service opens for an API call. The store reads and writes orders in
it; the service writes the move's event with ``uow.emit`` in the same transaction.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol
from uuid import UUID

from services.common.consumer import UnitOfWork
from services.order.domain import Order, OrderStatus


class Orders(Protocol):
    """Where orders live, with their lines and the history of the statuses they reached."""

    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A unit of work of its own (an API call's): committed when the block ends, rolled back if it raises."""
        ...

    async def insert(self, uow: UnitOfWork, order: Order, fingerprint: str, event_id: UUID) -> tuple[Order, str, bool]:
        """Store a new pending order and its first history row; ``(stored order, its fingerprint, created)``.

        If the id exists, nothing is written and the stored order is returned (``created`` False).
        Concurrent inserts of one id wait for the first to commit, then see its row.
        """
        ...

    async def lock(self, uow: UnitOfWork, order_id: str) -> Order | None:
        """The order with its lines and history, its row locked until the unit of work ends.

        One read; a second only when a concurrent move committed while this one waited for the lock.
        """
        ...

    async def move(self, uow: UnitOfWork, order: Order, previous: OrderStatus, event_id: UUID) -> Order:
        """Write ``order``'s new status (reached from ``previous``) and its history row; the order as stored."""
        ...

    async def get(self, order_id: str) -> Order | None: ...

    async def page(self, customer_sub: str, page: int, page_size: int) -> tuple[list[Order], int]:
        """One page of a customer's orders, newest first, and how many they have in all."""
        ...
