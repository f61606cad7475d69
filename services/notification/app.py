"""The notification service's wiring: ``create_app(settings)`` builds nothing until the app starts.

At start (the lifespan) it reads the database credentials from Secrets Manager, migrates the
``notification`` schema, builds the SES mailer and the templates, and runs the consumer of
the "notification" queue as a background task (unless ``NOTIFICATION_RUN_CONSUMER=false``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common import db
from services.common.app import Check, create_service_app
from services.common.background import Loops
from services.common.consumer import Consumer
from services.notification import api
from services.notification.adapters.postgres import PostgresLedger, PostgresSentEmails
from services.notification.adapters.ses import SesMailer
from services.notification.adapters.templates import JinjaTemplates
from services.notification.service import Notifier
from services.notification.settings import NotificationSettings

NAME = "notification"
SCHEMA = "notification"
QUEUE = "notification"


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    """The notification service as an ASGI app (uvicorn: ``services.notification.app:create_app --factory``)."""
    settings = settings or NotificationSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = await db.prepare("services.notification", SCHEMA, settings.database_secret, settings.aws_region,
                               migrate_schema=settings.migrate_on_start)  # fmt: skip
        engine = db.async_engine(url, SCHEMA, pool_size=settings.db_pool_size)
        mailer = SesMailer(settings.sender, settings.aws_region)
        templates = JinjaTemplates(settings.template_dir, shop_name=settings.shop_name, shop_url=settings.shop_url)
        notifier = Notifier(templates, mailer, PostgresLedger)
        app.state.sent = PostgresSentEmails(engine)
        app.state.consumer = await asyncio.to_thread(
            Consumer, engine, QUEUE, notifier, stage=settings.stage, region=settings.aws_region,
            wait_s=settings.poll_wait_s,
        )  # fmt: skip
        app.state.loops = loops = Loops()
        if settings.run_consumer:
            loops.start("consumer", app.state.consumer.run)
        try:
            yield
        finally:
            await loops.close()
            mailer.close()
            await engine.dispose()

    def checks(app: FastAPI) -> dict[str, Check]:
        return {"database": app.state.sent.ping, **app.state.loops.checks()}

    return create_service_app(NAME, settings, [api.public, api.internal], lifespan=lifespan, checks=checks)
