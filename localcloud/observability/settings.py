"""``SHOP_OBSERVABILITY_*``: how often the local CloudWatch works, and the one local liberty with alarm periods."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ObservabilitySettings(BaseSettings):
    """Every variable is listed in docs/metrics-and-alarms.md."""

    model_config = SettingsConfigDict(env_prefix="SHOP_OBSERVABILITY_", extra="ignore")

    alarm_period_s: int | None = Field(
        None, ge=1, le=86_400,
        description="replace every alarm's period when provisioning locally (a demo or a test that cannot wait "
        "minutes); unset, the emulator's alarms are exactly the template's",
    )  # fmt: skip
    evaluate_every_s: float = Field(10.0, gt=0, le=600, description="how often the evaluator judges every alarm")
    sqs_poll_s: float = Field(60.0, gt=0, le=600, description="how often AWS/SQS metrics are published (AWS: 60 s)")
    publish_every_s: float = Field(10.0, gt=0, le=600, description="how often the agent calls PutMetricData")
    snapshot_every_s: float = Field(10.0, gt=0, le=3600, description="how often the dashboard's data is written")
