"""The Ledger and SentEmails ports on PostgreSQL (Aurora in AWS): statements written in SQLAlchemy Core, compiled
once and run on asyncpg with bound parameters (``services.common.db``, issue 13).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Integer, String, Text, Uuid, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert

from services.common.consumer import UnitOfWork
from services.common.db import Database, Query
from services.notification.adapters.tables import contacts, emails
from services.notification.domain import Contact, Email, Notice
from services.notification.ports import Ledger, SentEmail, SentEmails

CONTACT = Query(select(contacts).where(contacts.c.order_id == bindparam("order_id", type_=String)))
_proposed = insert(contacts).values(
    order_id=bindparam("order_id", type_=String),
    customer_sub=bindparam("customer_sub", type_=String),
    email=bindparam("email", type_=String),
)
# A later event without an address must not erase a known one: an empty or missing address keeps the stored one.
REMEMBER = Query(
    _proposed.on_conflict_do_update(
        index_elements=[contacts.c.order_id],
        set_={
            "customer_sub": _proposed.excluded.customer_sub,
            "email": func.coalesce(func.nullif(_proposed.excluded.email, ""), contacts.c.email),
            "updated_at": func.now(),
        },
    )
)
_RECORDED = (
    "event_id", "event_type", "order_id", "customer_sub", "recipient", "subject", "text_body", "html_body", "status",
    "skip_reason",
)  # fmt: skip
RECORD = Query(emails.insert().values({c: bindparam(c, type_=Uuid if c == "event_id" else Text) for c in _RECORDED}))
MARK_SENT = Query(
    update(emails)
    .where(emails.c.event_id == bindparam("sent_event", type_=Uuid))
    .values(status="sent", ses_message_id=bindparam("message_id", type_=String), sent_at=func.clock_timestamp())
)
_NEWEST = (emails.c.created_at.desc(), emails.c.event_id.desc())
_LIMIT = bindparam("limit", type_=Integer)
OF_CUSTOMER = Query(
    select(emails)
    .where(emails.c.customer_sub == bindparam("sub", type_=String), emails.c.status == "sent")
    .order_by(*_NEWEST)
    .limit(_LIMIT)
)
_order, _status = bindparam("order_id", type_=String), bindparam("status", type_=String)
LATEST = Query(
    select(emails)
    .where(_order.is_(None) | (emails.c.order_id == _order), _status.is_(None) | (emails.c.status == _status))
    .order_by(*_NEWEST)
    .limit(_LIMIT)
)


class PostgresLedger(Ledger):
    """The record, written in the consumer's unit of work: it commits with the event's processed mark."""

    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    async def contact(self, order_id: str) -> Contact | None:
        row = await self.uow.fetchrow(CONTACT, {"order_id": order_id})
        return Contact(row["order_id"], row["customer_sub"], row["email"]) if row else None

    async def remember(self, contact: Contact) -> None:
        params = {"order_id": contact.order_id, "customer_sub": contact.customer_sub, "email": contact.email}
        await self.uow.execute(REMEMBER, params)

    async def record(self, notice: Notice, email: Email | None) -> None:
        await self.uow.execute(
            RECORD,
            {
                "event_id": notice.event_id,
                "event_type": notice.event_type,
                "order_id": notice.order_id,
                "customer_sub": notice.customer_sub,
                "recipient": notice.to,
                "subject": email.subject if email else "",
                "text_body": email.text if email else "",
                "html_body": email.html if email else "",
                "status": "sending" if email else "skipped",
                "skip_reason": notice.skip_reason,
            },
        )

    async def mark_sent(self, event_id: UUID, message_id: str) -> None:
        await self.uow.execute(MARK_SENT, {"sent_event": event_id, "message_id": message_id})


class PostgresSentEmails(SentEmails):
    def __init__(self, database: Database):
        self.database = database

    async def of_customer(self, sub: str, limit: int) -> list[SentEmail]:
        return [_sent(r) for r in await self.database.fetch(OF_CUSTOMER, {"sub": sub, "limit": limit})]

    async def latest(self, limit: int, order_id: str | None = None, status: str | None = None) -> list[SentEmail]:
        params = {"order_id": order_id, "status": status, "limit": limit}
        return [_sent(r) for r in await self.database.fetch(LATEST, params)]


def _sent(row: Any) -> SentEmail:
    return SentEmail(
        event_id=row["event_id"],
        event_type=row["event_type"],
        order_id=row["order_id"],
        customer_sub=row["customer_sub"],
        to=row["recipient"],
        subject=row["subject"],
        text=row["text_body"],
        status=row["status"],
        skip_reason=row["skip_reason"],
        message_id=row["ses_message_id"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
    )
