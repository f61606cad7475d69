"""What the gateway needs from the outside world, as small abstract classes; adapters/ holds the real ones."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.gateway.domain import Limit


@dataclass(frozen=True, slots=True)
class Cached:
    """A stored anonymous response: its body, content type, Cache-Control, and when it was made (unix seconds)."""

    body: bytes
    content_type: str
    cache_control: str = ""
    made_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Admission:
    """The rate limiter's answer; ``cached`` is the cache entry looked up in the same round trip, if asked."""

    allowed: bool
    wait_ms: int = 0
    cached: Cached | None = None
    revoked: bool = False  # the access token is on the deny-list (signed out): refused before any limit is spent


@dataclass(frozen=True, slots=True)
class Reply:
    """An upstream service's answer, body read in full."""

    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes


class UpstreamDown(Exception):
    """The service could not be reached (connection refused or reset)."""


class UpstreamTimeout(Exception):
    """The service did not answer in time."""


class KeysUnavailable(Exception):
    """The signing keys could not be fetched: tokens cannot be checked now (an outage, not the client's fault)."""


class TokenVerifier(abc.ABC):
    @abc.abstractmethod
    async def claims(self, token: str) -> Mapping[str, object]:
        """The claims of a token whose signature, issuer and expiry hold; raises InvalidToken otherwise."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise unless the signing keys can be fetched."""


class Edge(abc.ABC):
    """Rate limits and the response cache, which share one store so a request costs one round trip."""

    @abc.abstractmethod
    async def admit(self, limits: Sequence[Limit], cache_key: str | None, revoked_key: str | None = None) -> Admission:
        """Count the request against every limit (all or none) and, if admitted, look up ``cache_key``; a request
        whose ``revoked_key`` is on the deny-list is answered ``revoked`` and spends nothing."""

    @abc.abstractmethod
    async def store(self, cache_key: str, cached: Cached, ttl_s: float) -> None:
        """Keep a response for ``ttl_s`` seconds (to the millisecond)."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise unless the store answers."""


class Upstream(abc.ABC):
    @abc.abstractmethod
    async def send(
        self, service: str, method: str, path: str, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> Reply:
        """Send one request to ``service``; raises UpstreamDown or UpstreamTimeout on an outage."""


class SessionsUnavailable(Exception):
    """The session store or the key service cannot be reached: a browser session cannot be read now."""


class SessionStore(abc.ABC):
    """Sealed browser sessions by the digest of their id, and the deny-list of signed-out access tokens."""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None:
        """The sealed session, None when it ended or never was."""

    @abc.abstractmethod
    async def put(self, key: str, sealed: bytes, ttl_s: int | None) -> None:
        """Keep a session for ``ttl_s`` seconds; None replaces an existing one and keeps its expiry."""

    @abc.abstractmethod
    async def delete(self, key: str) -> bool:
        """End a session at once; True when there was one."""

    @abc.abstractmethod
    async def deny(self, key: str, ttl_s: int) -> None:
        """Put an access token's revocation key on the deny-list for ``ttl_s`` seconds (its remaining life)."""


class Sealer(abc.ABC):
    """Authenticated encryption of a session at rest, bound to ``aad`` (the session's key)."""

    @abc.abstractmethod
    async def seal(self, plaintext: bytes, aad: bytes) -> bytes: ...

    @abc.abstractmethod
    async def open(self, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext; raises SessionsUnavailable when the key service is down, ValueError when tampered."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise unless a data key can be had."""


class TokenRevoker(abc.ABC):
    @abc.abstractmethod
    async def revoke(self, refresh_token: str, access_token: str) -> str:
        """Revoke a refresh token at the identity provider; returns how (``RevokeToken`` or a fallback)."""
