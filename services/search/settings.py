"""The search service's settings: ``SEARCH_*`` variables, ``OPENSEARCH_URL``, and the shared ones."""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ConsumerSettings

IN_MEMORY = ":memory:"


class Backend(StrEnum):
    TANTIVY = "tantivy"
    OPENSEARCH = "opensearch"


class SearchSettings(ConsumerSettings):
    """Every variable is listed with its default in services/search/README.md."""

    model_config = SettingsConfigDict(env_prefix="SEARCH_", extra="ignore", populate_by_name=True)

    backend: Backend = Field(Backend.TANTIVY, description="tantivy locally, opensearch in AWS")
    index_dir: str | None = Field(None, description="tantivy: the index directory, ':memory:' for RAM")
    reload_s: float = Field(0.5, ge=0, le=60, description="tantivy readers look for new commits this often")
    opensearch_url: str | None = Field(None, validation_alias="OPENSEARCH_URL")
    opensearch_index: str | None = Field(None, description="the alias queries go to; default shop-<stage>-products")
    opensearch_timeout_s: float = Field(5.0, gt=0, le=60)
    database_secret: str | None = Field(None, description="reindex only: default shop/<stage>/database")

    @property
    def index_path(self) -> Path | None:
        """Where the tantivy index lives; None for RAM."""
        if self.index_dir == IN_MEMORY:
            return None
        if self.index_dir:
            return Path(self.index_dir)
        return Path(tempfile.gettempdir()) / "cloudshop" / f"search-{self.stage}"

    @property
    def opensearch_alias(self) -> str:
        return self.opensearch_index or self.resource("products")

    @property
    def database_secret_id(self) -> str:
        return self.database_secret or self.resource("database", sep="/")
