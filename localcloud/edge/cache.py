"""A CloudFront-like cache: keys from the behaviour's cache policy, TTLs from Cache-Control within the policy's bounds.

CloudFront's rules (Developer Guide, "Manage how long content stays in the cache"): ``s-maxage``
or ``max-age`` is clamped between the policy's minimum and maximum TTL; without either, the
default TTL applies; ``no-cache``, ``no-store`` or ``private`` mean "do not cache" only when the
minimum TTL is 0, otherwise the object stays for the minimum TTL. A policy whose maximum TTL is 0
(CachingDisabled) caches nothing. Requests with an Authorization header the cache key does not
include are never served from or stored in the cache.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from reference.edge import CachePolicy

T = TypeVar("T")
_DIRECTIVE = re.compile(r"\s*([a-z-]+)\s*(?:=\s*\"?(\d+)\"?)?\s*", re.IGNORECASE)


@dataclass(slots=True)
class Stored:
    """An origin response as the edge keeps it."""

    status: int
    headers: list[tuple[str, str]]  # names lower case
    body: bytes
    stored_at: float = 0.0
    ttl: float = 0.0

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers)


def ttl(policy: CachePolicy, cache_control: str | None) -> float:
    """How long CloudFront keeps a response with this Cache-Control under this policy (0: not at all)."""
    if not policy.caches:
        return 0.0
    directives: dict[str, int | None] = {}
    for part in (cache_control or "").split(","):
        if m := _DIRECTIVE.fullmatch(part):
            directives[m.group(1).lower()] = int(m.group(2)) if m.group(2) else None
    if {"no-cache", "no-store", "private"} & directives.keys():
        return float(policy.min_ttl)
    age = directives.get("s-maxage", directives.get("max-age"))
    if age is None:
        return float(policy.default_ttl)
    return float(min(max(age, policy.min_ttl), policy.max_ttl))


def cache_key(policy: CachePolicy, path: str, query: str, headers: dict[str, str]) -> tuple[str, ...] | None:
    """The cache key, or None when the request may not use the cache."""
    if "authorization" in headers and "authorization" not in policy.key_headers:
        return None
    key = (path, query if policy.key_query else "")
    return key + tuple(headers.get(h, "") for h in policy.key_headers)


class EdgeCache:
    """Objects by key, least recently used evicted past ``max_bytes``; concurrent misses share one origin fetch."""

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic):
        self.max_bytes = max_bytes
        self.clock = clock
        self._entries: OrderedDict[tuple[str, ...], Stored] = OrderedDict()
        self._bytes = 0
        self._fetching: dict[tuple[str, ...], asyncio.Future[object]] = {}

    def get(self, key: tuple[str, ...]) -> Stored | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() - entry.stored_at >= entry.ttl:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def age(self, entry: Stored) -> int:
        return int(self.clock() - entry.stored_at)

    def put(self, key: tuple[str, ...], entry: Stored, ttl_s: float) -> bool:
        if ttl_s <= 0 or entry.size > self.max_bytes:
            return False
        entry.stored_at, entry.ttl = self.clock(), ttl_s
        if key in self._entries:
            self._drop(key)
        self._entries[key] = entry
        self._bytes += entry.size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    async def fetch_once(self, key: tuple[str, ...], fetch: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The origin's answer for ``key``; True when this call fetched it (concurrent callers wait for it)."""
        pending = self._fetching.get(key)
        if pending is not None:
            return await asyncio.shield(pending), False  # type: ignore[return-value]
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._fetching[key] = future
        try:
            result = await fetch()
            future.set_result(result)
            return result, True
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            del self._fetching[key]

    def invalidate(self, paths: list[str]) -> int:
        """CloudFront's invalidation: drop objects whose path equals a given path, or starts with one ending in *."""
        doomed = [
            key for key in self._entries
            if any(key[0].startswith(p[:-1]) if p.endswith("*") else key[0] == p for p in paths)
        ]  # fmt: skip
        for key in doomed:
            self._drop(key)
        return len(doomed)

    @property
    def bytes(self) -> int:
        return self._bytes

    def _drop(self, key: tuple[str, ...]) -> None:
        self._bytes -= self._entries.pop(key).size

    def __len__(self) -> int:
        return len(self._entries)
