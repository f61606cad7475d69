"""The notification service: ``uvicorn services.notification.app:create_app --factory``.

Its parts: the database (the ``notification`` schema, migrated at start), the SES mailer and the
templates, and the idempotent consumer of the "notification" queue (not built at all when
``NOTIFICATION_RUN_CONSUMER=false``).
"""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.consumer import IdempotentPolicy
from services.common.runtime import Runtime
from services.notification import api
from services.notification.adapters.postgres import PostgresLedger, PostgresSentEmails
from services.notification.adapters.ses import SesMailer
from services.notification.adapters.templates import JinjaTemplates
from services.notification.service import Notifications
from services.notification.settings import NotificationSettings

NAME = "notification"
SCHEMA = "notification"
QUEUE = "notification"


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    """The notification service as an ASGI app; nothing connects until it starts."""
    settings = settings or NotificationSettings()

    async def parts(rt: Runtime) -> None:
        database = await rt.database("services.notification", SCHEMA)
        mailer = SesMailer(settings.sender, settings.aws_region)
        rt.on_close(mailer.close)
        templates = JinjaTemplates(settings.template_dir, shop_name=settings.shop_name, shop_url=settings.shop_url)
        rt.state.notifications = notifications = Notifications(
            templates, mailer, PostgresLedger, PostgresSentEmails(database)
        )
        rt.state.policy = policy = IdempotentPolicy(database, notifications.handle)
        rt.consumer(QUEUE, policy)

    return create_service_app(NAME, settings, [api.public, api.internal], parts=parts)
