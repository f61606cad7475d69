"""The gateway's use case, one request: identity, rate limit and cache lookup, then the service that owns the path.

An anonymous answer is kept no longer than it allows (its Cache-Control less its Age, measured from when the
gateway asked; at most the route's ceiling from reference/), and a cached copy goes out with its Cache-Control
and an Age that counts the time it was kept: no cache after the gateway can stretch the bound either.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from services.common.errors import NotFound, TooManyRequests, Unauthorized, Unavailable
from services.common.identity import Caller
from services.gateway import domain
from services.gateway.domain import GatewayTimeout, InvalidToken, Route, Target
from services.gateway.ports import Cached, Edge, KeysUnavailable, TokenVerifier, Upstream, UpstreamDown, UpstreamTimeout
from services.gateway.settings import GatewaySettings

API = b"/api"


@dataclass
class Gateway:
    """The wired gateway: its adapters, the route table and the settings that shape each request."""

    settings: GatewaySettings
    routes: Mapping[str, Route]
    verifier: TokenVerifier
    edge: Edge
    upstream: Upstream

    async def handle(self, request: Request, path: str) -> Response:
        settings = self.settings
        method = request.method
        headers = request.headers
        authorization = headers.get("authorization")
        caller = await self.caller(authorization)
        target = domain.resolve(path, self.routes)
        key = None
        anonymous = authorization is None
        if target is not None and settings.cache_enabled and domain.cacheable(method, target, not anonymous):
            key = domain.cache_key(method, target.path, request.scope["query_string"].decode("latin-1"))
        peer = request.client.host if request.client else None
        ip = domain.client_ip(headers.get("x-forwarded-for"), peer, settings.trusted_proxy_hops)
        limits = domain.limits(
            ip, caller, per_ip=settings.rate_per_ip, per_user=settings.rate_per_user, window_s=settings.rate_window_s
        )
        admission = await self.edge.admit(limits, key)
        if not admission.allowed:
            wait_s = domain.retry_after_s(admission.wait_ms)
            raise TooManyRequests(f"too many requests; retry in {wait_s} s", headers={"Retry-After": str(wait_s)})
        if target is None:
            raise NotFound(f"no public route serves /api/{path}")
        if admission.cached is not None:
            return hit(admission.cached)
        return await self.forward(request, target, caller, key)

    async def caller(self, authorization: str | None) -> Caller | None:
        """The verified caller, None when anonymous; a token that is present but not good is a 401."""
        try:
            token = domain.bearer(authorization)
            if token is None:
                return None
            return domain.caller_from_claims(await self.verifier.claims(token), self.settings.client_ids)
        except InvalidToken as exc:
            raise Unauthorized(str(exc)) from exc
        except KeysUnavailable as exc:
            raise Unavailable("tokens cannot be verified right now; try again shortly") from exc

    async def forward(self, request: Request, target: Target, caller: Caller | None, key: str | None) -> Response:
        # Raw bytes, as the client sent them: a latin-1 User-Agent or Idempotency-Key is passed on, never a 500
        # (httpx encodes str headers as ASCII); the service judges the value.
        headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1") not in domain.STRIPPED_REQUEST]
        if caller is not None:
            headers += [(k.lower().encode(), v.encode()) for k, v in caller.headers().items()]
        body = await request.body()
        asked = time.time()
        try:
            reply = await self.upstream.send(target.service, request.method, upstream_path(request), headers, body)
        except UpstreamDown as exc:
            raise Unavailable(str(exc)) from exc
        except UpstreamTimeout as exc:
            raise GatewayTimeout(str(exc)) from exc
        response = Response(reply.body, status_code=reply.status)
        response.raw_headers += [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in reply.headers
            if k.lower() not in domain.STRIPPED_RESPONSE
        ]
        if key is not None:
            response.raw_headers.append((b"x-cache", b"MISS"))
            # Counted from when the gateway asked: the answer may have been made at any moment after that.
            keep_s = domain.keep_for_s(reply.status, reply.headers, target.cache_s) - (time.time() - asked)
            if keep_s > 0:
                await self.edge.store(key, kept(reply.headers, reply.body, asked), keep_s)
        return response


def kept(headers: Sequence[tuple[str, str]], body: bytes, asked: float) -> Cached:
    """What the cache keeps of an answer: made (at the earliest) when asked, less the Age it came with."""
    values = {k.lower(): v for k, v in headers}
    made_at = asked - domain.age_s(headers)
    return Cached(body, values.get("content-type", ""), values.get("cache-control", ""), made_at)


def hit(cached: Cached) -> Response:
    """A cached answer as the client gets it: its Cache-Control, and its Age (seconds since made, rounded up)."""
    headers = {"X-Cache": "HIT"}
    if cached.cache_control:
        headers["Cache-Control"] = cached.cache_control
    if cached.made_at:
        headers["Age"] = str(max(0, math.ceil(time.time() - cached.made_at)))
    return Response(cached.body, media_type=cached.content_type, headers=headers)


def upstream_path(request: Request) -> str:
    """The client's path as it was sent (still percent-encoded), without ``/api``, with its query string."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    raw = raw.split(b"?", 1)[0]
    query: bytes = request.scope["query_string"]
    return (raw[len(API) :] + (b"?" + query if query else b"")).decode("latin-1")
