"""Settings of the checkout service (prefix ``CHECKOUT_``); see README.md for the table."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class CheckoutSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHECKOUT_", extra="ignore")

    database_secret: str | None = Field(None, description="Secrets Manager id; default shop/<stage>/database")
    db_pool_size: int = Field(10, ge=1, le=200)
    call_timeout_s: float = Field(5.0, gt=0, description="timeout of each call to another service")
    lease_s: float = Field(30.0, gt=0, description="how long one runner owns a saga before the sweeper may take it")
    reservation_ttl_s: int = Field(900, gt=0, description="stock holds expire after this if nobody commits them")
    shipping_minor: int = Field(0, ge=0, description="flat shipping added to every order")
    sweep_interval_s: float = Field(5.0, ge=0, description="0 turns the in-process sweeper off")
    run_relay: bool = Field(True, description="publish this service's outbox to SNS from this process")
    wait_for_twin_s: float = Field(15.0, gt=0, description="a request with a key already running waits this long")

    @property
    def database_secret_id(self) -> str:
        return self.database_secret or self.resource("database", sep="/")
