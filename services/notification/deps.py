"""The notification routes' dependencies, as ``Annotated`` aliases reading what the app's parts built."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from services.common.types import query_int
from services.notification.service import Notifications

MAX_LIMIT = 100


def _notifications(request: Request) -> Notifications:
    return request.app.state.notifications


NotificationsDep = Annotated[Notifications, Depends(_notifications)]
Limit = Annotated[query_int(ge=1, le=MAX_LIMIT), Query(description="at most this many, newest first")]
