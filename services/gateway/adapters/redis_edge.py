"""Rate limits and the anonymous response cache in Redis (ElastiCache), one atomic Lua call per request.

The limiter is GCRA (a token bucket kept as one timestamp per key): ``limit`` requests may
come in a burst, then one every ``window / limit``. The script checks every limit of the
request and only then spends them, so a refused request costs nothing; when it admits, it
also reads the cache entry, so a cache hit costs a single round trip. The keys of one call
may lie in different hash slots: this needs a non-clustered Redis (a primary with replicas).

If Redis fails, the gateway fails open: it admits and serves uncached, logs it, and leaves
Redis alone for ``retry_s`` so an outage does not add a timeout to every request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError

from services.gateway.domain import Limit
from services.gateway.ports import Admission, Cached, Edge

log = logging.getLogger(__name__)

# KEYS: one per limit, then the cache key if any, then the deny-list key if any. ARGV: number of limits,
# (limit, window in ms) per limit, then 1 when the last key is a deny-list key (a signed-out token: refused
# before any limit is spent, in the same round trip).
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local denied = tonumber(ARGV[2 * n + 2] or '0')
if denied == 1 and redis.call('EXISTS', KEYS[#KEYS]) == 1 then return {-1, 0, false} end
local wait = 0
local tats = {}
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local next_tat = tat + window / limit
  local allowed_at = next_tat - window
  if allowed_at > now and allowed_at - now > wait then wait = allowed_at - now end
  tats[i] = next_tat
end
if wait > 0 then return {0, math.ceil(wait), false} end
for i = 1, n do
  redis.call('SET', KEYS[i], string.format('%.3f', tats[i]), 'PX', math.max(1, math.ceil(tats[i] - now)))
end
local cached = false
if #KEYS - denied > n then cached = redis.call('GET', KEYS[n + 1]) end
return {1, 0, cached}
"""


class RedisEdge(Edge):
    def __init__(self, client: redis.Redis, prefix: str, *, retry_s: float = 1.0):
        self.client = client
        self.prefix = prefix
        self.retry_s = retry_s
        self._admit = client.register_script(ADMIT)
        self._down_until = 0.0

    async def admit(self, limits: Sequence[Limit], cache_key: str | None, revoked_key: str | None = None) -> Admission:
        if self._skipping():
            return Admission(True)
        keys = [self.prefix + limit.key for limit in limits]
        args: list[int | str] = [len(limits)]
        for limit in limits:
            args += [limit.limit, round(limit.window_s * 1000)]
        if cache_key is not None:
            keys.append(self.prefix + cache_key)
        if revoked_key is not None:
            keys.append(self.prefix + revoked_key)
            args.append(1)
        try:
            allowed, wait_ms, raw = await self._admit(keys=keys, args=args)
        except RedisError:
            self._failed("admit")
            return Admission(True)
        if allowed == -1:
            return Admission(False, revoked=True)
        return Admission(bool(allowed), int(wait_ms), _decode(raw) if raw else None)

    async def store(self, cache_key: str, cached: Cached, ttl_s: float) -> None:
        if self._skipping():
            return
        head = f"{cached.content_type}\n{cached.cache_control}\n{cached.made_at:.3f}\n".encode("latin-1")
        try:
            await self.client.set(self.prefix + cache_key, head + cached.body, px=max(1, round(ttl_s * 1000)))
        except RedisError:
            self._failed("store")

    async def check(self) -> None:
        await self.client.ping()

    def _skipping(self) -> bool:
        return self._down_until > 0 and time.monotonic() < self._down_until

    def _failed(self, what: str) -> None:
        self._down_until = time.monotonic() + self.retry_s
        log.warning(
            "redis failed during %s: serving without rate limits or cache for %.1f s", what, self.retry_s, exc_info=True
        )


def _decode(raw: bytes) -> Cached | None:
    """An entry as ``store`` wrote it (``content type\\ncache-control\\nmade at\\nbody``); None if it is not one."""
    parts = raw.split(b"\n", 3)
    if len(parts) != 4:
        return None
    content_type, cache_control, made_at, body = parts
    try:
        return Cached(body, content_type.decode("latin-1"), cache_control.decode("latin-1"), float(made_at))
    except ValueError:
        return None
