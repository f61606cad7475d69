"""The one base of every error a service's rules raise, and its HTTP meaning.

Pure Python (no FastAPI): a domain module subclasses these for its own errors
(``class InsufficientStock(Conflict)``) and stays importable without a web framework.
``services.common.problems`` turns every one into an RFC 9457 problem+json answer with
one handler, so a ``NotFound`` is a 404 in every service, spelled the same way.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A rule said no. ``status``/``title`` are the HTTP answer; ``field`` names the input at fault.

    ``location`` says where that input was (``body``, ``query``, ``path``, ``header``); extension
    members (``**extensions``) are added to the problem body as they are.
    """

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    location: ClassVar[str] = "body"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if status is not None:
            self.status = status  # type: ignore[misc]
        if title is not None:
            self.title = title  # type: ignore[misc]
        self.headers = headers or {}
        self.extensions = extensions


class NotFound(DomainError):
    """The thing asked for does not exist (or is not the caller's to see)."""

    status, title = 404, "Not found"


class Invalid(DomainError):
    """Well-formed input that breaks a rule; ``field`` names it."""

    status, title = 422, "Unprocessable content"


class Conflict(DomainError):
    """The request clashes with the current state (a taken name, too little stock, a used key)."""

    status, title = 409, "Conflict"


class Unauthorized(DomainError):
    status, title = 401, "Unauthorized"

    def __init__(self, detail: str, **extensions: Any):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extensions)


class Forbidden(DomainError):
    status, title = 403, "Forbidden"


class PreconditionFailed(DomainError):
    status, title = 412, "Precondition failed"


class TooManyRequests(DomainError):
    status, title = 429, "Too many requests"


class Unavailable(DomainError):
    """A dependency is down; the caller may retry later."""

    status, title = 503, "Service unavailable"
