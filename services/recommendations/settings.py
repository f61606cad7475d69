"""The recommendations service's settings: ``RECOMMENDATIONS_*`` plus the shared ``SHOP_*`` and AWS variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class RecommendationsSettings(ServiceSettings):
    """Every variable is listed, with its default, in services/recommendations/README.md."""

    model_config = SettingsConfigDict(env_prefix="RECOMMENDATIONS_", extra="ignore")

    # Secrets Manager id of the database credentials; empty means shop/<stage>/database.
    database_secret_id: str = ""
    migrate_on_start: bool = True
    db_pool_size: int = Field(5, ge=1, le=100)
    # Consume the "recommendations" queue in this process (off for API-only replicas and some tests).
    run_consumer: bool = True
    # SQS long-poll wait; a stop waits for the poll in flight, so shorter stops sooner.
    poll_wait_s: int = Field(10, ge=0, le=20)

    @property
    def database_secret(self) -> str:
        """The secret holding the database credentials: shop/<stage>/database unless given."""
        return self.database_secret_id or self.resource("database", sep="/")
