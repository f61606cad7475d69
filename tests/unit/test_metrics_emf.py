"""Every service writes request and business metrics as valid EMF, and the local agent reads back what was written."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from pydantic_settings import SettingsConfigDict

from localcloud.observability import emf
from localcloud.observability.agent import Recorder as AgentRecorder
from localcloud.observability.store import MetricKey, Store, statistic
from services.common import metrics
from services.common.app import create_service_app
from services.common.errors import NotFound
from services.common.settings import ServiceSettings


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")


@pytest.fixture
def written(monkeypatch) -> list[str]:
    lines: list[str] = []
    monkeypatch.setattr(metrics, "_recorder", metrics.Recorder(write=lines.append))
    return lines


def _agent(lines: list[str]) -> Store:
    store = Store()
    agent = AgentRecorder(store, cloudwatch=None)
    for line in lines:
        agent.document(line)
    assert agent.rejected == 0
    return store


async def test_requests_are_counted_by_route_template_with_faults_errors_and_latency(written):
    router = APIRouter()

    @router.get("/orders/{order_id}")
    async def order(order_id: str) -> dict[str, str]:
        if order_id == "missing":
            raise NotFound("no such order", field="order_id")
        if order_id == "boom":
            raise RuntimeError("a bug")
        return {"id": order_id}

    app = create_service_app("order", DemoSettings(), [router])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path in ("/orders/a1", "/orders/b2", "/orders/missing", "/orders/boom", "/nowhere", "/healthz"):
            await client.get(path)
    metrics.recorder().flush()
    store = _agent(written)
    route = MetricKey("Shop", "Latency", (("Route", "GET /orders/{order_id}"), ("Service", "order")))
    fault = MetricKey("Shop", "Fault", route.dimensions)
    error = MetricKey("Shop", "Error", route.dimensions)
    everything = (0.0, 2e12)
    assert statistic("SampleCount", store.window(route, *everything)) == 4  # the raw paths are one route
    assert statistic("Sum", store.window(fault, *everything)) == 1  # the 500
    assert statistic("Sum", store.window(error, *everything)) == 1  # the 404
    service = MetricKey("Shop", "Latency", (("Service", "order"),))
    assert statistic("SampleCount", store.window(service, *everything)) == 5  # + the unmatched 404; no /healthz
    assert MetricKey("Shop", "Latency", (("Route", "GET (unmatched)"), ("Service", "order"))) in store.metric_keys()


def test_a_checkout_outcome_and_a_decline_are_business_metrics(written):
    metrics.checkout_outcome("failed", "payment_declined", 4500, "EUR")
    metrics.checkout_outcome("completed", None, 4500, "EUR")
    metrics.payment_declined("card_declined")
    metrics.recorder().flush()
    store, everything = _agent(written), (0.0, 2e12)
    assert statistic("Average", store.window(MetricKey("Shop", "CheckoutFailed", ()), *everything)) == 0.5
    by_reason = MetricKey("Shop", "CheckoutFailures", (("Reason", "payment_declined"),))
    assert statistic("Sum", store.window(by_reason, *everything)) == 1
    revenue = MetricKey("Shop", "Revenue", (("Currency", "EUR"),))
    assert statistic("Sum", store.window(revenue, *everything)) == 45.0
    assert statistic("Sum", store.window(MetricKey("Shop", "PaymentDeclines", ()), *everything)) == 1


def test_more_than_100_values_are_split_into_documents_the_specification_allows(written):
    rec = metrics.recorder()
    for i in range(250):
        rec.add("Latency", float(i), "Milliseconds", {"Service": "cart"})
    rec.flush()
    assert len(written) == 3
    assert all(len(emf.parse(line)[0].values) <= 100 for line in written)
    store = _agent(written)
    assert statistic("SampleCount", store.window(MetricKey("Shop", "Latency", (("Service", "cart"),)), 0, 2e12)) == 250


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ('{"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "S", "Dimensions": [["Service"]], '
         '"Metrics": [{"Name": "Latency"}]}]}, "Latency": 1}', "dimension 'Service'"),
        ('{"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "S", "Dimensions": [[]], '
         '"Metrics": [{"Name": "Latency"}]}]}, "Latency": "fast"}', "a number"),
        ('{"_aws": {"CloudWatchMetrics": []}}', "Timestamp"),
        ('{"Latency": 1}', "CloudWatchMetrics"),
        ("not json", "not JSON"),
    ],
)  # fmt: skip
def test_a_document_that_breaks_the_specification_is_refused_saying_why(document, why):
    with pytest.raises(emf.Invalid, match=why):
        emf.parse(document)


def test_the_sink_setting_refuses_what_it_cannot_write_to(monkeypatch):
    monkeypatch.setenv("SHOP_METRICS_SINK", "tcp://somewhere")
    with pytest.raises(ValueError, match="sink"):
        metrics.MetricsSettings()
