"""The JSON shapes of the notification API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from services.notification.ports import SentEmail


class EmailOut(BaseModel):
    event_id: UUID
    event_type: str
    order_id: str
    to: str | None
    subject: str
    body: str
    status: str
    skip_reason: str | None = None
    message_id: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, e: SentEmail) -> EmailOut:
        return cls(
            event_id=e.event_id, event_type=e.event_type, order_id=e.order_id, to=e.to, subject=e.subject,
            body=e.text, status=e.status, skip_reason=e.skip_reason, message_id=e.message_id,
            created_at=e.created_at, sent_at=e.sent_at,
        )  # fmt: skip


class EmailList(BaseModel):
    items: list[EmailOut]


class InternalEmailOut(EmailOut):
    customer_sub: str | None

    @classmethod
    def of(cls, e: SentEmail) -> InternalEmailOut:
        return cls(**EmailOut.of(e).model_dump(), customer_sub=e.customer_sub)


class InternalEmailList(BaseModel):
    items: list[InternalEmailOut]
