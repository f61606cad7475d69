"""Settings of the cart service (prefix ``CART_``); see README.md for the table."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class CartSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CART_", extra="ignore")

    carts_table: str = Field("carts", description="logical name of the carts table in reference/")
    sessions_table: str = Field("sessions", description="logical name of the sessions table in reference/")
    guest_ttl_s: int = Field(7 * 24 * 3600, gt=0, description="a guest session and its cart live this long")
    user_ttl_s: int = Field(90 * 24 * 3600, gt=0, description="a signed-in user's cart lives this long untouched")
    max_lines: int = Field(50, gt=0)
    max_quantity: int = Field(99, gt=0, description="units of one product per cart")
    write_retries: int = Field(8, ge=1, description="re-reads after a lost optimistic-concurrency race")
