"""The body guard every service (and the gateway) runs: content type and size, before any handler reads a byte.

A route's accepted content types and size limit come from ``reference/bodies.py`` (JSON of at most
1 MiB unless a route is named there, like the product image upload). A declared ``Content-Length``
over the limit is refused at once; a body without one (``Transfer-Encoding: chunked``) is counted
as it streams in and refused with 413 the moment it passes the limit, without reading the rest.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference.bodies import JSON_TYPES, body_rule
from services.common import problems

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ContentTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit; answered as a 413 problem."""

    def __init__(self, limit: int):
        super().__init__(413, f"the body may be at most {limit} bytes")


class BodyGuard:
    """Pure ASGI middleware: 415 for a content type the route does not take, 413 past its size limit (any method).

    ``path_prefix`` is stripped before the route's rule is looked up (the gateway's ``/api``);
    ``allowed_types`` are what a route without a rule of its own takes.
    """

    def __init__(self, app: ASGIApp, allowed_types: tuple[str, ...] = JSON_TYPES, path_prefix: str = ""):
        self.app = app
        self.allowed = allowed_types
        self.prefix = path_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = header(scope, b"content-length")
        chunked = header(scope, b"transfer-encoding") is not None
        if length in (None, "0") and not chunked:
            await self.app(scope, receive, send)  # no body: nothing to guard (the common GET)
            return
        path: str = scope["path"]
        if self.prefix and path.startswith(self.prefix + "/"):
            path = path[len(self.prefix) :]
        rule = body_rule(scope["method"], path)
        allowed = rule.types if rule.path != "*" else self.allowed
        limit = rule.max_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            await refuse(scope, receive, send, 413, "Content too large", f"the body may be at most {limit} bytes")
            return
        ctype = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if scope["method"] in BODY_METHODS and ctype not in allowed:
            detail = f"content type {ctype or '(none)'} is not accepted here; send {' or '.join(allowed)}"
            await refuse(scope, receive, send, 415, "Unsupported media type", detail)
            return
        if length is not None:
            await self.app(scope, receive, send)  # the server delivers no more than it declared
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise ContentTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except ContentTooLarge as exc:
            # Usually answered inside the app (FastAPI re-raises HTTPException, the problem handler answers);
            # this catches a reader outside it.
            if started:
                raise
            await refuse(scope, receive, send, 413, "Content too large", str(exc.detail))


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, title: str, detail: str) -> None:
    response = problems.problem_response(status, title, detail, field="body")
    await response(scope, receive, send)
