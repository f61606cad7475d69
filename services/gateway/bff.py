"""The BFF's token handler (issue 22): browser sessions whose Cognito tokens never leave the gateway.

Sign-in goes to the profile service's ``/auth/signin`` as a bearer client's does (the same answers, the same
problems naming the field); on success the gateway keeps the tokens in Redis, sealed (``adapters/kms_envelope``),
and the browser gets only a random session id in an ``HttpOnly; Secure; SameSite`` cookie. Each browser request
reads the session; an access token that nears expiry is refreshed through ``/auth/refresh`` first (one refresh
at a time per session in a process). Sign-out deletes the session at once, puts the access token's
``origin_jti`` on the deny-list for the rest of its life (so a copy of it used as a bearer is refused), and
revokes the refresh token at Cognito.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass

from services.common.identity import Caller
from services.gateway import domain
from services.gateway.domain import InvalidToken
from services.gateway.ports import (
    Reply,
    Sealer,
    SessionStore,
    SessionsUnavailable,
    TokenRevoker,
    TokenVerifier,
    Upstream,
    UpstreamDown,
    UpstreamTimeout,
)
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)
JSON = [(b"content-type", b"application/json"), (b"accept", b"application/json")]


@dataclass(frozen=True, slots=True)
class Session:
    """What the gateway keeps of one browser sign-in (sealed at rest); never sent to the browser."""

    access_token: str
    refresh_token: str
    sub: str
    email: str
    groups: tuple[str, ...]
    expires_at: int  # the access token's exp
    revocation: str | None  # its deny-list key (origin_jti)
    signed_in_at: int

    def caller(self) -> Caller:
        return Caller(self.sub, self.email, frozenset(self.groups))

    def public(self) -> dict[str, object]:
        """What the storefront may know: who is signed in, never a token."""
        return {"signed_in": True, "email": self.email, "groups": sorted(self.groups)}


def store_key(session_id: str) -> str:
    """The store's key of a session: a digest of the cookie's value, never the value itself."""
    return "session:" + hashlib.sha256(session_id.encode()).hexdigest()


@dataclass
class Sessions:
    settings: GatewaySettings
    store: SessionStore
    sealer: Sealer
    verifier: TokenVerifier
    upstream: Upstream
    revoker: TokenRevoker
    auth_service: str = "profile"

    def __post_init__(self) -> None:
        self._refreshing: dict[str, asyncio.Future[Session | None]] = {}

    async def sign_in(self, body: bytes) -> tuple[str, Session] | Reply:
        """A new session for the credentials in ``body`` (``(session id, session)``), else the service's refusal."""
        reply = await self._call("/auth/signin", body)
        if reply.status != 200:
            return reply
        tokens = json.loads(reply.body)
        session = await self._session(tokens["access_token"], tokens["refresh_token"], tokens.get("id_token"))
        session_id = secrets.token_urlsafe(32)
        await self._save(store_key(session_id), session, self.settings.session_ttl_s)
        return session_id, session

    async def load(self, session_id: str) -> Session | None:
        """The live session of a cookie (refreshed first when its access token nears expiry), None when ended."""
        key = store_key(session_id)
        session = await self._read(key)
        if session is None or session.expires_at - time.time() > self.settings.session_refresh_before_s:
            return session
        pending = self._refreshing.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._refresh(key, session))
            self._refreshing[key] = pending
            pending.add_done_callback(lambda _: self._refreshing.pop(key, None))
        return await asyncio.shield(pending)

    async def sign_out(self, session_id: str) -> Session | None:
        """End the session at once, deny its access token, revoke its refresh token; the session it was, if any."""
        key = store_key(session_id)
        session = await self._read(key)
        await self.store.delete(key)
        if session is None:
            return None
        await self.deny(session.revocation, session.expires_at)
        try:
            how = await self.revoker.revoke(session.refresh_token, session.access_token)
            log.info("session signed out; refresh token revoked with %s", how)
        except Exception:  # the refresh token lived only in the deleted session: no one holds it any more
            log.warning("the refresh token could not be revoked at Cognito; the session is gone", exc_info=True)
        return session

    async def deny(self, revocation: str | None, expires_at: float) -> None:
        """Refuse an access token (and every one refreshed from the same sign-in) for the rest of its life."""
        if revocation:
            remaining = int(expires_at - time.time()) + self.settings.jwt_leeway_s + 1
            if remaining > 0:
                await self.store.deny(revocation, remaining)

    # ----------------------------------------------------------------- inside

    async def _refresh(self, key: str, session: Session) -> Session | None:
        try:
            reply = await self._call("/auth/refresh", json.dumps({"refresh_token": session.refresh_token}).encode())
        except SessionsUnavailable:
            if session.expires_at > time.time():
                return session  # Cognito is away: the token still works for a while
            raise
        if reply.status in (400, 401, 403):
            await self.store.delete(key)  # revoked elsewhere (a global sign-out) or expired: the session ends
            return None
        if reply.status != 200:
            if session.expires_at > time.time():
                return session
            raise SessionsUnavailable(f"the session could not be refreshed ({reply.status})")
        tokens = json.loads(reply.body)
        fresh = await self._session(
            tokens["access_token"], tokens.get("refresh_token") or session.refresh_token, tokens.get("id_token"),
            signed_in_at=session.signed_in_at,
        )  # fmt: skip
        await self._save(key, fresh, None)
        return fresh

    async def _session(
        self, access_token: str, refresh_token: str, id_token: str | None, *, signed_in_at: int | None = None
    ) -> Session:
        claims = await self.verifier.claims(access_token)
        caller = domain.caller_from_claims(claims, self.settings.client_ids)
        email = caller.email
        if not email and id_token:
            try:
                email = str((await self.verifier.claims(id_token)).get("email", ""))
            except InvalidToken:
                email = ""
        return Session(
            access_token, refresh_token, caller.sub, email, tuple(sorted(caller.groups)), _int(claims.get("exp")),
            domain.revocation_key(claims), signed_in_at or int(time.time()),
        )  # fmt: skip

    async def _read(self, key: str) -> Session | None:
        sealed = await self.store.get(key)
        if sealed is None:
            return None
        try:
            values = json.loads(await self.sealer.open(sealed, key.encode()))
        except ValueError:
            log.warning("a stored session did not open (tampered, or sealed for another stage): ended")
            await self.store.delete(key)
            return None
        values["groups"] = tuple(values["groups"])
        return Session(**values)

    async def _save(self, key: str, session: Session, ttl_s: int | None) -> None:
        sealed = await self.sealer.seal(json.dumps(asdict(session)).encode(), key.encode())
        await self.store.put(key, sealed, ttl_s)

    async def _call(self, path: str, body: bytes) -> Reply:
        try:
            return await self.upstream.send(self.auth_service, "POST", path, JSON, body)
        except (UpstreamDown, UpstreamTimeout) as exc:
            raise SessionsUnavailable(f"the {self.auth_service} service cannot be reached: {exc}") from exc


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def public_anonymous() -> dict[str, object]:
    return {"signed_in": False, "email": "", "groups": []}
