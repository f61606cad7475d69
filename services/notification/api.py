"""The notification service's routes: the caller's own e-mails (public) and every record (internal).

The gateway forwards /api/notifications here with the caller's identity; /internal/... is
never routed from outside (operators, the ledger check and ``python -m services.notification.cli``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from services.common.identity import User
from services.notification.ports import SentEmail, SentEmails

MAX_LIMIT = 100


def _sent(request: Request) -> SentEmails:
    return request.app.state.sent


Sent = Annotated[SentEmails, Depends(_sent)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most this many, newest first")]

public = APIRouter(prefix="/notifications", tags=["notifications"])
internal = APIRouter(prefix="/internal/notifications", tags=["internal"])


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


@public.get("", summary="The e-mails sent to the signed-in caller, newest first")
async def my_emails(user: User, sent: Sent, limit: Limit = 20) -> EmailList:
    return EmailList(items=[EmailOut.of(e) for e in await sent.of_customer(user.sub, limit)])


@internal.get("", summary="Every e-mail sent or skipped, newest first (operators, the ledger check)")
async def all_emails(
    sent: Sent,
    limit: Limit = 20,
    order_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    status: Literal["sent", "skipped"] | None = None,
) -> InternalEmailList:
    rows = await sent.latest(limit, order_id=order_id, status=status)
    return InternalEmailList(items=[InternalEmailOut.of(e) for e in rows])
