"""One trace from the front door to the last consumer, read back from the X-Ray API (issue 14, must show).

The module starts ``python -m localcloud up`` under its own stage with ``SHOP_TRACING=xray`` and the
sampling rules that run in AWS (``SHOP_TRACE_SAMPLING=rules``), drives the product page, a search and a
checkout through the front door as a shopper would (httpx, no browser), each with the viewer's
``X-Amzn-Trace-Id: Root=...;Sampled=1`` as a client that wants its request traced sends it (the test
must not depend on a reservoir, and the rules keep 5 % of the rest), takes each answer's
``X-Amzn-Trace-Id`` and asks the emulator's X-Ray API
(``BatchGetTraces``) for that trace, waiting with a deadline for the asynchronous legs. It asserts
the parent -> child service edges of each flow, the same edges ``nox -s trace`` prints.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from stack_support import Stack

from localcloud import traces
from services.common import telemetry

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Traced-Shopper-1"
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James Sq",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}
pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def stack(shared_stack: Stack) -> Stack:
    """The e2e lane's shared stack (tests/e2e/conftest.py): tracing to X-Ray with the rules, as ``nox -s up``."""
    return shared_stack


@pytest.fixture(scope="module")
def xray(stack: Stack):
    return boto3.client(
        "xray", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name=stack.env.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def shop(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=60) as client:
        yield client


def sampled() -> dict[str, str]:
    """The header of a viewer asking for its request to be traced: a new X-Ray root, ``Sampled=1``."""
    return {"X-Amzn-Trace-Id": f"Root={telemetry.new_xray_trace_id()};Sampled=1"}


def trace_id_of(response: httpx.Response) -> str:
    header = response.headers.get("x-amzn-trace-id", "")
    fields = dict(part.split("=", 1) for part in header.split(";") if "=" in part)
    assert fields.get("Sampled") == "1", f"the front door did not sample this request: {header!r}"
    return fields["Root"]


def edges_when(xray, trace_id: str, wanted: set[tuple[str, str]], timeout_s: float = 90) -> set[tuple[str, str]]:
    """The trace's service edges once they include ``wanted`` (segments arrive a second or so after the
    work, and the asynchronous legs later still), or what there is at the deadline."""
    deadline = time.monotonic() + timeout_s
    edges: set[tuple[str, str]] = set()
    while time.monotonic() < deadline:
        edges = traces.service_edges(traces.fetch(xray, trace_id))
        if wanted <= edges:
            break
        time.sleep(1.0)
    return edges


@pytest.fixture(scope="module")
def product_id(shop: httpx.Client) -> str:
    answer = shop.get("/api/catalog/products", params={"page_size": 1})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"][0]["id"]


def test_the_product_page_is_one_trace_from_the_front_door_through_the_gateway_to_the_catalog(shop, xray, product_id):
    answer = shop.get(f"/api/catalog/products/{product_id}", headers=sampled())
    assert answer.status_code == 200, answer.text
    wanted = {("frontdoor", "gateway"), ("gateway", "catalog")}
    assert wanted <= edges_when(xray, trace_id_of(answer), wanted)


def test_a_search_is_one_trace_from_the_front_door_through_the_gateway_to_the_search_service(shop, xray):
    answer = shop.get("/api/search", params={"q": "skillet"}, headers=sampled())
    assert answer.status_code == 200, answer.text
    wanted = {("frontdoor", "gateway"), ("gateway", "search")}
    assert wanted <= edges_when(xray, trace_id_of(answer), wanted)


def test_a_checkout_is_one_trace_through_every_service_it_touches_and_the_consumers_of_its_events(
    shop, xray, product_id, stack
):
    email = f"traced-{uuid.uuid4().hex[:8]}@example.com"
    assert shop.post("/api/auth/signup", json={"email": email, "password": PASSWORD}).status_code == 201
    token = shop.post("/api/auth/signin", json={"email": email, "password": PASSWORD}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    added = shop.post("/api/cart/items", headers=auth, json={"product_id": product_id, "quantity": 1})
    assert added.status_code in (200, 201), added.text
    answer = shop.post("/api/checkout", headers=auth | {"Idempotency-Key": str(uuid.uuid4())} | sampled(),
                       json={"shipping_address": ADDRESS})  # fmt: skip
    assert answer.status_code == 201, answer.text
    trace_id = trace_id_of(answer)

    checkout = {("frontdoor", "gateway"), ("gateway", "checkout"), ("checkout", "cart"), ("checkout", "catalog"),
                ("checkout", "order"), ("checkout", "payment")}  # fmt: skip
    # The order-confirmed flow, through the outbox, SNS and SQS: the order's relay publishes
    # OrderConfirmed, which notification (the e-mail) and recommendations consume.
    confirmed = {("order", "notification"), ("order", "recommendations")}
    edges = edges_when(xray, trace_id, checkout | confirmed)
    assert checkout | confirmed <= edges, f"missing {sorted((checkout | confirmed) - edges)}"

    answer = xray.batch_get_traces(TraceIds=[trace_id])
    assert [t["Id"] for t in answer["Traces"]] == [trace_id]  # one trace, not one per hop
    spans = traces.fetch(xray, trace_id)
    services = {s.service for s in spans}
    page = REPO / "artifacts" / "traces" / f"{trace_id}.html"  # the waterfall, kept for a person to look at
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(traces.page(trace_id, spans))
    assert {"frontdoor", "gateway", "checkout", "cart", "catalog", "order", "payment", "notification"} <= services

    # A log line leads to its trace: the checkout service logged this request with the trace's id.
    log = stack.logs / "checkout.log"
    if log.exists():
        assert trace_id in log.read_text(), f"no line of {log} carries {trace_id}"
