"""The gateway as the browser's token handler (issue 22): cookie sessions with the tokens kept server-side.

The real profile service (its /auth routes, against the emulator's Cognito) stands behind the gateway for
sign-in and refresh; an echoing service stands behind every other prefix. Redis is the real Valkey, KMS the
emulator's. Cookies are sent by hand: they are ``Secure``, and httpx, like a browser on a non-local host,
would not send them over plain HTTP (a browser does on 127.0.0.1 and localhost: the browser test shows it).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from botocore.exceptions import ClientError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from gateway_support import Echo, Pool, gateway_settings, running
from profile_support import PASSWORD, person, settings_for

from services.gateway.adapters.kms_envelope import KmsEnvelope
from services.gateway.bff import store_key
from services.profile.app import create_app as create_profile

pytest_plugins = ("gateway_fixtures",)  # pool, idp

SESSION = "__Host-shop-session"
CART = "__Host-shop-cart"
BROWSER = {"X-Shop-CSRF": "1", "Sec-Fetch-Site": "same-origin"}


def cart_service() -> FastAPI:
    """A guest cart's session as the cart service hands it out: in X-Cart-Session, kept if sent."""
    app = FastAPI()

    @app.api_route("/cart/{rest:path}", methods=["GET", "POST"])
    @app.api_route("/cart", methods=["GET", "POST"])
    async def cart(request: Request, rest: str = "") -> JSONResponse:
        session = request.headers.get("x-cart-session") or "guest-1"
        body = {"session_seen": request.headers.get("x-cart-session"), "cookie": request.headers.get("cookie")}
        return JSONResponse(body, headers={} if rest == "merge" else {"X-Cart-Session": session})

    return app


@pytest.fixture
async def shop(pool: Pool, provisioned: Any, database_secret: str, redis_space: Any) -> AsyncIterator[Any]:
    """The gateway with the profile service for /auth and /me, the cart stand-in, and the echo elsewhere."""
    profile = create_profile(settings_for(provisioned))
    echo, cart = Echo(), cart_service()
    echo_app = echo.app()

    async def upstream(scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        target = profile if path.startswith("/auth") else cart if path.startswith("/cart") else echo_app
        await target(scope, receive, send)

    settings = gateway_settings(pool, redis_space.url, redis_space.prefix, stage=provisioned.stage)
    async with LifespanManager(profile), running(settings, upstream) as (app, client):  # type: ignore[arg-type]
        yield Shop(app, client, echo, redis_space)


class Shop:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient, echo: Echo, redis_space: Any):
        self.app, self.client, self.echo, self.redis = app, client, echo, redis_space

    @property
    def sessions(self) -> Any:
        return self.app.state.gateway.sessions

    async def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post("/api/session", json={"email": email, "password": password}, headers=BROWSER)

    async def as_browser(self, method: str, path: str, session_id: str, **kwargs: Any) -> httpx.Response:
        headers = {**BROWSER, "Cookie": f"{SESSION}={session_id}", **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)


def session_cookie(response: httpx.Response) -> tuple[str, str]:
    """The session id and the whole Set-Cookie line that carried it."""
    line = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION))
    return line.split(";", 1)[0].split("=", 1)[1], line


async def test_sign_in_sets_an_httponly_secure_cookie_and_keeps_the_tokens_sealed_at_the_gateway(shop, idp, pool):
    ada = person(idp, pool.id, "ada@example.com")
    response = await shop.sign_in("ada@example.com")
    assert response.status_code == 200, response.text
    assert response.json() == {"signed_in": True, "email": "ada@example.com", "groups": [], "guest_cart": False}
    assert "token" not in response.text
    session_id, line = session_cookie(response)
    assert {"HttpOnly", "Secure", "SameSite=Lax", "Path=/"} <= {p.strip() for p in line.split(";")}
    assert "Domain" not in line
    stored = shop.redis.client().get(shop.redis.prefix + store_key(session_id))
    assert stored
    assert stored.startswith("v1.")
    assert "eyJ" not in stored
    assert shop.redis.client().get(shop.redis.prefix + session_id) is None  # stored under a digest of the id

    for _ in range(5):
        me = await shop.as_browser("GET", "/api/orders", session_id)
        assert me.status_code == 200
    seen = shop.echo.calls[-1]["headers"]
    assert seen["x-shop-user"] == ada.sub
    assert SESSION not in seen.get("cookie", "")  # the services never see the session id
    assert (await shop.as_browser("GET", "/api/session", session_id)).json()["email"] == "ada@example.com"
    assert shop.sessions.sealer.kms_calls == 1  # one GenerateDataKey for the process, none per request
    events: list[dict[str, Any]] = []
    shop.app.state.clickstream.add = events.append
    added = await shop.as_browser("POST", "/api/cart/items", session_id, json={"product_id": "p-1", "quantity": 1})
    assert added.status_code == 200
    assert [(e["event_type"], e["user_sub"]) for e in events] == [("add_to_cart", ada.sub)]  # analytics know the user


async def test_a_wrong_password_gets_the_profile_services_problem_and_no_cookie(shop, idp, pool):
    person(idp, pool.id, "bob@example.com")
    response = await shop.sign_in("bob@example.com", "Not-The-Password-1")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "set-cookie" not in response.headers


async def test_the_gateway_refreshes_an_access_token_that_nears_expiry(shop, idp, pool):
    person(idp, pool.id, "cy@example.com")
    session_id, _ = session_cookie(await shop.sign_in("cy@example.com"))
    before = await shop.sessions.load(session_id)
    shop.sessions.settings.session_refresh_before_s = 3600  # every emulator token (1 h) now "nears expiry"
    after = await shop.sessions.load(session_id)
    assert after.access_token != before.access_token
    assert after.refresh_token == before.refresh_token
    assert (await shop.sessions.load(session_id)).sub == before.sub  # and the stored session is the new one
    assert (await shop.as_browser("GET", "/api/orders", session_id)).status_code == 200


async def test_after_sign_out_the_old_session_and_the_old_access_token_are_both_refused(shop, idp, pool):
    person(idp, pool.id, "dee@example.com")
    session_id, _ = session_cookie(await shop.sign_in("dee@example.com"))
    tokens = await shop.sessions.load(session_id)  # what an attacker could have copied from the gateway's memory
    assert (
        await shop.client.get("/api/orders", headers={"Authorization": f"Bearer {tokens.access_token}"})
    ).status_code == 200

    out = await shop.as_browser("DELETE", "/api/session", session_id)
    assert out.status_code == 204
    assert "Max-Age=0" in out.headers["set-cookie"]

    again = await shop.as_browser("GET", "/api/orders", session_id)
    assert again.status_code == 401
    assert again.json()["title"] == "Session ended"
    bearer = await shop.client.get("/api/orders", headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert bearer.status_code == 401
    assert "revoked" in bearer.json()["detail"]
    ttl = shop.redis.client().ttl(shop.redis.prefix + tokens.revocation)
    assert 0 < ttl <= tokens.expires_at - time.time() + shop.sessions.settings.jwt_leeway_s + 2  # its remaining life
    with pytest.raises(ClientError, match="NotAuthorized"):
        idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens.refresh_token},
        )
    assert (await shop.as_browser("GET", "/api/session", session_id)).json()["signed_in"] is False


async def test_cookie_writes_without_the_csrf_header_or_from_another_site_are_refused_with_403(shop, idp, pool):
    person(idp, pool.id, "eve@example.com")
    session_id, _ = session_cookie(await shop.sign_in("eve@example.com"))
    cookie = {"Cookie": f"{SESSION}={session_id}"}
    forged = await shop.client.post("/api/orders", json={}, headers=cookie)
    assert forged.status_code == 403
    assert forged.headers["content-type"] == "application/problem+json"
    assert "X-Shop-CSRF" in forged.json()["detail"]
    form = await shop.client.post(
        "/api/cart/items", content="product_id=1&quantity=9", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example",
            "Sec-Fetch-Site": "cross-site"},
    )  # fmt: skip
    assert form.status_code == 403  # the reason, not a 415 about the form's content type
    assert form.json()["title"] == "Cross-site request refused"
    null_origin = await shop.as_browser(
        "POST", "/api/orders", session_id, json={}, headers={"Origin": "null", "Sec-Fetch-Site": ""}
    )
    assert null_origin.status_code == 403
    calls = len(shop.echo.calls)
    ok = await shop.as_browser("POST", "/api/orders", session_id, json={})
    assert ok.status_code == 200
    assert len(shop.echo.calls) == calls + 1  # only the good one reached the service
    no_header_read = await shop.client.get("/api/orders", headers=cookie)
    assert "x-shop-user" not in shop.echo.calls[-1]["headers"]  # without the header the cookie is not honoured
    assert no_header_read.status_code == 200


async def test_bearer_clients_are_unchanged_and_their_sign_out_denies_the_token(shop, idp, pool):
    person(idp, pool.id, "fay@example.com")
    signed = await shop.client.post("/api/auth/signin", json={"email": "fay@example.com", "password": PASSWORD})
    assert signed.status_code == 200
    access = signed.json()["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    write = await shop.client.post("/api/orders", json={}, headers=bearer | {"Origin": "http://elsewhere.example"})
    assert write.status_code == 200  # no CSRF rules for an explicit credential
    assert jwt.decode(access, options={"verify_signature": False})["origin_jti"]
    assert (await shop.client.post("/api/auth/signout", headers=bearer)).status_code == 204
    refused = await shop.client.get("/api/orders", headers=bearer)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


async def test_the_guest_cart_session_travels_in_an_httponly_cookie_not_a_header(shop):
    first = await shop.client.post("/api/cart/items", json={}, headers=BROWSER)
    assert "x-cart-session" not in first.headers
    line = first.headers["set-cookie"]
    assert line.startswith(f"{CART}=guest-1;")
    assert "HttpOnly" in line
    assert "Secure" in line
    again = await shop.client.get("/api/cart", headers=BROWSER | {"Cookie": f"{CART}=guest-1; theme=dark"})
    assert again.json() == {"session_seen": "guest-1", "cookie": "theme=dark"}
    merged = await shop.client.post("/api/cart/merge", json={}, headers=BROWSER | {"Cookie": f"{CART}=guest-1"})
    assert merged.headers["set-cookie"].startswith(f"{CART}=;")
    assert "Max-Age=0" in merged.headers["set-cookie"]
    api_client = await shop.client.get("/api/cart", headers={"X-Cart-Session": "guest-7"})
    assert api_client.headers["x-cart-session"] == "guest-7"  # a client without the CSRF header keeps the header


async def test_a_sealed_session_opens_only_under_its_own_key_and_context_and_on_any_replica(shop, aws):
    sealer = shop.sessions.sealer
    sealed = await sealer.seal(b"tokens", b"session:a")
    assert await sealer.open(sealed, b"session:a") == b"tokens"
    with pytest.raises(ValueError, match="does not verify"):
        await sealer.open(sealed, b"session:b")  # moved under another session's key
    elsewhere = KmsEnvelope(aws.client("kms"), sealer.key_id, sealer.context | {"stage": "other"})
    with pytest.raises(ValueError, match="not wrapped for"):
        await elsewhere.open(sealed, b"session:a")  # KMS refuses the data key outside its encryption context
    replica = KmsEnvelope(aws.client("kms"), sealer.key_id, sealer.context)
    assert await replica.open(sealed, b"session:a") == b"tokens"
    assert await replica.open(sealed, b"session:a") == b"tokens"
    assert replica.kms_calls == 1  # one Decrypt per data key, then from memory
