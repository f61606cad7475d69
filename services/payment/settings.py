"""The payment service's settings: ``PAYMENT_*`` plus the shared ``SHOP_*`` and AWS variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import DatabaseSettings, RelaySettings


class PaymentSettings(DatabaseSettings, RelaySettings):
    """Every variable is listed, with its default and old names, in services/payment/README.md."""

    model_config = SettingsConfigDict(env_prefix="PAYMENT_", extra="ignore", populate_by_name=True)

    provider: Literal["simulated"] = Field("simulated", description="the provider adapter (the only one)")
    provider_timeout_ms: int = Field(3000, ge=1, le=60_000, description="a provider call slower than this timed out")
    pending_wait_ms: int = Field(
        5000, ge=0, le=60_000, description="how long a request waits for another one holding its idempotency key"
    )
    stale_pending_s: float = Field(
        30.0, ge=0.0, le=3600.0, description="after how long a payment left pending (its caller died) is taken over"
    )

    breaker_failure_ratio: float = Field(
        0.5, gt=0.0, le=1.0, description="share of failed provider calls in the window that opens the breaker"
    )
    breaker_window: int = Field(20, ge=1, le=1000, description="how many of the last provider calls the breaker weighs")
    breaker_min_calls: int = Field(10, ge=1, le=1000, description="calls in the window before it may open")
    breaker_open_s: float = Field(5.0, gt=0.0, le=3600.0, description="how long it stays open before a trial")
    breaker_half_open_calls: int = Field(3, ge=1, le=100, description="trial calls that must succeed to close it")

    sim_decline_rate: float = Field(0.0, ge=0.0, le=1.0)
    sim_timeout_rate: float = Field(0.0, ge=0.0, le=1.0)
    sim_latency_ms: float = Field(30.0, ge=0.0, le=60_000.0)
    sim_latency_jitter_ms: float = Field(20.0, ge=0.0, le=60_000.0)
    sim_duplicate_callbacks: int = Field(0, ge=0, le=10)
    sim_seed: int = 0
