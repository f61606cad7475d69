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
from services.gateway.bff import Session, Sessions
from services.gateway.domain import GatewayTimeout, InvalidToken, Route, SessionEnded, Target
from services.gateway.ports import (
    Cached,
    Edge,
    KeysUnavailable,
    SessionsUnavailable,
    TokenVerifier,
    Upstream,
    UpstreamDown,
    UpstreamTimeout,
)
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
    sessions: Sessions | None = None

    async def handle(self, request: Request, path: str) -> Response:
        settings = self.settings
        method = request.method
        headers = request.headers
        authorization = headers.get("authorization")
        # A browser (it sends the CSRF header) is identified by its session cookie; everyone else by a bearer token.
        jar = domain.cookies(headers.get("cookie")) if authorization is None and domain.CSRF_HEADER in headers else None
        session = await self.session(jar) if jar is not None else None
        revoked_key, expires_at = None, 0.0
        if session is not None:
            caller: Caller | None = session.caller()
            request.state.caller_sub = session.sub  # for the server-side clickstream events (clickstream.py)
        else:
            caller, revoked_key, expires_at = await self.caller(authorization)
        target = domain.resolve(path, self.routes)
        key = None
        anonymous = authorization is None and session is None
        if target is not None and settings.cache_enabled and domain.cacheable(method, target, not anonymous):
            key = domain.cache_key(method, target.path, request.scope["query_string"].decode("latin-1"))
        peer = request.client.host if request.client else None
        ip = domain.client_ip(headers.get("x-forwarded-for"), peer, settings.trusted_proxy_hops)
        limits = domain.limits(
            ip, caller, per_ip=settings.rate_per_ip, per_user=settings.rate_per_user, window_s=settings.rate_window_s
        )
        admission = await self.edge.admit(limits, key, revoked_key)
        if admission.revoked:
            raise Unauthorized("the access token was revoked (signed out); sign in again")
        if not admission.allowed:
            wait_s = domain.retry_after_s(admission.wait_ms)
            raise TooManyRequests(f"too many requests; retry in {wait_s} s", headers={"Retry-After": str(wait_s)})
        if target is None:
            raise NotFound(f"no public route serves /api/{path}")
        if admission.cached is not None:
            return hit(admission.cached)
        response = await self.forward(request, target, caller, key, jar)
        if signed_out(method, target, response.status_code) and self.sessions is not None and revoked_key:
            await self.sessions.deny(revoked_key, expires_at)  # a bearer's sign-out: its access token is refused too
        return response

    async def session(self, jar: Mapping[str, str]) -> Session | None:
        """The browser's session; None without a session cookie, SessionEnded when it names an ended one."""
        session_id = jar.get(self.settings.session_cookie)
        if not session_id or self.sessions is None:
            return None
        try:
            session = await self.sessions.load(session_id)
        except SessionsUnavailable as exc:
            raise Unavailable("sessions cannot be read right now; try again shortly") from exc
        except (InvalidToken, KeysUnavailable) as exc:
            raise Unavailable("the session's tokens cannot be verified right now") from exc
        if session is None:
            clear = domain.set_cookie(self.settings.session_cookie, "", max_age_s=0)
            raise SessionEnded(
                "the session ended (signed out or expired); sign in again", headers={"Set-Cookie": clear}
            )
        return session

    async def caller(self, authorization: str | None) -> tuple[Caller | None, str | None, float]:
        """The verified caller, its token's deny-list key and expiry; (None, None, 0) when anonymous; a token that
        is present but not good is a 401."""
        try:
            token = domain.bearer(authorization)
            if token is None:
                return None, None, 0.0
            claims = await self.verifier.claims(token)
            caller = domain.caller_from_claims(claims, self.settings.client_ids)
        except InvalidToken as exc:
            raise Unauthorized(str(exc)) from exc
        except KeysUnavailable as exc:
            raise Unavailable("tokens cannot be verified right now; try again shortly") from exc
        exp = claims.get("exp")
        return caller, domain.revocation_key(claims), float(exp) if isinstance(exp, int | float) else time.time()

    async def forward(
        self, request: Request, target: Target, caller: Caller | None, key: str | None, jar: Mapping[str, str] | None
    ) -> Response:
        # Raw bytes, as the client sent them: a latin-1 User-Agent or Idempotency-Key is passed on, never a 500
        # (httpx encodes str headers as ASCII); the service judges the value.
        headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1") not in domain.STRIPPED_REQUEST]
        if jar is not None:
            headers = self.browser_headers(headers, jar)
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
        if jar is not None:
            self.browser_reply(response, target, request.method)
        if key is not None:
            response.raw_headers.append((b"x-cache", b"MISS"))
            # Counted from when the gateway asked: the answer may have been made at any moment after that.
            keep_s = domain.keep_for_s(reply.status, reply.headers, target.cache_s) - (time.time() - asked)
            if keep_s > 0:
                await self.edge.store(key, kept(reply.headers, reply.body, asked), keep_s)
        return response

    def browser_headers(self, headers: list[tuple[bytes, bytes]], jar: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
        """A browser's request as the service sees it: the gateway's cookies taken out, the guest cart's id from
        its cookie into ``X-Cart-Session`` (the header the cart service reads), unless the request sent one."""
        own = (self.settings.session_cookie, self.settings.cart_cookie)
        out: list[tuple[bytes, bytes]] = []
        has_cart_header = False
        for k, v in headers:
            if k.lower() == b"cookie":
                rest = domain.without_cookies(v.decode("latin-1"), own)
                if rest:
                    out.append((k, rest.encode("latin-1")))
                continue
            has_cart_header |= k.lower() == b"x-cart-session"
            out.append((k, v))
        cart = jar.get(self.settings.cart_cookie)
        if cart and not has_cart_header:
            out.append((b"x-cart-session", cart.encode("latin-1")))
        return out

    def browser_reply(self, response: Response, target: Target, method: str) -> None:
        """A guest cart's id goes back to a browser as an HttpOnly cookie, not a header a script could read; a
        merged guest cart's cookie is cleared (the guest session ended)."""
        settings = self.settings
        issued = None
        kept_headers = []
        for k, v in response.raw_headers:
            if k == b"x-cart-session":
                issued = v.decode("latin-1")
            else:
                kept_headers.append((k, v))
        response.raw_headers[:] = kept_headers
        if method == "POST" and target.path == "/cart/merge" and 200 <= response.status_code < 300:
            cookie = domain.set_cookie(settings.cart_cookie, "", max_age_s=0, same_site=settings.session_same_site)
        elif issued and domain.COOKIE_VALUE.fullmatch(issued):
            cookie = domain.set_cookie(
                settings.cart_cookie, issued, max_age_s=settings.cart_cookie_ttl_s, same_site=settings.session_same_site
            )
        else:
            return
        response.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))


def signed_out(method: str, target: Target, status: int) -> bool:
    """A bearer client's sign-out at the profile service went through."""
    return method == "POST" and target.path == "/auth/signout" and status == 204


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
