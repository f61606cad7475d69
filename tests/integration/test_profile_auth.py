"""Sign-up, confirm, sign-in, refresh and sign-out through the profile service, against the emulator's Cognito."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from profile_support import PASSWORD, fields_of, provision, running, settings_for

from localcloud.provision import Outputs

EMAIL = "ada@example.com"


@pytest.fixture
def cloud(aws: Any, pg_url: str) -> Outputs:
    return provision(aws, pg_url)


@pytest.fixture
def settings(cloud: Outputs) -> Any:
    return settings_for(cloud)


def claims(token: str, aws: Any, pool_id: str) -> dict[str, Any]:
    """The token's claims, its signature checked against the pool's JWKS (as the gateway does)."""
    keys = jwt.PyJWKClient(f"{aws.endpoint_url}/{pool_id}/.well-known/jwks.json")
    key = keys.get_signing_key_from_jwt(token).key
    return jwt.decode(token, key, algorithms=["RS256"], options={"verify_aud": False})


async def test_a_new_user_signs_up_confirms_signs_in_refreshes_and_signs_out(settings: Any, aws: Any) -> None:
    async with running(settings) as api:
        signed_up = await api.post("/auth/signup", json={"email": "Ada@Example.com", "password": PASSWORD})
        assert signed_up.status_code == 201, signed_up.text
        assert signed_up.json()["confirmed"] is False

        early = await api.post("/auth/signin", json={"email": EMAIL, "password": PASSWORD})
        assert early.status_code == 403
        assert early.json()["code"] == "not_confirmed"

        confirmed = await api.post("/auth/confirm", json={"email": EMAIL, "code": "123456"})
        assert confirmed.status_code == 200, confirmed.text

        signed_in = await api.post("/auth/signin", json={"email": EMAIL, "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        tokens = signed_in.json()
        assert tokens["expires_in"] > 0
        assert tokens["refresh_token"]
        assert tokens["id_token"]
        access = claims(tokens["access_token"], aws, settings.user_pool_id)
        user = aws.client("cognito-idp").admin_get_user(UserPoolId=settings.user_pool_id, Username=EMAIL)
        assert access["sub"] == next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
        assert access["token_use"] == "access"

        refreshed = await api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        assert claims(refreshed.json()["access_token"], aws, settings.user_pool_id)["sub"] == access["sub"]

        out = await api.post("/auth/signout", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert out.status_code == 204, out.text

        revoked = await api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert revoked.status_code == 401
        assert "revoked" in revoked.json()["detail"]


async def test_with_auto_confirm_a_sign_up_signs_in_at_once(cloud: Outputs) -> None:
    async with running(settings_for(cloud, auto_confirm=True)) as api:
        signed_up = await api.post("/auth/signup", json={"email": EMAIL, "password": PASSWORD})
        assert signed_up.json()["confirmed"] is True
        signed_in = await api.post("/auth/signin", json={"email": EMAIL, "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text


async def test_a_sign_up_answers_the_same_for_a_new_and_a_registered_address(settings: Any) -> None:
    async with running(settings) as api:
        first = await api.post("/auth/signup", json={"email": EMAIL, "password": PASSWORD})
        again = await api.post("/auth/signup", json={"email": "ADA@example.com", "password": "Other-Horse-42"})
        kept = await api.post("/auth/signin", json={"email": EMAIL, "password": "Other-Horse-42"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()  # nothing tells a registered address apart: no 409, no sub
    assert "sub" not in first.json()
    assert "check the mail to a***@e***" in first.json()["detail"]
    assert kept.status_code in (401, 403)  # the second sign-up changed nothing of the account


async def test_a_weak_password_is_refused_naming_the_field_and_the_policy(settings: Any) -> None:
    async with running(settings) as api:
        weak = await api.post("/auth/signup", json={"email": EMAIL, "password": "short"})
    assert weak.status_code == 422
    assert fields_of(weak.json()) == {"password"}
    assert "at least 10 characters" in weak.json()["detail"]


async def test_a_wrong_password_and_an_unknown_user_get_the_same_401(settings: Any) -> None:
    async with running(settings) as api:
        await api.post("/auth/signup", json={"email": EMAIL, "password": PASSWORD})
        await api.post("/auth/confirm", json={"email": EMAIL, "code": "123456"})
        wrong = await api.post("/auth/signin", json={"email": EMAIL, "password": PASSWORD + "x"})
        unknown = await api.post("/auth/signin", json={"email": "nobody@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["WWW-Authenticate"] == "Bearer"


async def test_signing_out_needs_a_valid_access_token(settings: Any) -> None:
    async with running(settings) as api:
        missing = await api.post("/auth/signout")
        forged = await api.post("/auth/signout", headers={"Authorization": "Bearer not-a-token"})
    assert missing.status_code == forged.status_code == 401


async def test_malformed_auth_bodies_name_the_bad_field(settings: Any) -> None:
    async with running(settings) as api:
        bad_email = await api.post("/auth/signup", json={"email": "not-an-address", "password": PASSWORD})
        no_password = await api.post("/auth/signin", json={"email": EMAIL})
        bad_code = await api.post("/auth/confirm", json={"email": EMAIL, "code": "12ab"})
        form = await api.post("/auth/signin", content=b"email=a", headers={"Content-Type": "text/plain"})
        broken = await api.post("/auth/signin", content=b"{", headers={"Content-Type": "application/json"})
    assert (bad_email.status_code, fields_of(bad_email.json())) == (422, {"email"})
    assert (no_password.status_code, fields_of(no_password.json())) == (422, {"password"})
    assert (bad_code.status_code, fields_of(bad_code.json())) == (422, {"code"})
    assert form.status_code == 415
    assert broken.status_code == 422


async def test_a_user_who_must_set_a_new_password_is_told_so(settings: Any, aws: Any) -> None:
    idp = aws.client("cognito-idp")
    idp.admin_create_user(
        UserPoolId=settings.user_pool_id, Username=EMAIL, TemporaryPassword=PASSWORD, MessageAction="SUPPRESS"
    )
    async with running(settings) as api:
        signed_in = await api.post("/auth/signin", json={"email": EMAIL, "password": PASSWORD})
    assert signed_in.status_code == 409
    assert signed_in.json()["challenge"] == "NEW_PASSWORD_REQUIRED"
