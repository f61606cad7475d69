"""The gateway accepts only access tokens of our user pool and app client, and passes on who the caller is."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway_support import Echo, Pool, gateway_settings, running, sign_as_emulator, sign_in

pytest_plugins = ("gateway_fixtures",)  # pool, idp

ME = "/api/me/profile"


@pytest.fixture
def tokens(idp: Any, pool: Pool) -> dict[str, str]:
    return sign_in(idp, pool.id, pool.client_id, "ada@example.com", groups=("admin",))


def claims_like(token: str, **changes: Any) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False}) | changes


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def get_me(pool: Pool, redis_space: Any, token: str | None, echo: Echo | None = None) -> httpx.Response:
    echo = echo or Echo()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with running(gateway_settings(pool, redis_space.url, redis_space.prefix), echo.app()) as (_, client):
        return await client.get(ME, headers=headers)


async def test_a_good_access_token_passes_with_the_callers_identity(pool, redis_space, tokens):
    echo = Echo()
    response = await get_me(pool, redis_space, tokens["AccessToken"], echo)
    assert response.status_code == 200
    sub = claims_like(tokens["AccessToken"])["sub"]
    seen = echo.calls[0]["headers"]
    assert seen["x-shop-user"] == sub
    assert seen["x-shop-groups"] == "admin"


async def test_no_token_is_anonymous_and_reaches_the_service_without_identity(pool, redis_space):
    echo = Echo()
    response = await get_me(pool, redis_space, None, echo)
    assert response.status_code == 200
    assert "x-shop-user" not in echo.calls[0]["headers"]


async def test_a_token_with_alg_none_is_refused(pool, redis_space, tokens):
    unsigned = jwt.encode(claims_like(tokens["AccessToken"]), None, algorithm="none")
    response = await get_me(pool, redis_space, unsigned)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "RS256" in response.json()["detail"]


async def test_a_token_signed_with_hs256_and_the_public_key_is_refused(pool, redis_space, tokens):
    jwks = httpx.get(pool.jwks_url).json()
    public_pem = jwt.PyJWK(jwks["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': 'dummy'}).encode())}." + b64(
        json.dumps(claims_like(tokens["AccessToken"])).encode()
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    response = await get_me(pool, redis_space, f"{signing_input}.{b64(signature)}")
    assert response.status_code == 401


async def test_a_token_signed_by_another_key_under_the_pools_key_id_is_refused(pool, redis_space, tokens):
    own_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims_like(tokens["AccessToken"]), own_key, algorithm="RS256", headers={"kid": "dummy"})
    response = await get_me(pool, redis_space, forged)
    assert response.status_code == 401
    assert "signature" in response.json()["detail"]


async def test_a_token_naming_an_unknown_key_is_refused(pool, redis_space, tokens):
    own_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims_like(tokens["AccessToken"]), own_key, algorithm="RS256", headers={"kid": "mine"})
    response = await get_me(pool, redis_space, forged)
    assert response.status_code == 401
    assert "key" in response.json()["detail"]


async def test_a_token_made_with_the_emulators_key_and_fresh_claims_passes(pool, redis_space, tokens):
    """The control of the expiry test below: the crafted token differs from a good one by its exp alone."""
    now = int(time.time())
    token = sign_as_emulator(claims_like(tokens["AccessToken"], iat=now, exp=now + 600, jti=str(uuid.uuid4())))
    assert (await get_me(pool, redis_space, token)).status_code == 200


async def test_an_expired_token_is_refused(pool, redis_space, tokens):
    now = int(time.time())
    token = sign_as_emulator(claims_like(tokens["AccessToken"], iat=now - 7200, exp=now - 3600))
    response = await get_me(pool, redis_space, token)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_a_token_of_another_app_client_is_refused(pool, redis_space, idp):
    other = idp.create_user_pool_client(
        UserPoolId=pool.id, ClientName="other", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    foreign = sign_in(idp, pool.id, other, "eve@example.com")
    response = await get_me(pool, redis_space, foreign["AccessToken"])
    assert response.status_code == 401
    assert "client" in response.json()["detail"]


async def test_a_token_of_another_user_pool_is_refused_although_the_emulator_signs_it_with_the_same_key(
    pool, redis_space, idp
):
    other_pool = idp.create_user_pool(PoolName="elsewhere", UsernameAttributes=["email"])["UserPool"]["Id"]
    other_client = idp.create_user_pool_client(
        UserPoolId=other_pool, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    foreign = sign_in(idp, other_pool, other_client, "mallory@example.com")
    # Same client id as ours, so only the issuer tells the pools apart.
    settings_pool = Pool(pool.id, other_client, pool.region, pool.endpoint_url)
    response = await get_me(settings_pool, redis_space, foreign["AccessToken"])
    assert response.status_code == 401
    assert "user pool" in response.json()["detail"]


async def test_an_id_token_is_refused_where_an_access_token_is_needed(pool, redis_space, tokens):
    response = await get_me(pool, redis_space, tokens["IdToken"])
    assert response.status_code == 401
    assert "access" in response.json()["detail"]


@pytest.mark.parametrize("authorization", ["Basic YWRhOnB3", "Bearer", "Bearer not-a-jwt"])
async def test_a_malformed_authorization_header_is_a_401_problem(pool, redis_space, authorization):
    async with running(gateway_settings(pool, redis_space.url, redis_space.prefix), Echo().app()) as (_, client):
        response = await client.get(ME, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["title"] == "Unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_identity_headers_sent_by_a_client_never_reach_a_service(pool, redis_space, idp):
    plain = sign_in(idp, pool.id, pool.client_id, "bob@example.com")
    echo = Echo()
    forged = {"X-Shop-User": "someone-else", "x-shop-email": "boss@example.com", "X-SHOP-GROUPS": "admin"}
    async with running(gateway_settings(pool, redis_space.url, redis_space.prefix), echo.app()) as (_, client):
        await client.get(ME, headers=forged)
        await client.get(ME, headers=forged | {"Authorization": f"Bearer {plain['AccessToken']}"})
    anonymous, signed_in = (call["headers"] for call in echo.calls)
    assert not {"x-shop-user", "x-shop-email", "x-shop-groups"} & set(anonymous)
    assert signed_in["x-shop-user"] == claims_like(plain["AccessToken"])["sub"]
    assert signed_in["x-shop-groups"] == ""
