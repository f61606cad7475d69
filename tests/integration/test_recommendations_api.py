"""Recommendations count confirmed orders once each and answer every product page, falling back to popular."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager

from reference.events import Event, new_event
from services.common.consumer import QueueConsumer
from services.common.sqs import SqsSource
from services.recommendations.app import QUEUE, create_app
from services.recommendations.settings import RecommendationsSettings
from tests.consumer_support import drain, publish, queue_depth

NAMES = {"mug": "Mug", "tea": "Tea", "spoon": "Spoon", "plate": "Plate"}


def order(order_id: str, lines: dict[str, int], event_type: str = "OrderConfirmed") -> Event:
    data = {
        "order_id": order_id,
        "customer_sub": "sub-1",
        "email": "ann@example.com",
        "currency": "EUR",
        "total_minor": 100 * sum(lines.values()),
        "lines": [
            {"product_id": p, "name": NAMES[p], "quantity": q, "unit_price_minor": 100} for p, q in lines.items()
        ],
        "status": "confirmed",
    }
    return new_event(event_type, source="order", subject=order_id, data=data)


@pytest.fixture
async def app(aws, provisioned, database_secret):
    """The service with its consumer switched off; the test polls the queue itself (``consumer``)."""
    app = create_app(RecommendationsSettings(run_consumer=False))
    async with LifespanManager(app):
        yield app


def consumer(app, aws) -> QueueConsumer:
    """The service's own policy over its queue, polled when the test says (the app built no consumer)."""
    assert not hasattr(app.state, "consumer"), "RECOMMENDATIONS_RUN_CONSUMER=false must build no consumer"
    return QueueConsumer(SqsSource.connect(QUEUE, stage=aws.stage, region=aws.region, wait_s=0), app.state.policy)


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def together(client, product_id: str, **params) -> tuple[str, list[tuple[str, int]]]:
    response = await client.get(f"/recommendations/products/{product_id}/bought-together", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["source"], [(i["product_id"], i["orders"]) for i in body["items"]]


async def test_counts_after_a_few_orders_are_symmetric_and_ranked(aws, app, client):
    publish(aws, order("o-1", {"mug": 1, "tea": 2, "spoon": 1}), order("o-2", {"mug": 1, "tea": 1}))
    publish(aws, order("o-3", {"mug": 2, "plate": 3}), order("o-4", {"mug": 1, "spoon": 5}, "OrderPlaced"))
    assert (await drain(consumer(app, aws))).handled == 3  # OrderPlaced is not confirmed: the filter keeps it out

    assert await together(client, "mug") == ("bought-together", [("tea", 2), ("plate", 1), ("spoon", 1)])
    assert await together(client, "tea") == ("bought-together", [("mug", 2), ("spoon", 1)])
    assert await together(client, "plate") == ("bought-together", [("mug", 1)])
    assert await together(client, "spoon") == ("bought-together", [("mug", 1), ("tea", 1)])
    assert await together(client, "mug", limit=1) == ("bought-together", [("tea", 2)])

    popular = (await client.get("/recommendations/popular")).json()
    assert popular["source"] == "popular"
    # mug in 3 orders, tea in 2, then plate and spoon in 1 each: plate first, with more units (3 to 1).
    assert [(i["product_id"], i["name"], i["orders"]) for i in popular["items"]] == [
        ("mug", "Mug", 3),
        ("tea", "Tea", 2),
        ("plate", "Plate", 1),
        ("spoon", "Spoon", 1),
    ]


async def test_a_duplicate_delivery_is_counted_once(aws, provisioned, app, client):
    event = order("o-5", {"mug": 1, "tea": 1})
    for _ in range(3):
        publish(aws, event)
    outcome = await drain(consumer(app, aws))
    assert (outcome.handled, outcome.duplicates) == (1, 2)
    assert queue_depth(aws, provisioned.queues["recommendations"]) == 0
    assert await together(client, "mug") == ("bought-together", [("tea", 1)])
    assert [i["orders"] for i in (await client.get("/recommendations/popular")).json()["items"]] == [1, 1]


async def test_products_without_co_purchases_fall_back_to_popular_and_limits_are_bounded(aws, app, client):
    assert await together(client, "mug") == ("popular", [])  # nothing ordered yet: empty, never an error
    publish(aws, order("o-6", {"tea": 1}), order("o-7", {"mug": 1}), order("o-8", {"mug": 2}))
    await drain(consumer(app, aws))

    assert await together(client, "mug") == ("popular", [("tea", 1)])  # bought alone: popular, without itself
    assert await together(client, "no-such-product") == ("popular", [("mug", 2), ("tea", 1)])

    for bad in ({"limit": 0}, {"limit": 51}, {"limit": "many"}):
        response = await client.get("/recommendations/products/mug/bought-together", params=bad)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "limit"
        assert (await client.get("/recommendations/popular", params=bad)).status_code == 422
    assert (await client.get(f"/recommendations/products/{'x' * 65}/bought-together")).status_code == 422
    assert len((await client.get("/recommendations/popular", params={"limit": 50})).json()["items"]) == 2
