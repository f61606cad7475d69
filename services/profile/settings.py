"""The profile service's settings: ``PROFILE_*`` plus the shared ``SHOP_*`` and AWS variables."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import DatabaseSettings


class ProfileSettings(DatabaseSettings):
    """Every variable is listed, with its default and its old names, in services/profile/README.md."""

    model_config = SettingsConfigDict(env_prefix="PROFILE_", extra="ignore", populate_by_name=True)

    user_pool_id: str = Field("", validation_alias="SHOP_USER_POOL_ID")
    user_pool_client_id: str = Field("", validation_alias="SHOP_USER_POOL_CLIENT_ID")
    # Confirm sign-ups at once (admin_confirm_sign_up), as a dev pool's pre-sign-up trigger with
    # autoConfirmUser would: the local emulator delivers no confirmation e-mails.
    auto_confirm: bool = Field(False, description="confirm every sign-up at once (the emulator sends no e-mail)")
    db_pool_size: int = Field(5, ge=1, le=200, description="connections kept open per process")
    max_addresses: int = Field(20, ge=1, le=1000, description="addresses per user")

    @model_validator(mode="after")
    def _pool_is_named(self) -> ProfileSettings:
        missing = [
            name
            for name, value in (
                ("SHOP_USER_POOL_ID", self.user_pool_id),
                ("SHOP_USER_POOL_CLIENT_ID", self.user_pool_client_id),
            )
            if not value.strip()
        ]
        if missing:
            raise ValueError(f"{' and '.join(missing)} must name the Cognito user pool and its 'web' client")
        return self
