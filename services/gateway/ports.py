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
    async def admit(self, limits: Sequence[Limit], cache_key: str | None) -> Admission:
        """Count the request against every limit (all or none) and, if admitted, look up ``cache_key``."""

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
