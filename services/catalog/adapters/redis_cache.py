"""A read-through cache of serialized responses on Redis (ElastiCache; Valkey locally).

Product pages are cached under ``<prefix>product:<id>`` and deleted when the product or
its stock changes. Listings and categories are cached under keys that include a
generation number (``<prefix>gen``), which every catalog write increments: one INCR
retires every listing at once, without scanning keys, and a listing computed before the
write can never be stored under the new generation. Redis is an optimisation, never a
dependency: a failing or slow Redis makes every call a miss (for ``retry_after_s``
before it is tried again), and the service answers from the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError

from services.catalog.ports import Cache

log = logging.getLogger("services.catalog.cache")


class RedisCache(Cache):
    def __init__(self, client: redis.Redis, prefix: str, ttl_s: int, retry_after_s: float = 5.0):
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s
        self._skip_until = 0.0

    @classmethod
    def from_url(cls, url: str, prefix: str, ttl_s: int, *, timeout_s: float, retry_after_s: float) -> RedisCache:
        client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, health_check_interval=30
        )
        return cls(client, prefix, ttl_s, retry_after_s)

    def product_key(self, product_id: str) -> str:
        return f"{self.prefix}product:{product_id}"

    def listing_key(self, generation: int, *parts: object) -> str:
        return f"{self.prefix}g{generation}:" + ":".join(str(p) for p in parts)

    async def get(self, key: str) -> bytes | None:
        if self._skipping():
            return None
        try:
            return await self.client.get(key)
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            return None

    async def set(self, key: str, value: bytes) -> None:
        if self._skipping():
            return
        try:
            await self.client.set(key, value, ex=self.ttl_s)
        except (RedisError, OSError) as exc:
            self._failed("set", exc)

    async def generation(self) -> int:
        """The current listing generation; -1 when Redis cannot say (the caller then skips the cache)."""
        if self._skipping():
            return -1
        try:
            value = await self.client.get(f"{self.prefix}gen")
        except (RedisError, OSError) as exc:
            self._failed("generation", exc)
            return -1
        return int(value or 0)

    async def invalidate(self, product_ids: Sequence[str] = (), listings: bool = True) -> None:
        # Invalidation is attempted even while reads skip Redis: a stale entry is worse than a slow write.
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                if product_ids:
                    pipe.delete(*(self.product_key(p) for p in product_ids))
                if listings:
                    pipe.incr(f"{self.prefix}gen")
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Entries written before this stay until their TTL: the documented bound on staleness.
            self._failed("invalidate", exc)

    async def close(self) -> None:
        await self.client.aclose()

    def _skipping(self) -> bool:
        return self._skip_until > time.monotonic()

    def _failed(self, op: str, exc: BaseException) -> None:
        self._skip_until = time.monotonic() + self.retry_after_s
        log.warning("cache %s failed; serving from the database", op, extra={"error": f"{type(exc).__name__}: {exc}"})
