"""The Ledger and SentEmails ports on PostgreSQL (Aurora in AWS): SQLAlchemy 2 Core, async (asyncpg).

What each event writes runs as statements built once, with bound parameters (issue 13). A parameter is never
named as a column an INSERT or UPDATE leaves unset: SQLAlchemy would write the column.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import String, Text, Uuid, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.consumer import UnitOfWork
from services.notification.adapters.tables import contacts, emails
from services.notification.domain import Contact, Email, Notice
from services.notification.ports import Ledger, SentEmail, SentEmails

CONTACT = select(contacts).where(contacts.c.order_id == bindparam("order_id", type_=String))
_proposed = insert(contacts).values(
    order_id=bindparam("order_id", type_=String),
    customer_sub=bindparam("customer_sub", type_=String),
    email=bindparam("email", type_=String),
)
# A later event without an address must not erase a known one: an empty or missing address keeps the stored one.
REMEMBER = _proposed.on_conflict_do_update(
    index_elements=[contacts.c.order_id],
    set_={
        "customer_sub": _proposed.excluded.customer_sub,
        "email": func.coalesce(func.nullif(_proposed.excluded.email, ""), contacts.c.email),
        "updated_at": func.now(),
    },
)
_RECORDED = (
    "event_id", "event_type", "order_id", "customer_sub", "recipient", "subject", "text_body", "html_body", "status",
    "skip_reason",
)  # fmt: skip
RECORD = emails.insert().values({c: bindparam(c, type_=Uuid if c == "event_id" else Text) for c in _RECORDED})
MARK_SENT = (
    update(emails)
    .where(emails.c.event_id == bindparam("sent_event", type_=Uuid))
    .values(status="sent", ses_message_id=bindparam("message_id", type_=String), sent_at=func.clock_timestamp())
)


class PostgresLedger(Ledger):
    """The record, written in the consumer's unit of work: it commits with the event's processed mark."""

    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    async def contact(self, order_id: str) -> Contact | None:
        row = (await self.uow.execute(CONTACT, {"order_id": order_id})).first()
        return Contact(row.order_id, row.customer_sub, row.email) if row else None

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
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def of_customer(self, sub: str, limit: int) -> list[SentEmail]:
        query = select(emails).where(emails.c.customer_sub == sub, emails.c.status == "sent")
        return await self._rows(query, limit)

    async def latest(self, limit: int, order_id: str | None = None, status: str | None = None) -> list[SentEmail]:
        query = select(emails)
        if order_id is not None:
            query = query.where(emails.c.order_id == order_id)
        if status is not None:
            query = query.where(emails.c.status == status)
        return await self._rows(query, limit)

    async def _rows(self, query: Any, limit: int) -> list[SentEmail]:
        query = query.order_by(emails.c.created_at.desc(), emails.c.event_id.desc()).limit(limit)
        async with self.engine.connect() as conn:
            return [_sent(r._mapping) for r in await conn.execute(query)]


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
