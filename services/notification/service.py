"""The notification service's use cases: e-mail one event (the consumer's handler) and read the record back.

Sending and the database cannot commit together, so the order of steps decides what a crash
costs. ``handle`` runs inside the consumer's unit of work (which also records the event id):

1. render the e-mail (a broken template raises: nothing is sent, the event is redelivered);
2. write its row (status "sending") in the unit of work;
3. send it through SES (a refusal raises: the row rolls back, the event is redelivered and,
   after the queue's 5 receives, dead-lettered);
4. mark the row "sent" with SES's message id; the consumer then commits.

So a committed row always means "SES accepted it". The one window left is between 3 and the
commit: if the process dies there (or the commit fails), SES has sent but the event id is
not recorded, and the redelivery sends a second copy. At-least-once, with duplicates only
from a crash inside one SES call's return and a commit: rare, and harmless for these
e-mails. (Sending after the commit instead would make the window "sent never"; a lost
e-mail is worse than a doubled one here.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from reference.events import Event
from services.common.consumer import UnitOfWork
from services.notification import domain
from services.notification.ports import Ledger, Mailer, SentEmail, SentEmails, Templates

log = logging.getLogger("services.notification")


class Notifications:
    """``handle(event, uow)`` is the handler of the "notification" queue; the queries read what was sent."""

    def __init__(
        self, templates: Templates, mailer: Mailer, ledger_for: Callable[[UnitOfWork], Ledger], sent: SentEmails
    ):
        self.templates = templates
        self.mailer = mailer
        self.ledger_for = ledger_for
        self.sent = sent

    async def handle(self, event: Event, uow: UnitOfWork) -> None:
        ledger = self.ledger_for(uow)
        contact = domain.contact_of(event)
        if contact is not None:
            await ledger.remember(contact)
        notice = domain.notice_for(event, contact or await ledger.contact(_order_id(event)))
        if notice.to is None:
            log.warning("%s %s skipped: %s", event.event_type, event.event_id, notice.skip_reason)
            await ledger.record(notice, None)
            return
        email = self.templates.render(notice.template, notice.to, notice.values)
        await ledger.record(notice, email)
        message_id = await self.mailer.send(email)
        await ledger.mark_sent(event.event_id, message_id)
        log.info("%s %s: e-mail %s sent", event.event_type, event.event_id, message_id)

    async def emails_of(self, customer_sub: str, limit: int) -> list[SentEmail]:
        """The e-mails sent to one customer, newest first (skipped events are not theirs to see)."""
        return await self.sent.of_customer(customer_sub, limit)

    async def records(self, limit: int, order_id: str | None = None, status: str | None = None) -> list[SentEmail]:
        """Every e-mail sent or skipped, newest first (operators, the ledger check)."""
        return await self.sent.latest(limit, order_id=order_id, status=status)


def _order_id(event: Event) -> str:
    return str(event.data.get("order_id", event.subject))
