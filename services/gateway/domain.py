"""The gateway's rules, free of I/O: where a path goes, who the client is, what is limited and what is cached."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from services.common import caching
from services.common.errors import DomainError
from services.common.identity import IDENTITY_HEADERS, Caller

# Hop-by-hop headers (RFC 9110 7.6.1) and the ones the gateway owns are never passed through.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding",
     "upgrade", "host", "content-length"}
)  # fmt: skip
STRIPPED_REQUEST = HOP_BY_HOP | {h.lower() for h in IDENTITY_HEADERS} | {"accept-encoding"}
# The client (services/common/http.py, aiohttp) hands back the decoded body, so its length and encoding are the
# gateway's to set; uvicorn sets its own date and server, and the request id is added once by the shared middleware.
STRIPPED_RESPONSE = HOP_BY_HOP | {"content-encoding", "date", "server", "x-request-id"}
NEVER_ROUTED = frozenset({"internal", ".", ".."})
MAX_INLINE_KEY = 200


@dataclass(frozen=True, slots=True)
class Route:
    """A public prefix's owner: the service it goes to and how long an anonymous GET of it may be cached."""

    service: str
    cache_s: int = 0


@dataclass(frozen=True, slots=True)
class Target:
    """Where one request goes: the service and the path on it (``/<prefix>/...``)."""

    service: str
    path: str
    cache_s: int


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``limit`` requests per ``window_s`` seconds for the holder of ``key``."""

    key: str
    limit: int
    window_s: float


class GatewayTimeout(DomainError):
    """The service behind the route did not answer in time."""

    status, title = 504, "Gateway timeout"


class InvalidToken(Exception):
    """The bearer token is not one this gateway accepts; the message says why (it is shown to the client)."""


def resolve(path: str, routes: Mapping[str, Route]) -> Target | None:
    """The target of a decoded path below ``/api`` (``catalog/products/1``), or None when nothing public owns it.

    Segments ``internal``, ``.`` and ``..`` anywhere refuse the path: internal routes are for services only, and
    dot segments could climb out of a prefix once a client library normalises the URL.
    """
    segments = path.strip("/").split("/")
    route = routes.get(segments[0])
    if route is None or any(s.lower() in NEVER_ROUTED for s in segments):
        return None
    return Target(route.service, "/" + path.lstrip("/"), route.cache_s)


def client_ip(forwarded_for: str | None, peer: str | None, trusted_hops: int) -> str:
    """The client's address: the hop ``trusted_hops`` from the right of X-Forwarded-For, else the peer.

    Each trusted proxy appends the address it saw, so the entries to the left of the ones they added are
    whatever the client claimed and cannot be trusted for rate limits.
    """
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    if trusted_hops > 0 and hops:
        return hops[max(len(hops) - trusted_hops, 0)]
    return peer or "unknown"


def limits(ip: str, caller: Caller | None, *, per_ip: int, per_user: int, window_s: float) -> list[Limit]:
    """Every request counts against its client address; a signed-in one also against its user."""
    out = [Limit(f"rl:ip:{ip}", per_ip, window_s)]
    if caller is not None:
        out.append(Limit(f"rl:user:{caller.sub}", per_user, window_s))
    return out


def cache_key(method: str, path: str, query: str) -> str:
    """The same resource under any order of query parameters has one key; long keys are hashed."""
    canonical = urlencode(sorted(parse_qsl(query, keep_blank_values=True)))
    key = f"{method} {path}?{canonical}" if canonical else f"{method} {path}"
    if len(key) > MAX_INLINE_KEY:
        key = f"{method} sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return f"cache:{key}"


def cacheable(method: str, target: Target, authorized: bool) -> bool:
    """Only anonymous GETs of services that allow it are cached."""
    return method == "GET" and target.cache_s > 0 and not authorized


def keep_for_s(status: int, headers: Iterable[tuple[str, str]], ceiling_s: float) -> float:
    """How long an anonymous answer may be kept: 0 unless it is a plain 200 without a cookie; then what its own
    ``Cache-Control`` less its ``Age`` allows (0 for no-store, private, no-cache), at most the route's ceiling."""
    if status != 200:
        return 0.0
    cache_control: list[str] = []
    age = None
    for name, value in headers:
        lname = name.lower()
        if lname == "set-cookie":
            return 0.0
        if lname == "cache-control":
            cache_control.append(value)
        elif lname == "age":
            age = value
    return caching.lifetime_s(", ".join(cache_control) or None, age, ceiling_s)


def age_s(headers: Iterable[tuple[str, str]]) -> int:
    """The ``Age`` an answer came with (0 when it has none or it is not a number)."""
    value = next((v for k, v in headers if k.lower() == "age"), "0").strip()
    return int(value) if value.isdigit() else 0


def caller_from_claims(claims: Mapping[str, object], client_ids: Iterable[str]) -> Caller:
    """The identity in a verified token's claims, if the token is an access token of one of our app clients."""
    if claims.get("token_use") != "access":
        raise InvalidToken("only access tokens are accepted (token_use must be 'access')")
    if claims.get("client_id") not in set(client_ids):
        raise InvalidToken("the token was issued to another app client")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidToken("the token names no subject")
    groups = claims.get("cognito:groups") or []
    if not isinstance(groups, list):
        raise InvalidToken("cognito:groups must be a list")
    email = claims.get("email")
    return Caller(sub, email if isinstance(email, str) else "", frozenset(str(g) for g in groups))


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None without one, InvalidToken if malformed."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header must be 'Bearer <access token>'")
    return token.strip()


def retry_after_s(wait_ms: int) -> int:
    """Whole seconds for the Retry-After header, at least one."""
    return max(1, -(-wait_ms // 1000))


# --------------------------------------------------------------------------- browser sessions (the BFF, issue 22)

CSRF_HEADER = "x-shop-csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Paths a browser may write to without the custom header: navigator.sendBeacon cannot set one, and the
# clickstream takes no identity from cookies.
CSRF_EXEMPT = ("/api/clickstream",)


class CrossSiteRefused(DomainError):
    """A cookie-carrying or cross-site write the browser could have been tricked into sending."""

    status, title = 403, "Cross-site request refused"


def cookies(header: str | None) -> dict[str, str]:
    """The ``name=value`` pairs of a Cookie header (the first of a repeated name wins, as browsers send it)."""
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in out:
            out[name] = value.strip().strip('"')
    return out


def without_cookies(header: str, names: Iterable[str]) -> str:
    """The Cookie header less the gateway's own cookies (services never see the session id)."""
    drop = set(names)
    kept = [p.strip() for p in header.split(";") if p.strip() and p.strip().partition("=")[0] not in drop]
    return "; ".join(kept)


def set_cookie(name: str, value: str, *, max_age_s: int, same_site: str = "Lax") -> str:
    """A Set-Cookie value no script can read: HttpOnly, Secure, Path=/ and no Domain (what ``__Host-`` needs).

    Browsers treat http://127.0.0.1 and http://localhost as secure contexts, so Secure cookies work on the local
    stack over plain HTTP too (docs/bff-sessions.md).
    """
    return f"{name}={value}; Path=/; Max-Age={max(0, max_age_s)}; HttpOnly; Secure; SameSite={same_site}"


def csrf_refusal(
    method: str, path: str, headers: Mapping[str, str], own_cookies: Iterable[str], allowed_origins: Iterable[str]
) -> str | None:
    """Why a request must be refused as a possible cross-site forgery, or None.

    Only writes are judged, and only those a browser could send on its own: a request with an Authorization
    header carries its credential explicitly (mobile and API clients) and is never refused here. A write is
    refused when the browser says it comes from another site (``Sec-Fetch-Site``), when its ``Origin`` is
    opaque (``null``) or not one of ``allowed_origins`` (if set), or when it carries the gateway's cookies
    without the custom ``X-Shop-CSRF`` header, which a cross-site form or an image cannot send and a
    cross-origin script could only send after a CORS preflight the gateway never grants.
    """
    if method.upper() not in UNSAFE_METHODS or "authorization" in headers:
        return None
    site = headers.get("sec-fetch-site", "")
    if site in ("cross-site", "same-site"):
        return f"a {site} write is refused (Sec-Fetch-Site: {site}); the shop's pages send writes from its own origin"
    origin = headers.get("origin")
    allowed = set(allowed_origins)
    if origin is not None and (origin == "null" or (allowed and origin not in allowed and site != "same-origin")):
        return f"a write from the origin {origin!r} is refused"
    if path.startswith(CSRF_EXEMPT):
        return None
    if CSRF_HEADER not in headers and set(cookies(headers.get("cookie"))) & set(own_cookies):
        return "a write carrying the session cookie must send the X-Shop-CSRF header (the storefront does)"
    return None


def revocation_key(claims: Mapping[str, object]) -> str | None:
    """The deny-list key of an access token: its ``origin_jti`` (shared by every token refreshed from one
    sign-in), else its ``jti``; None for a token that names neither."""
    value = claims.get("origin_jti") or claims.get("jti")
    return f"revoked:{value}" if isinstance(value, str) and value else None


class SessionEnded(DomainError):
    """The session cookie names a session that was signed out, expired or whose refresh token was revoked."""

    status, title = 401, "Session ended"


COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,128}")  # RFC 6265 cookie-octets
