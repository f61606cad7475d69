"""Per-request context: the request id that ties logs and calls across services together."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-Id"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

request_id: ContextVar[str] = ContextVar("request_id", default="-")


def new_request_id(given: str | None) -> str:
    """Keep a caller's well-formed id (so a trace spans services), else make one."""
    if given and _VALID.match(given):
        return given
    return uuid.uuid4().hex
