"""Settings of the checkout service (prefix ``CHECKOUT_``); see README.md for the table."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import DatabaseSettings, RelaySettings


class CheckoutSettings(DatabaseSettings, RelaySettings):
    model_config = SettingsConfigDict(env_prefix="CHECKOUT_", extra="ignore")

    call_timeout_s: float = Field(5.0, gt=0, description="timeout of each call to another service")
    lease_s: float = Field(30.0, gt=0, description="how long one runner owns a saga before the sweeper may take it")
    reservation_ttl_s: int = Field(900, gt=0, description="stock holds expire after this if nobody commits them")
    shipping_minor: int = Field(0, ge=0, description="flat shipping added to every order")
    sweep_interval_s: float = Field(5.0, ge=0, description="0 turns the in-process sweeper off")
    wait_for_twin_s: float = Field(15.0, gt=0, description="a request with a key already running waits this long")
    email_cache_s: float = Field(
        300.0, ge=0, description="a shopper's e-mail from the profile service is reused this long (0: asked each time)"
    )
