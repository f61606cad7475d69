"""A read-through cache of serialized responses on Redis (ElastiCache; Valkey locally).

The keys are the service's (``service.product_key``, ``service.listing_key``); this adapter adds its
prefix. Each entry is stored with the time it was stored (``<unix seconds>\\n<body>``), so a hit says
its age and the catalog's ``Age`` header is true. Listings and categories sit under keys that include
a generation number (``<prefix>gen``), which every listing-changing write increments: one INCR retires
every listing at once, without scanning keys. Redis is an optimisation, never a dependency: a failing
or slow Redis makes every call a miss (for ``retry_after_s`` before it is tried again), and the service
answers from the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError

from services.catalog.ports import Cache, Cached

log = logging.getLogger("services.catalog.cache")


class RedisCache(Cache):
    def __init__(self, client: redis.Redis, prefix: str, retry_after_s: float = 5.0):
        self.client = client
        self.prefix = prefix
        self.retry_after_s = retry_after_s
        self._skip_until = 0.0

    async def get(self, key: str) -> Cached | None:
        if self._skipping():
            return None
        try:
            raw = await self.client.get(self.prefix + key)
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            return None
        return _entry(raw)

    async def get_many(self, keys: Sequence[str]) -> list[Cached | None]:
        if self._skipping() or not keys:
            return [None] * len(keys)
        try:
            raws = await self.client.mget([self.prefix + k for k in keys])
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            return [None] * len(keys)
        return [_entry(raw) for raw in raws]

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if self._skipping():
            return
        try:
            await self.client.set(self.prefix + key, b"%.3f\n" % time.time() + value, px=max(1, round(ttl_s * 1000)))
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

    async def invalidate(self, keys: Sequence[str] = (), listings: bool = True) -> None:
        # Invalidation is attempted even while reads skip Redis: a stale entry is worse than a slow write.
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                if keys:
                    pipe.delete(*(self.prefix + k for k in keys))
                if listings:
                    pipe.incr(f"{self.prefix}gen")
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Entries written before this stay until their TTL: product pages (stock) live STOCK_MAX_AGE_S only.
            self._failed("invalidate", exc)

    def _skipping(self) -> bool:
        return self._skip_until > time.monotonic()

    def _failed(self, op: str, exc: BaseException) -> None:
        self._skip_until = time.monotonic() + self.retry_after_s
        log.warning("cache %s failed; serving from the database", op, extra={"error": f"{type(exc).__name__}: {exc}"})


def _entry(raw: bytes | None) -> Cached | None:
    """A stored ``<unix seconds>\\n<body>`` as a hit with its age; anything else is a miss."""
    if raw is None:
        return None
    stamp, _, body = raw.partition(b"\n")
    try:
        return Cached(body, max(0.0, time.time() - float(stamp)))
    except ValueError:  # an entry of another format: a miss
        return None
