"""The notification service's routes: the caller's own e-mails (public) and every record (internal).

The gateway forwards /api/notifications here with the caller's identity; /internal/... is
never routed from outside (operators, the ledger check and ``python -m services.notification.cli``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.common.identity import User
from services.common.types import text
from services.notification.deps import Limit, NotificationsDep
from services.notification.schemas import EmailList, EmailOut, InternalEmailList, InternalEmailOut

public = APIRouter(prefix="/notifications", tags=["notifications"])
internal = APIRouter(prefix="/internal/notifications", tags=["internal"])


@public.get("", summary="The e-mails sent to the signed-in caller, newest first")
async def my_emails(user: User, notifications: NotificationsDep, limit: Limit = 20) -> EmailList:
    return EmailList(items=[EmailOut.of(e) for e in await notifications.emails_of(user.sub, limit)])


@internal.get("", summary="Every e-mail sent or skipped, newest first (operators, the ledger check)")
async def all_emails(
    notifications: NotificationsDep,
    limit: Limit = 20,
    order_id: Annotated[text(min_length=1, max_length=128) | None, Query()] = None,
    status: Literal["sent", "skipped"] | None = None,
) -> InternalEmailList:
    rows = await notifications.records(limit, order_id=order_id, status=status)
    return InternalEmailList(items=[InternalEmailOut.of(e) for e in rows])
