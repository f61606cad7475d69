"""The emulator's alarms are the template's, and the checkout-failure alarm pages and recovers as CloudWatch's would."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import replace
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from cfn import observability as cfn_observability
from localcloud.observability import alarms
from localcloud.observability.agent import bind
from localcloud.observability.evaluator import read_history
from localcloud.observability.settings import ObservabilitySettings
from localcloud.observability.worker import Worker
from reference import physical_name
from services.cart.app import create_app as create_cart
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.checkout.app import create_app as create_checkout
from services.checkout.settings import CheckoutSettings
from services.common import metrics
from services.common.identity import Caller
from services.order.app import create_app as create_order
from services.order.settings import OrderSettings
from services.payment.app import create_app as create_payment
from services.payment.settings import PaymentSettings

COMPARED = ("AlarmDescription", "Namespace", "MetricName", "Period", "EvaluationPeriods", "DatapointsToAlarm",
            "ComparisonOperator", "Threshold", "TreatMissingData", "Statistic", "ExtendedStatistic",
            "AlarmActions", "OKActions")  # fmt: skip


def _resolved(node: Any, stage: str, values: dict[str, str]) -> Any:
    """A template fragment as CloudFormation would create it in this stage (imports and refs given by ``values``)."""
    if isinstance(node, dict):
        if "Fn::Sub" in node:
            return node["Fn::Sub"].replace("${Stage}", stage)
        if "Fn::ImportValue" in node:
            return values[_resolved(node["Fn::ImportValue"], stage, values)]
        if "Ref" in node:
            return values[node["Ref"]]
        return {k: _resolved(v, stage, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolved(v, stage, values) for v in node]
    return node


def test_the_emulators_alarms_are_exactly_the_templates(aws, provisioned, monkeypatch):
    values = alarms.imports(aws.stage) | {cfn_observability.ALARM_TOPIC: provisioned.alarm_topic}
    template = cfn_observability.build().to_dict()["Resources"].values()
    expected = {}
    for resource in (r for r in template if r["Type"] == "AWS::CloudWatch::Alarm"):
        props = _resolved(resource["Properties"], aws.stage, values)
        expected[props["AlarmName"]] = props
    cloudwatch = aws.client("cloudwatch")
    actual = {a["AlarmName"]: a for page in cloudwatch.get_paginator("describe_alarms").paginate()
              for a in page["MetricAlarms"]}  # fmt: skip
    assert sorted(actual) == sorted(expected) == sorted(provisioned.alarms)
    for name, want in expected.items():
        got = actual[name]
        assert {k: got.get(k) for k in COMPARED} == {k: want.get(k) for k in COMPARED} | {
            "Threshold": float(want["Threshold"])}, name  # fmt: skip
        assert sorted(map(str, got["Dimensions"])) == sorted(map(str, want["Dimensions"])), name


# ---------------------------------------------------------------------------------------- the must-show

PERIOD_S = 2  # a local liberty (SHOP_OBSERVABILITY_ALARM_PERIOD_S): CloudWatch's shortest is 10 s
ADDRESS = {"name": "Ada L.", "line1": "1 Analytical St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}
ADMIN = Caller("admin", "admin@example.com", frozenset({"admin"})).headers()
USER = Caller("shopper-1", "shopper1@example.com").headers()


@pytest.fixture
async def worker(aws, provisioned, tmp_path, monkeypatch):
    """The observability worker in a thread, the services' EMF pointed at it, every alarm's period 2 s."""
    alarms.provision(aws.client("cloudwatch"), aws.client("sns"), aws.stage, period_s=PERIOD_S)
    settings = ObservabilitySettings(evaluate_every_s=0.25, publish_every_s=1, sqs_poll_s=30, snapshot_every_s=30)
    clients = {s: aws.client(s) for s in ("cloudwatch", "sns", "sqs")}
    running = Worker(bind(), clients, provisioned, tmp_path, settings).start()
    monkeypatch.setenv("SHOP_METRICS_SINK", f"udp://127.0.0.1:{running.address[1]}")
    monkeypatch.setenv("SHOP_METRICS_FLUSH_S", "0.2")
    monkeypatch.setattr(metrics, "_recorder", None)  # rebuilt from the variables above
    yield running
    running.stop()


@pytest.fixture
async def shop(worker, database_secret, redis_space, serve_app, monkeypatch):
    """Catalog, cart, order and a payment provider that declines every card, behind the checkout."""
    monkeypatch.setenv("ORDER_CONSUMER_WAIT_S", "1")
    catalog = CatalogSettings(redis_url=redis_space.url, cache_prefix=redis_space.prefix, sweep_interval_s=0)
    urls = {"catalog": await serve_app(create_catalog(catalog))}
    monkeypatch.setenv("SHOP_SERVICE_CATALOG_URL", urls["catalog"])
    urls["cart"] = await serve_app(create_cart())
    urls["order"] = await serve_app(create_order(OrderSettings()))
    payment = create_payment(PaymentSettings(sim_decline_rate=1.0, sim_latency_ms=0, sim_latency_jitter_ms=0))
    urls["payment"] = await serve_app(payment)
    for name, url in urls.items():
        monkeypatch.setenv(f"SHOP_SERVICE_{name.upper()}_URL", url)
    async with httpx.AsyncClient(base_url=urls["catalog"], headers=ADMIN) as admin:
        (await admin.post("/catalog/categories", json={"slug": "home", "name": "Home"})).raise_for_status()
        body = {"id": "tee", "sku": "TEE", "name": "The tee", "price_minor": 1500, "currency": "EUR",
                "category": "home", "stock": 10_000}  # fmt: skip
        (await admin.post("/catalog/products", json=body)).raise_for_status()
    app = create_checkout(CheckoutSettings(sweep_interval_s=0, lease_s=0.5))
    async with LifespanManager(app), httpx.AsyncClient(base_url=urls["cart"]) as cart, httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as checkout:  # fmt: skip

        async def buy() -> int:
            r = await cart.post("/cart/items", json={"product_id": "tee", "quantity": 1}, headers=USER)
            assert r.status_code == 200, r.text
            headers = {**USER, "Idempotency-Key": uuid.uuid4().hex}
            r = await checkout.post("/checkout", json={"shipping_address": ADDRESS, "payment_method": "pm_card_visa"},
                                    headers=headers)  # fmt: skip
            return r.status_code

        yield buy, payment.state


def _state(aws, name: str) -> str:
    return aws.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def _inbox(aws, topic_arn: str) -> str:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=f"oncall-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def _pages(aws, url: str, alarm: str, state: str, deadline_s: float = 30.0) -> dict[str, Any]:
    """Wait for CloudWatch's notification of ``alarm`` entering ``state`` on the on-call queue."""
    sqs, deadline = aws.client("sqs"), time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            envelope = json.loads(m["Body"])
            message = json.loads(envelope["Message"])
            if (message["AlarmName"], message["NewStateValue"]) == (alarm, state):
                return envelope | {"Message": message}
    raise AssertionError(f"no {state} notification of {alarm} within {deadline_s} s")


async def _until(what: str, done, act, deadline_s: float = 60.0) -> int:
    """Do ``act()`` until ``done()``; how many times it took."""
    deadline, times = time.monotonic() + deadline_s, 0
    while not await asyncio.to_thread(done):
        assert time.monotonic() < deadline, f"{what} did not happen within {deadline_s} s ({times} tries)"
        await act()
        times += 1
    return times


async def test_declined_cards_raise_the_checkout_failure_alarm_page_its_topic_and_it_recovers(
    aws, provisioned, worker, shop
):
    buy, payment = shop
    name = physical_name("checkout-error-rate", aws.stage)
    inbox = _inbox(aws, provisioned.alarm_topic)

    async def failing_checkout() -> None:
        assert await buy() == 402  # payment_declined: the provider declines every card

    await _until("ALARM", lambda: _state(aws, name) == "ALARM", failing_checkout)
    page = _pages(aws, inbox, name, "ALARM")
    assert page["Subject"].startswith(f'ALARM: "{name}" in ')
    message = page["Message"]
    assert message["OldStateValue"] in ("OK", "INSUFFICIENT_DATA")
    assert message["NewStateReason"].startswith("Threshold Crossed: ")
    assert (message["Trigger"]["MetricName"], message["Trigger"]["Statistic"]) == ("CheckoutFailed", "AVERAGE")
    assert (message["Trigger"]["Period"], message["Trigger"]["DatapointsToAlarm"]) == (PERIOD_S, 2)

    payment.provider.config = replace(payment.provider.config, decline_rate=0.0)  # the provider recovers

    async def good_checkout() -> None:
        assert await buy() == 201

    await _until("OK", lambda: _state(aws, name) == "OK", good_checkout)
    recovered = _pages(aws, inbox, name, "OK")["Message"]
    assert recovered["OldStateValue"] == "ALARM"
    history = [i["HistorySummary"] for i in read_history(worker.evaluator.history_file, name)]
    assert history[-2:] == [f"Alarm updated from {message['OldStateValue']} to ALARM", "Alarm updated from ALARM to OK"]


def test_the_poller_publishes_queue_depth_oldest_age_and_dlq_arrivals_as_aws_sqs_does(aws, provisioned):
    from datetime import UTC, datetime

    from localcloud.observability.agent import Recorder
    from localcloud.observability.poller import QueuePoller
    from localcloud.observability.store import MetricKey, Store

    sqs, cloudwatch = aws.client("sqs"), aws.client("cloudwatch")
    queue, dlq = provisioned.queues["notification"], provisioned.dlqs["notification"]
    queue_name, dlq_name = queue.rsplit("/", 1)[1], dlq.rsplit("/", 1)[1]
    store = Store()
    recorder = Recorder(store, cloudwatch)
    poller = QueuePoller(sqs, {queue_name: queue, dlq_name: dlq}, {dlq_name}, recorder)
    now = time.time()
    poller.poll(now)  # both empty
    sqs.send_message(QueueUrl=queue, MessageBody="{}")
    poller.poll(now + 10)  # the message arrived after the last empty sighting
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    poller.poll(now + 40)

    def values(namespace: str, metric: str, name: str) -> list[float]:
        return [v for _, v, _ in store.window(MetricKey(namespace, metric, (("QueueName", name),)), 0, now + 60)]

    assert values("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue_name) == [0, 1, 1]
    # an upper bound: the time since the queue was last seen empty (the message was sent just after)
    assert values("AWS/SQS", "ApproximateAgeOfOldestMessage", queue_name) == [0, 10, 40]
    assert values("Shop", "DeadLetterArrivals", dlq_name) == [0, 0, 2]
    assert recorder.publish() > 0
    stats = cloudwatch.get_metric_statistics(
        Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": dlq_name}], Statistics=["Maximum"], Period=60,
        StartTime=datetime.fromtimestamp(now - 60, UTC), EndTime=datetime.fromtimestamp(now + 120, UTC),
    )  # fmt: skip
    assert max(p["Maximum"] for p in stats["Datapoints"]) == 2
