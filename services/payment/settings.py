"""The payment service's settings: ``PAYMENT_*`` plus the shared ``SHOP_*`` and AWS variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class PaymentSettings(ServiceSettings):
    """Every variable is listed, with its default, in services/payment/README.md."""

    model_config = SettingsConfigDict(env_prefix="PAYMENT_", extra="ignore", populate_by_name=True)

    # Secrets Manager id of the database credentials; empty means shop/<stage>/database.
    database_secret_id: str = ""
    migrate_on_start: bool = True
    db_pool_size: int = Field(10, ge=1, le=100)
    # Publish the outbox to SNS from this process (the diagram's event publisher).
    run_relay: bool = True
    relay_idle_ms: int = Field(200, ge=10, le=60_000)

    provider: Literal["simulated"] = "simulated"
    provider_timeout_ms: int = Field(3000, ge=1, le=60_000)
    # How long a request waits for another one holding its idempotency key, and after how
    # long a payment left pending (its caller died) may be taken over.
    pending_wait_ms: int = Field(5000, ge=0, le=60_000)
    stale_pending_s: float = Field(30.0, ge=0.0, le=3600.0)

    sim_decline_rate: float = Field(0.0, ge=0.0, le=1.0)
    sim_timeout_rate: float = Field(0.0, ge=0.0, le=1.0)
    sim_latency_ms: float = Field(30.0, ge=0.0, le=60_000.0)
    sim_latency_jitter_ms: float = Field(20.0, ge=0.0, le=60_000.0)
    sim_duplicate_callbacks: int = Field(0, ge=0, le=10)
    sim_seed: int = 0

    @property
    def database_secret(self) -> str:
        """The secret holding the database credentials: shop/<stage>/database unless given."""
        return self.database_secret_id or self.resource("database", sep="/")
