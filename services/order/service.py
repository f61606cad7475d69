"""The order use cases: what the routes and the payment consumer call.

Each state change runs in one unit of work: the order is read once with its row locked, the
domain decides the move and its event, the store writes the move and the event (to the outbox)
in one statement of that transaction. A route opens that unit of work here; the consumer passes
its own, which also records the event id (``services.common.consumer.IdempotentPolicy``). A new
order and its event are one statement of their own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from services.common.consumer import UnitOfWork
from services.order import domain
from services.order.domain import Command, Decision, Order
from services.order.ports import Orders


class OrderService:
    def __init__(self, orders: Orders, page_size: int = 20):
        self.orders = orders
        self.page_size = page_size

    # ------------------------------------------------------------------ reads

    async def get(self, order_id: str, *, customer_sub: str | None = None) -> Order:
        """The order; with ``customer_sub``, only if it is that customer's (else NotFound, not Forbidden)."""
        order = await self.orders.get(order_id)
        if order is None or (customer_sub is not None and order.customer_sub != customer_sub):
            # 404 rather than 403: whether someone else's order id exists is not the caller's business.
            raise domain.NotFound(f"no order {order_id}", field="order_id")
        return order

    async def page(self, customer_sub: str, page: int, page_size: int | None = None) -> dict[str, Any]:
        """One page of a customer's orders, newest first: ``{items, page, page_size, total, next_page}``."""
        size = page_size or self.page_size
        items, total = await self.orders.page(customer_sub, page, size)
        return {
            "items": items,
            "page": page,
            "page_size": size,
            "total": total,
            "next_page": page + 1 if page * size < total else None,
        }

    # ------------------------------------------------------------------ changes

    async def place(self, order: Order, fingerprint: str, correlation_id: str | None = None) -> tuple[Order, bool]:
        """Create a pending order and its OrderPlaced event; the same id and body again return it unchanged."""
        domain.check_totals(order)
        event = domain.event(order, None, correlation_id)
        stored, stored_fingerprint, created = await self.orders.insert(order, fingerprint, event)
        if not created and stored_fingerprint != fingerprint:
            raise domain.OrderIdReused(order.id)
        return stored, created

    async def apply(self, order_id: str, command: Command, **args: Any) -> Order:
        """Run ``command`` through the state machine in a transaction of its own; the order after it."""
        async with self.orders.transaction() as uow:
            order = await self.lock(uow, order_id)
            return (await self.transition(uow, order, command, **args)).order

    async def lock(self, uow: UnitOfWork, order_id: str) -> Order:
        """The order, read once and locked until ``uow`` ends; NotFound if there is none."""
        order = await self.orders.lock(uow, order_id) if order_id else None
        if order is None:
            raise domain.NotFound(f"no order {order_id}", field="order_id")
        return order

    async def transition(
        self,
        uow: UnitOfWork,
        order: Order,
        command: Command,
        *,
        payment_id: str | None = None,
        reason: str | None = None,
        correlation_id: str | None = None,
    ) -> Decision:
        """Move ``order`` (locked in ``uow``) by ``command``: its new status, history row and event, or nothing
        for a repeat. Raises ``IllegalTransition`` (or ``Conflict``) and writes nothing when refused."""
        decision = domain.decide(order, command, payment_id=payment_id, reason=reason)
        if not decision.changed:
            return decision
        event = domain.event(decision.order, order.status, correlation_id)
        moved = await self.orders.move(uow, decision.order, order.status, event)
        return replace(decision, order=moved)
