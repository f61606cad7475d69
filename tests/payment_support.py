"""Helpers of the payment tests: the service started against this test's database, and what it wrote."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from localcloud.provision import database_secret as database_secret_value
from services.common import db
from services.common.outbox import outbox
from services.payment.adapters.simulated import SimulatedProvider
from services.payment.adapters.tables import payment_attempts, payments, provider_callbacks
from services.payment.app import create_app
from services.payment.settings import PaymentSettings

EVENTS = db.Query(sa.select(outbox.c.event_type, outbox.c.body).order_by(outbox.c.created_at))


@pytest.fixture
def payment_db_secret(aws: Any, pg_url: str) -> str:
    """Only the stage's database secret, pointed at this test's database: for tests that publish nothing.

    Provisioning every resource of the model (the ``database_secret`` fixture) costs seconds a
    test; the service reads nothing else at start unless its relay runs.
    """
    name = f"shop/{aws.stage}/database"
    aws.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(database_secret_value(pg_url)))
    return name


def settings_for(aws: Any, database_secret: str, **overrides: Any) -> PaymentSettings:
    """Fast, quiet defaults: no latency, a short provider timeout, no relay unless asked for."""
    values: dict[str, Any] = {
        "stage": aws.stage,
        "aws_region": aws.region,
        "database_secret": database_secret,
        "run_relay": False,
        "sim_latency_ms": 0,
        "sim_latency_jitter_ms": 0,
        "provider_timeout_ms": 200,
    }
    return PaymentSettings(**values | overrides)


@dataclass
class Running:
    """The started service: a client that calls it in-process, and its provider and tables to inspect."""

    app: FastAPI
    client: httpx.AsyncClient

    @property
    def provider(self) -> SimulatedProvider:
        return self.app.state.provider

    @property
    def database(self) -> db.Database:
        return self.app.state.orchestrator.payments.database

    async def count(self, table: sa.Table, *where: Any) -> int:
        return await self.database.fetchval(db.Query(sa.select(sa.func.count()).select_from(table).where(*where)))

    async def events(self) -> list[tuple[str, dict[str, Any]]]:
        """(event_type, data) of every event written to the outbox, oldest first."""
        rows = await self.database.fetch(EVENTS)
        return [(r["event_type"], r["body"]["data"]) for r in rows]

    async def event_types(self) -> list[str]:
        return [t for t, _ in await self.events()]


TABLES = {"payments": payments, "attempts": payment_attempts, "callbacks": provider_callbacks}


@asynccontextmanager
async def running(settings: PaymentSettings) -> AsyncIterator[Running]:
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Running(app, client)


def authorization(method: str = "pm_card_ok", **overrides: Any) -> dict[str, Any]:
    """A valid authorize body with a fresh key and order."""
    body = {
        "idempotency_key": f"chk-{uuid.uuid4().hex}:authorize",
        "order_id": f"ord-{uuid.uuid4().hex[:12]}",
        "amount_minor": 4999,
        "currency": "EUR",
        "customer_sub": "sub-alice",
        "payment_method": method,
    }
    return body | overrides
