"""The notification service's settings: ``NOTIFICATION_*`` plus the shared ``SHOP_*`` and AWS variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from reference import RESOURCES
from services.common.settings import ConsumerSettings, DatabaseSettings


class NotificationSettings(DatabaseSettings, ConsumerSettings):
    """Every variable is listed, with its default and its old names, in services/notification/README.md."""

    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    sender: str = Field(
        RESOURCES.email_senders[0].address, description="the SES identity e-mails are sent from (verified)"
    )
    db_pool_size: int = Field(5, ge=1, le=200, description="connections kept open per process")
    consumer_wait_s: int = Field(10, ge=0, le=20, description="SQS long-poll wait; a stop does not wait for it")
    template_dir: str = Field("", description="a folder of templates replacing the packaged ones (same names)")
    shop_name: str = Field("cloudshop", description="the name e-mails sign with")
    shop_url: str = Field("http://127.0.0.1:8080", description="where the e-mails' links point (the front door)")
