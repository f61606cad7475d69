"""The profile service's settings: ``PROFILE_*`` plus the shared ``SHOP_*`` and AWS variables."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class ProfileSettings(ServiceSettings):
    """Every variable is listed, with its default, in services/profile/README.md."""

    model_config = SettingsConfigDict(env_prefix="PROFILE_", extra="ignore", populate_by_name=True)

    user_pool_id: str = Field("", validation_alias="SHOP_USER_POOL_ID")
    user_pool_client_id: str = Field("", validation_alias="SHOP_USER_POOL_CLIENT_ID")
    # Confirm sign-ups at once (admin_confirm_sign_up), as a dev pool's pre-sign-up trigger with
    # autoConfirmUser would: the local emulator delivers no confirmation e-mails.
    auto_confirm: bool = False
    # Secrets Manager id of the database credentials; empty means shop/<stage>/database.
    database_secret_id: str = ""
    migrate_on_start: bool = True
    db_pool_size: int = Field(5, ge=1, le=100)
    max_addresses: int = Field(20, ge=1, le=1000)

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

    @property
    def database_secret(self) -> str:
        """The secret holding the database credentials: shop/<stage>/database unless given."""
        return self.database_secret_id or self.resource("database", sep="/")
