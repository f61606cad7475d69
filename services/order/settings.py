"""The order service's settings: ``ORDER_*`` variables plus the shared ones the local cloud and EKS set."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class OrderSettings(ServiceSettings):
    """Every variable is listed with its default in services/order/README.md."""

    model_config = SettingsConfigDict(env_prefix="ORDER_", extra="ignore", populate_by_name=True)

    database_secret: str | None = Field(None, description="Secrets Manager id; default shop/<stage>/database")
    db_pool_size: int = Field(10, ge=1, le=200)
    db_max_overflow: int = Field(10, ge=0, le=200)
    migrate_on_start: bool = Field(True, description="run the Alembic migrations in the lifespan")
    run_relay: bool = Field(True, description="publish the outbox to SNS from this process")
    run_consumer: bool = Field(True, description="consume the order-payments queue in this process")
    relay_idle_s: float = Field(0.2, gt=0, le=60, description="the relay's pause when the outbox is empty")
    consumer_wait_s: int = Field(20, ge=0, le=20, description="SQS long-poll wait of the consumer")
    page_size: int = Field(20, ge=1, le=100, description="default page size of GET /orders")

    @property
    def database_secret_id(self) -> str:
        return self.database_secret or self.resource("database", sep="/")
