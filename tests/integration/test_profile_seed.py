"""The demo users of the local shop: seeded once, whatever the number of runs."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from profile_support import provision, running, settings_for

from localcloud.provision import Outputs
from services.profile import seed


@pytest.fixture
def cloud(aws: Any, pg_url: str) -> Outputs:
    return provision(aws, pg_url)


@pytest.fixture
def pool_env(cloud: Outputs, monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables the local stack gives the seed (the database secret is the stage's own)."""
    monkeypatch.setenv("SHOP_USER_POOL_ID", cloud.user_pool_id)
    monkeypatch.setenv("SHOP_USER_POOL_CLIENT_ID", cloud.user_pool_clients["web"])


async def test_the_seed_is_idempotent_and_its_demo_logins_work(pool_env: None, cloud: Outputs, aws: Any) -> None:
    settings = settings_for(cloud)
    first = await seed.seed(settings)
    second = await seed.seed(settings)
    assert first == second
    assert "demo@shop.example.com / Demo-Shopper-1" in first

    idp = aws.client("cognito-idp")
    users = idp.list_users(UserPoolId=cloud.user_pool_id)["Users"]
    assert sorted(u["UserStatus"] for u in users) == ["CONFIRMED", "CONFIRMED"]
    admins = idp.list_users_in_group(UserPoolId=cloud.user_pool_id, GroupName="admin")["Users"]
    assert [_email(a) for a in admins] == ["admin@shop.example.com"]

    async with running(settings) as api:
        for user in seed.DEMO_USERS:
            signed_in = await api.post("/auth/signin", json={"email": user.email, "password": user.password})
            assert signed_in.status_code == 200, signed_in.text
            claims = jwt.decode(signed_in.json()["id_token"], options={"verify_signature": False})
            assert claims.get("cognito:groups", []) == list(user.groups)
            headers = {"X-Shop-User": claims["sub"], "X-Shop-Email": user.email}
            assert (await api.get("/me", headers=headers)).json()["display_name"] == user.display_name
            assert len((await api.get("/me/addresses", headers=headers)).json()["items"]) == 1


def _email(user: dict[str, Any]) -> str:
    return next(a["Value"] for a in user["Attributes"] if a["Name"] == "email")
