"""Settings of the local edge (prefix ``EDGE_``); every one is listed with its default in docs/edge.md."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _run_dir_log(name: str) -> Path | None:
    """``<run dir>/logs/<name>`` of a ``nox -s up`` run (the supervisor passes SHOP_OUTPUTS in the run dir)."""
    outputs = os.environ.get("SHOP_OUTPUTS")
    return Path(outputs).parent / "logs" / name if outputs else None


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EDGE_", extra="ignore")

    access_log: Path | None = Field(default_factory=lambda: _run_dir_log("edge-access.log"))
    waf_log: Path | None = Field(default_factory=lambda: _run_dir_log("waf.log"))
    log_flush_s: float = Field(1.0, gt=0)
    waf_enabled: bool = True
    # A local override of every rate-based rule's limit: load tests send everything from one address.
    waf_rate_limit: int | None = Field(None, gt=0)
    # CloudFront derives the country from the client address; locally a header says it.
    country_header: str = "x-shop-country"
    # Unset: the client address is the TCP peer, as CloudFront sees it. Set (tests, load tools) to
    # let a header stand for many clients; never set it where untrusted clients connect.
    client_ip_header: str | None = None
    cache_bytes: int = Field(256 * 1024 * 1024, ge=0)
    location: str = "LCL1-P1"  # x-edge-location, X-Amz-Cf-Pop
    origin_timeout_s: float = Field(30.0, gt=0)  # the api origin's OriginReadTimeout
    metrics_interval_s: float = Field(60.0, ge=0)  # PutMetricData to the emulator's CloudWatch; 0: never
