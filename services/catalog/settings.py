"""The catalog's settings: ``CATALOG_*`` variables plus the shared ones the local cloud and EKS set."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    """Every variable is listed with its default in services/catalog/README.md."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", populate_by_name=True)

    database_secret: str | None = Field(None, description="Secrets Manager id; default shop/<stage>/database")
    db_pool_size: int = Field(10, ge=1, le=200)
    db_max_overflow: int = Field(10, ge=0, le=200)
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    cache_prefix: str = "catalog:"
    cache_ttl_s: int = Field(300, ge=1, description="how long a cached product or listing may live")
    cache_timeout_s: float = Field(0.25, gt=0, description="a Redis call slower than this counts as a failure")
    cache_retry_after_s: float = Field(5.0, ge=0, description="after a Redis failure, skip the cache this long")
    media_bucket: str | None = Field(None, description="default shop-<stage>-media")
    max_image_bytes: int = Field(1 << 20, ge=1, le=1 << 20)
    reservation_ttl_s: int = Field(900, ge=1, le=86_400)
    sweep_interval_s: float = Field(30.0, ge=0, description="0 turns the in-process sweeper off")
    run_relay: bool = Field(True, description="publish the outbox (catalog events) to SNS from this process")
    relay_idle_s: float = Field(0.2, gt=0, le=60, description="the relay's pause when the outbox is empty")

    @property
    def database_secret_id(self) -> str:
        return self.database_secret or self.resource("database", sep="/")

    @property
    def media_bucket_name(self) -> str:
        return self.media_bucket or self.resource("media")
