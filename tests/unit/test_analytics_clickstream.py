"""The gateway's clickstream: the browser's batches accepted and stamped, the server-side events of what it forwards."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from services.common import problems
from services.gateway.clickstream import ClickstreamSettings, Producer, install, server_events

CHECKOUT_ANSWER = {
    "checkout_id": "c1", "status": "completed", "order_id": "ord-c1", "currency": "EUR", "total_minor": 2598,
    "lines": [{"product_id": "p-1", "name": "Kettle", "quantity": 2, "unit_price_minor": 1299}],
}  # fmt: skip


@pytest.fixture
def app() -> FastAPI:
    app = FastAPI()
    problems.install(app)
    # A linger of an hour: the records stay queued where the test can read them (no Kinesis in this lane).
    install(app, ClickstreamSettings(linger_s=3600, stage="unit"))
    return app


async def post(app: FastAPI, body: object, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        return await client.post("/api/clickstream", json=body, headers=headers)


async def test_a_browser_batch_is_accepted_at_once_and_queued_as_lake_records(app: FastAPI):
    events = [{"event_type": "page_view", "session_id": "s1", "path": "/"},
              {"event_type": "search", "session_id": "s1", "query": "kettle", "result_count": 0}]  # fmt: skip
    answer = await post(app, {"events": events})
    assert answer.status_code == 202
    producer: Producer = app.state.clickstream
    queued = list(producer.queue)
    assert [(e["event_type"], e["source"], e["session_id"]) for e in queued] == [
        ("page_view", "browser", "s1"), ("search", "browser", "s1")]  # fmt: skip
    assert queued[1]["result_count"] == 0
    assert queued[0]["synthetic"] is False
    assert producer.settings.stream_name == "shop-unit-clickstream"


async def test_load_traffic_is_marked_synthetic_with_its_run(app: FastAPI):
    await post(app, {"events": [{"event_type": "page_view", "session_id": "s"}]}, **{"X-Shop-Synthetic": "run42"})
    (record,) = app.state.clickstream.queue
    assert (record["synthetic"], record["load_run"]) == (True, "run42")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": [{"event_type": "order_paid", "session_id": "s"}]}, "events.0.event_type"),
        ({"events": [{"event_type": "search", "session_id": "s", "result_count": -1}]}, "events.0.result_count"),
        ({"events": []}, "events"),
        ({"events": [{"event_type": "page_view"}]}, "events.0.session_id"),
    ],
)
async def test_a_bad_batch_is_a_422_naming_the_field_and_nothing_is_queued(app: FastAPI, body: object, field: str):
    answer = await post(app, body)
    assert answer.status_code == 422
    assert field in answer.json()["detail"]
    assert not app.state.clickstream.queue


def test_a_placed_order_is_an_order_event_and_one_purchase_per_line():
    found = server_events("POST", "/api/checkout", b"", 201, b"{}", json.dumps(CHECKOUT_ANSWER).encode())
    assert [kind for kind, _ in found] == ["checkout_started", "order_placed", "purchase"]
    assert found[1][1] == {"order_id": "ord-c1", "revenue": 25.98, "currency": "EUR"}
    assert found[2][1] == {"order_id": "ord-c1", "currency": "EUR", "product_id": "p-1", "quantity": 2,
                          "revenue": 25.98}  # fmt: skip


def test_a_declined_checkout_started_but_placed_no_order():
    found = server_events("POST", "/api/checkout", b"", 402, b"{}", b'{"title": "Checkout failed"}')
    assert [kind for kind, _ in found] == ["checkout_started"]


def test_a_search_carries_its_query_and_result_count_and_a_product_page_its_id():
    (search,) = server_events("GET", "/api/search", b"q=kettle&page=2", 200, b"", b'{"q":"kettle","total": 0}')
    assert search == ("search", {"query": "kettle", "result_count": 0})
    (view,) = server_events("GET", "/api/catalog/products/p-1ce3", b"", 200, b"", b"{}")
    assert view == ("product_view", {"product_id": "p-1ce3"})
    (added,) = server_events("POST", "/api/cart/items", b"", 200, b'{"product_id": "p-9", "quantity": 3}', b"")
    assert added == ("add_to_cart", {"product_id": "p-9", "quantity": 3})


def test_requests_that_failed_or_mean_nothing_make_no_event():
    assert server_events("GET", "/api/catalog/products/p-1", b"", 404, b"", b"") == []
    assert server_events("POST", "/api/cart/items", b"", 409, b"{}", b"") == []
    assert server_events("GET", "/api/catalog/categories", b"", 200, b"", b"[]") == []
