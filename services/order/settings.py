"""The order service's settings: ``ORDER_*`` variables plus the shared ones the local cloud and EKS set."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ConsumerSettings, DatabaseSettings, RelaySettings


class OrderSettings(DatabaseSettings, RelaySettings, ConsumerSettings):
    """Every variable is listed with its default in services/order/README.md."""

    model_config = SettingsConfigDict(env_prefix="ORDER_", extra="ignore", populate_by_name=True)

    page_size: int = Field(20, ge=1, le=100, description="default page size of GET /orders")
