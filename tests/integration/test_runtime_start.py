"""The chassis' start-up promise: a service with an outbox starts while SNS is unreachable, reports its relay as
not ready in /readyz (degraded, still 200: the API keeps serving), keeps its events in the outbox, and
publishes them once SNS answers again. A service with a queue consumer starts while SQS is unreachable
the same way, and its consumer connects once SQS answers.

SNS (and STS, which the publisher asks for the account once) are reached through a fault proxy that
resets every connection; the database secret and everything else reach the emulator directly, as in
an outage of one AWS service.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from fastapi import FastAPI

from localcloud.faultproxy import FaultProxy, Mode
from reference.events import new_event
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.checkout.app import create_app as create_checkout
from services.checkout.settings import CheckoutSettings
from services.common import outbox
from services.order.app import create_app as create_order
from services.order.settings import OrderSettings
from services.payment.app import create_app as create_payment
from services.payment.settings import PaymentSettings

# Every service that runs an outbox relay, built with its settings for the test's stage and database.
RELAY_SERVICES: dict[str, Callable[[Any, str], FastAPI]] = {
    "catalog": lambda aws, secret: create_catalog(
        CatalogSettings(stage=aws.stage, aws_region=aws.region, database_secret=secret, sweep_interval_s=0)
    ),
    "checkout": lambda aws, secret: create_checkout(
        CheckoutSettings(stage=aws.stage, aws_region=aws.region, database_secret=secret, sweep_interval_s=0)
    ),
    "order": lambda aws, secret: create_order(
        OrderSettings(stage=aws.stage, aws_region=aws.region, database_secret=secret, consumer_wait_s=1)
    ),
    "payment": lambda aws, secret: create_payment(
        PaymentSettings(stage=aws.stage, aws_region=aws.region, database_secret=secret)
    ),
}


async def readiness(client: httpx.AsyncClient, until: Callable[[dict[str, Any]], bool], within_s: float = 20) -> dict:
    deadline = time.monotonic() + within_s
    while True:
        response = await client.get("/readyz")
        body = response.json()
        body["http_status"] = response.status_code
        if until(body) or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.2)


@asynccontextmanager
async def unreachable(aws: Any, monkeypatch: pytest.MonkeyPatch, *apis: str) -> AsyncIterator[FaultProxy]:
    """The AWS ``apis`` (``SNS``, ``SQS``...) reached through a proxy that resets every connection until it passes."""
    async with FaultProxy("127.0.0.1", urlparse(aws.endpoint_url).port) as proxy:
        proxy.set(Mode.RESET)
        for api in apis:
            monkeypatch.setenv(f"AWS_ENDPOINT_URL_{api}", proxy.url)
        yield proxy


async def degraded(client: httpx.AsyncClient, part: str, api: str, proxy: FaultProxy) -> None:
    """``/readyz`` reports ``part`` down for want of ``api`` as a background part: degraded, still 200."""
    down = await readiness(client, lambda b: b["checks"].get(part, {}).get("status") == "down")
    assert down["http_status"] == 200, down
    assert down["status"] == "degraded", down
    assert down["checks"][part]["critical"] is False
    assert down["checks"]["database"]["status"] == "up"
    assert api in down["checks"][part]["detail"]
    assert proxy.counters["reset"] >= 1, "the fault never took effect: no connection reached the proxy"


@pytest.mark.parametrize("service", sorted(RELAY_SERVICES))
async def test_a_service_starts_with_sns_unreachable_and_its_relay_recovers_when_sns_returns(
    service, aws, database_secret, serve_app, monkeypatch
):
    async with unreachable(aws, monkeypatch, "SNS", "STS") as proxy:
        app = RELAY_SERVICES[service](aws, database_secret)
        url = await serve_app(app)

        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await degraded(client, "relay", "SNS", proxy)

            # An event committed meanwhile waits in the outbox.
            relay = app.state.relay
            async with relay.database.transaction() as conn:
                await outbox.enqueue(
                    conn,
                    new_event(
                        "CheckoutFailed",
                        source=service,
                        subject="c1",
                        data={"checkout_id": "c1", "customer_sub": "s1", "reason": "test"},
                    ),
                )
            assert await relay.pending() == 1

            proxy.set(Mode.PASS)
            up = await readiness(client, lambda b: b["status"] == "ok")
            assert up["status"] == "ok", up
            assert up["checks"]["relay"]["status"] == "up", up
            assert proxy.counters["forwarded"] >= 1
            deadline = time.monotonic() + 10
            while await relay.pending() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert await relay.pending() == 0, "the waiting event was not published after SNS returned"


def _consumer_services() -> dict[str, Callable[[Any, str], FastAPI]]:
    from services.notification.app import create_app as create_notification
    from services.notification.settings import NotificationSettings
    from services.recommendations.app import create_app as create_recommendations
    from services.recommendations.settings import RecommendationsSettings

    return {
        "notification": lambda aws, secret: create_notification(
            NotificationSettings(stage=aws.stage, aws_region=aws.region, database_secret=secret, consumer_wait_s=1)
        ),
        "recommendations": lambda aws, secret: create_recommendations(
            RecommendationsSettings(stage=aws.stage, aws_region=aws.region, database_secret=secret, consumer_wait_s=1)
        ),
    }


# Every service that consumes a queue, built with its settings for the test's stage and database.
CONSUMER_SERVICES = _consumer_services()


@pytest.mark.parametrize("service", sorted(CONSUMER_SERVICES))
async def test_a_service_starts_with_sqs_unreachable_and_its_consumer_recovers_when_sqs_returns(
    service, aws, database_secret, serve_app, monkeypatch
):
    async with unreachable(aws, monkeypatch, "SQS") as proxy:
        url = await serve_app(CONSUMER_SERVICES[service](aws, database_secret))

        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await degraded(client, "consumer", "SQS", proxy)

            proxy.set(Mode.PASS)
            up = await readiness(client, lambda b: b["status"] == "ok")
            assert up["checks"]["consumer"]["status"] == "up", up
            assert proxy.counters["forwarded"] >= 1
