"""The consumer of the order-payments queue: payment outcomes move orders along.

``PaymentCaptured`` moves a confirmed order to paid, ``PaymentRefunded`` a paid or fulfilled
one to refunded. The handler runs in the consumer's transaction, which also records the
event id, so a redelivered event changes nothing. Odd events never loop forever:

- already done (the order reached the target before, e.g. a second capture callback with a
  new event id): nothing to do, acknowledged;
- not yet possible but still reachable (a capture for a pending order, a refund arriving
  before its capture: SNS and SQS do not keep order): raised, so SQS redelivers it after the
  visibility timeout, and after the queue's maxReceiveCount it rests in the DLQ;
- never possible (the order was cancelled, or the payment is not the order's): logged as an
  error to act on (money may need returning) and acknowledged;
- unknown order, or data without an order id: raised, so it ends in the DLQ.
"""

from __future__ import annotations

import logging

from reference.events import Event
from services.common.consumer import Handler, UnitOfWork
from services.order import domain
from services.order.domain import Command
from services.order.service import OrderService

log = logging.getLogger("services.order.payments")
QUEUE = "order-payments"
COMMANDS = {"PaymentCaptured": Command.PAY, "PaymentRefunded": Command.REFUND}


class UnknownOrder(Exception):
    """The event names no order this service has: left for redelivery and the DLQ."""


class NotYet(Exception):
    """The order cannot take this event yet (it may later): left for redelivery and the DLQ."""


def handler(orders: OrderService) -> Handler:
    """The consumer's handler ``(event, uow)``: one locked read of the order, then the move, in ``uow``."""

    async def handle(event: Event, uow: UnitOfWork) -> None:
        command = COMMANDS.get(event.event_type)
        if command is None:
            log.info("ignoring %s: not an event this queue is for", event.event_type)
            return
        order_id = str(event.data.get("order_id") or "")
        payment_id = event.data.get("payment_id")
        extra = {"order_id": order_id, "payment_id": payment_id, "event_id": str(event.event_id)}
        try:
            order = await orders.lock(uow, order_id)
        except domain.NotFound:
            raise UnknownOrder(f"{event.event_type} {event.event_id} names unknown order {order_id!r}") from None
        if payment_id and order.payment_id and payment_id != order.payment_id:
            log.error("%s for a payment that is not the order's: needs a refund by hand", event.event_type, extra=extra)
            return
        if (event.data.get("amount_minor"), event.data.get("currency")) != (order.total_minor, order.currency):
            log.warning("%s amount differs from the order total", event.event_type, extra=extra)
        try:
            await orders.transition(uow, order, command, correlation_id=event.correlation_id)
        except domain.IllegalTransition as exc:
            if domain.reachable(exc.frm, exc.to):
                raise NotYet(f"order {order_id} is {exc.frm}; {event.event_type} will be retried") from exc
            log.error(
                "%s for an order that is %s can never apply: acknowledged, act on it by hand",
                event.event_type,
                exc.frm,
                extra=extra,
            )

    return handle
