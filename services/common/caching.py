"""How long an answer may be kept by a shared cache: ``Cache-Control`` and ``Age`` (RFC 9111), both ways.

A service says it (``public(max_age_s, age_s)``, ``NO_STORE``; ``DefaultCacheControl`` gives every
answer without its own a default), and a shared cache in front reads it (``lifetime_s``): the time
an answer may still be served, which only shortens what the cache would allow on its own.
"""

from __future__ import annotations

import math
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE = "no-store"
_DIRECTIVE = re.compile(r"\s*([a-z-]+)\s*(?:=\s*\"?(\d+)\"?)?\s*", re.IGNORECASE)
NOT_SHARED = frozenset({"no-store", "private", "no-cache"})


def public(max_age_s: int, age_s: float = 0.0) -> dict[str, str]:
    """The headers of an answer anyone may keep ``max_age_s`` seconds from when it was made, ``age_s`` ago."""
    headers = {"Cache-Control": f"public, max-age={max_age_s}"}
    if age_s > 0:
        headers["Age"] = str(math.ceil(age_s))  # rounded up: a cache that trusts it never keeps the answer longer
    return headers


def directives(cache_control: str | None) -> dict[str, int | None]:
    """``public, max-age=5`` -> ``{"public": None, "max-age": 5}`` (names lower case; malformed parts skipped)."""
    out: dict[str, int | None] = {}
    for part in (cache_control or "").split(","):
        if m := _DIRECTIVE.fullmatch(part):
            out[m.group(1).lower()] = int(m.group(2)) if m.group(2) else None
    return out


def lifetime_s(cache_control: str | None, age: str | None, ceiling_s: float) -> float:
    """How much longer a shared cache may serve an answer: ``s-maxage`` (else ``max-age``) less ``Age``, at most
    ``ceiling_s``; 0 for ``no-store``, ``private`` or ``no-cache``; ``ceiling_s`` when the answer says nothing."""
    given = directives(cache_control)
    if NOT_SHARED & given.keys():
        return 0.0
    max_age = given.get("s-maxage", given.get("max-age"))
    if max_age is None:
        return float(ceiling_s)
    seen = int(age) if age is not None and age.strip().isdigit() else 0
    return float(max(0, min(max_age - seen, ceiling_s)))


class DefaultCacheControl:
    """Pure ASGI middleware: an answer that does not say how long it may be cached gets ``value`` (no-store)."""

    def __init__(self, app: ASGIApp, value: str = NO_STORE):
        self.app = app
        self.value = value.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_default(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    message["headers"] = [*headers, (b"cache-control", self.value)]
            await send(message)

        await self.app(scope, receive, send_with_default)
