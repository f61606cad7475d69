"""What the order service needs from the outside world: a store of orders, used inside a unit of work.

A state change runs in one ``UnitOfWork`` (``services.common.consumer``): the consumer's, which also
records the event id, or one the service opens for an API call. The store reads and writes orders in
it, and writes the move's event (to the outbox) with the move, in the same statement.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from reference.events import Event
from services.common.consumer import UnitOfWork
from services.order.domain import Order, OrderStatus


class Orders(Protocol):
    """Where orders live, with their lines and the history of the statuses they reached."""

    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A unit of work of its own (an API call's): committed when the block ends, rolled back if it raises."""
        ...

    async def insert(self, order: Order, fingerprint: str, event: Event) -> tuple[Order, str, bool]:
        """Store a new pending order, its first history row and ``event`` (its OrderPlaced) in a transaction of
        their own; ``(stored order, its fingerprint, created)``.

        If the id exists, nothing is written and the stored order is returned (``created`` False).
        Concurrent inserts of one id wait for the first to commit, then see its row.
        """
        ...

    async def lock(self, uow: UnitOfWork, order_id: str) -> Order | None:
        """The order with its lines and history, its row locked until the unit of work ends.

        One read; a second only when a concurrent move committed while this one waited for the lock.
        """
        ...

    async def move(self, uow: UnitOfWork, order: Order, previous: OrderStatus, event: Event) -> Order:
        """Write ``order``'s new status (reached from ``previous``), its history row and ``event``; the order as
        stored."""
        ...

    async def get(self, order_id: str) -> Order | None: ...

    async def page(self, customer_sub: str, page: int, page_size: int) -> tuple[list[Order], int]:
        """One page of a customer's orders, newest first, and how many they have in all."""
        ...
