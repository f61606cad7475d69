"""The consumer's handler: one event in, at most one e-mail out, and a row that says what happened.

Sending and the database cannot commit together, so the order of steps decides what a crash
costs. The handler runs inside the consumer's transaction (which also records the event id):

1. render the e-mail (a broken template raises: nothing is sent, the event is redelivered);
2. write its row (status "sending") on the transaction's connection;
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

from sqlalchemy.ext.asyncio import AsyncConnection

from reference.events import Event
from services.notification import domain
from services.notification.ports import Ledger, Mailer, Templates

log = logging.getLogger("services.notification")


class Notifier:
    """``await notifier(event, conn)``: the handler services.common.consumer.Consumer calls."""

    def __init__(self, templates: Templates, mailer: Mailer, ledger_for: Callable[[AsyncConnection], Ledger]):
        self.templates = templates
        self.mailer = mailer
        self.ledger_for = ledger_for

    async def __call__(self, event: Event, conn: AsyncConnection) -> None:
        ledger = self.ledger_for(conn)
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


def _order_id(event: Event) -> str:
    return str(event.data.get("order_id", event.subject))
