"""The catalog's settings: ``CATALOG_*`` variables plus the shared ones the local cloud and EKS set."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import DatabaseSettings, RelaySettings


class CatalogSettings(DatabaseSettings, RelaySettings):
    """Every variable is listed with its default in services/catalog/README.md."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", populate_by_name=True)

    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    cache_prefix: str = "catalog:"
    cache_ttl_s: int = Field(
        300, ge=1, description="how long a cached listing may live (product pages: the stock bound of reference/)"
    )
    cache_timeout_s: float = Field(0.25, gt=0, description="a Redis call slower than this counts as a failure")
    cache_retry_after_s: float = Field(5.0, ge=0, description="after a Redis failure, skip the cache this long")
    media_bucket: str | None = Field(None, description="default shop-<stage>-media")
    max_image_bytes: int = Field(1 << 20, ge=1, le=1 << 20)
    reservation_ttl_s: int = Field(900, ge=1, le=86_400)
    sweep_interval_s: float = Field(30.0, ge=0, description="0 turns the in-process sweeper off")

    @property
    def media_bucket_name(self) -> str:
        return self.media_bucket or self.resource("media")
