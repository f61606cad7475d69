"""The profile service's start-up rules, without servers: it refuses to start unnamed, and builds nothing early."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.profile.app import create_app
from services.profile.settings import ProfileSettings


def test_the_settings_refuse_to_start_without_a_user_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_USER_POOL_ID", raising=False)
    monkeypatch.setenv("SHOP_USER_POOL_CLIENT_ID", "abc")
    with pytest.raises(ValidationError, match="SHOP_USER_POOL_ID"):
        ProfileSettings()


def test_no_request_reaches_cognito_or_the_database_before_the_app_starts() -> None:
    app = create_app(ProfileSettings(user_pool_id="us-east-1_pool", user_pool_client_id="web"))
    assert not hasattr(app.state, "accounts")
    assert not hasattr(app.state, "profiles")


def test_the_old_database_secret_name_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILE_DATABASE_SECRET_ID", "shop/old/database")
    settings = ProfileSettings(user_pool_id="us-east-1_pool", user_pool_client_id="web")
    assert settings.database_secret_id == "shop/old/database"
