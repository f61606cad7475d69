"""The recommendations service's settings: ``RECOMMENDATIONS_*`` plus the shared ``SHOP_*`` and AWS variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ConsumerSettings, DatabaseSettings


class RecommendationsSettings(DatabaseSettings, ConsumerSettings):
    """Every variable is listed, with its default and its old names, in services/recommendations/README.md."""

    model_config = SettingsConfigDict(env_prefix="RECOMMENDATIONS_", extra="ignore")

    db_pool_size: int = Field(5, ge=1, le=200, description="connections kept open per process")
    consumer_wait_s: int = Field(10, ge=0, le=20, description="SQS long-poll wait; a stop does not wait for it")
