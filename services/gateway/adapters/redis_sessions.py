"""Browser sessions and the deny-list in Redis (ElastiCache), next to the rate limits and under the same prefix.

A session is stored under ``session:<sha256 of its id>``: the cookie's value never lies in Redis, so a copy of
the store (a snapshot, a replica) names no cookie that would work. Unlike the rate limiter, sessions do not
fail open: without the store a signed-in browser request cannot be served and gets a 503.
"""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import RedisError

from services.gateway.ports import SessionStore, SessionsUnavailable


class RedisSessions(SessionStore):
    def __init__(self, client: redis.Redis, prefix: str):
        self.client = client
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        try:
            return await self.client.get(self.prefix + key)
        except RedisError as exc:
            raise SessionsUnavailable("the session store cannot be reached") from exc

    async def put(self, key: str, sealed: bytes, ttl_s: int | None) -> None:
        try:
            if ttl_s is None:
                await self.client.set(self.prefix + key, sealed, keepttl=True, xx=True)
            else:
                await self.client.set(self.prefix + key, sealed, ex=max(1, ttl_s))
        except RedisError as exc:
            raise SessionsUnavailable("the session store cannot be reached") from exc

    async def delete(self, key: str) -> bool:
        try:
            return bool(await self.client.delete(self.prefix + key))
        except RedisError as exc:
            raise SessionsUnavailable("the session store cannot be reached") from exc

    async def deny(self, key: str, ttl_s: int) -> None:
        try:
            await self.client.set(self.prefix + key, b"1", ex=max(1, ttl_s))
        except RedisError as exc:
            raise SessionsUnavailable("the deny-list cannot be written") from exc
