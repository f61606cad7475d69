"""The notification service's settings: ``NOTIFICATION_*`` plus the shared ``SHOP_*`` and AWS variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from reference import RESOURCES
from services.common.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    """Every variable is listed, with its default, in services/notification/README.md."""

    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    # The SES identity e-mails are sent from (provisioned and verified from reference/).
    sender: str = RESOURCES.email_senders[0].address
    # Secrets Manager id of the database credentials; empty means shop/<stage>/database.
    database_secret_id: str = ""
    migrate_on_start: bool = True
    db_pool_size: int = Field(5, ge=1, le=100)
    # Consume the "notification" queue in this process (off for API-only replicas and some tests).
    run_consumer: bool = True
    # SQS long-poll wait; a stop waits for the poll in flight, so shorter stops sooner.
    poll_wait_s: int = Field(10, ge=0, le=20)
    # A folder of templates replacing the packaged ones (same file names); empty: the packaged ones.
    template_dir: str = ""
    shop_name: str = "cloudshop"
    # Where the e-mails' links point (the front door locally, the CloudFront domain in AWS).
    shop_url: str = "http://127.0.0.1:8080"

    @property
    def database_secret(self) -> str:
        """The secret holding the database credentials: shop/<stage>/database unless given."""
        return self.database_secret_id or self.resource("database", sep="/")
