"""Cognito access tokens verified against the user pool's JWKS, fetched with httpx and kept in memory.

Keys are fetched at start, again when a token names a key we do not have (key rotation), at
most once per ``min_refresh_s`` so a flood of made-up key ids cannot turn into a flood of
fetches, and when the set is older than ``max_age_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import httpx
import jwt

from services.gateway.domain import InvalidToken
from services.gateway.ports import KeysUnavailable, TokenVerifier

ALGORITHMS = ["RS256"]  # Cognito signs with RS256 only; anything else (none, HS256 with the public key) fails
REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub", "token_use"]
log = logging.getLogger(__name__)


class JwksVerifier(TokenVerifier):
    def __init__(
        self,
        http: httpx.AsyncClient,
        jwks_url: str,
        issuer: str,
        *,
        leeway_s: int = 30,
        min_refresh_s: float = 30.0,
        max_age_s: float = 3600.0,
    ):
        self.http = http
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.leeway_s = leeway_s
        self.min_refresh_s = min_refresh_s
        self.max_age_s = max_age_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def claims(self, token: str) -> Mapping[str, object]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not a well-formed JWT") from exc
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken(f"tokens must be signed with RS256, not {header.get('alg')!r}")
        key = await self._key(str(header.get("kid", "")))
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": REQUIRED_CLAIMS, "verify_aud": False},  # access tokens carry client_id
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the token was issued by another user pool") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("the token's signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is invalid: {exc}") from exc

    async def check(self) -> None:
        await self._fetch()

    async def _key(self, kid: str) -> jwt.PyJWK:
        stale = time.monotonic() - self._fetched_at > self.max_age_s
        if kid not in self._keys or stale:
            await self._refresh(force=stale)
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("the token is signed by a key this user pool does not have")
        return key

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            if not force and time.monotonic() - self._fetched_at < self.min_refresh_s:
                return
            try:
                await self._fetch()
            except KeysUnavailable:
                if not self._keys:
                    raise
                log.warning("could not refresh the JWKS; keeping the keys we have", exc_info=True)

    async def _fetch(self) -> None:
        if not self.jwks_url or not self.issuer:
            raise KeysUnavailable("token verification is not configured (SHOP_COGNITO_JWKS_URL, SHOP_COGNITO_ISSUER)")
        self._fetched_at = time.monotonic()  # a failed fetch counts too: the refresh rate limit holds in an outage
        try:
            response = await self.http.get(self.jwks_url)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            raise KeysUnavailable(f"cannot fetch the signing keys from {self.jwks_url}: {exc}") from exc
        self._keys = {k.key_id: k for k in keys if k.key_id and k.public_key_use in (None, "sig")}
