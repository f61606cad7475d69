"""Capture, void and refund through the internal API; provider callbacks; the relay; a shopper's own payments."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import asyncpg
import pytest
from sqlalchemy import make_url

from services.payment.adapters.simulated import SimulatedProvider, SimulationConfig
from services.payment.adapters.tables import provider_callbacks
from services.payment.domain import AuthorizationRequest, Operation
from services.payment.ports import ProviderCallback
from services.payment.service import PAYMENT_IDS
from tests.payment_support import authorization, payment_db_secret, running, settings_for

__all__ = ["payment_db_secret"]  # a fixture of this module
AUTHORIZE = "/internal/payments/authorize"


@pytest.fixture
async def svc(aws, payment_db_secret):
    async with running(settings_for(aws, payment_db_secret)) as running_service:
        yield running_service


async def authorized(svc, method: str = "pm_card_ok", **overrides) -> str:
    r = await svc.client.post(AUTHORIZE, json=authorization(method, **overrides))
    assert r.status_code == 201, r.text
    return r.json()["payment_id"]


async def test_capture_then_refund_each_happen_once_however_often_they_are_asked(svc):
    pid = await authorized(svc)
    for _ in range(2):
        r = await svc.client.post(f"/internal/payments/{pid}/capture")
        assert (r.status_code, r.json()["status"]) == (200, "captured")
    for _ in range(2):
        r = await svc.client.post(f"/internal/payments/{pid}/refund")
        assert (r.status_code, r.json()["status"]) == (200, "refunded")
    assert (svc.provider.calls["capture"], svc.provider.calls["refund"]) == (1, 1)
    assert await svc.provider.holds.states() == ["refunded"]
    assert await svc.event_types() == ["PaymentAuthorized", "PaymentCaptured", "PaymentRefunded"]
    attempts = (await svc.client.get(f"/internal/payments/{pid}")).json()["attempts"]
    assert [(a["operation"], a["outcome"]) for a in attempts] == [
        ("authorize", "ok"),
        ("capture", "ok"),
        ("refund", "ok"),
    ]


async def test_only_the_move_that_happens_writes_its_event_the_payment_as_stored_and_wakes_the_relay(svc, pg_url):
    """A move and its event are one statement, the event built before it: ten racing captures write one event,
    whose data is the payment as the move left it, and one wake-up of the relay (the outbox's NOTIFY)."""
    listener = await asyncpg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(False))
    woken: list[str] = []
    await listener.add_listener("outbox_payment", lambda *notice: woken.append(notice[2]))
    try:
        pid = await authorized(svc)
        captures = await asyncio.gather(*(svc.client.post(f"/internal/payments/{pid}/capture") for _ in range(10)))
        assert sorted(r.status_code for r in captures) == [200] * 10
        assert (await svc.client.post(f"/internal/payments/{pid}/refund")).status_code == 200
        await svc.provider.delivered()  # the callbacks too, which find every move done
        await listener.fetchval("select 1")  # a round trip: the notices of earlier commits have come in
    finally:
        await listener.close()
    assert woken == ["outbox_payment"] * 3
    stored = (await svc.client.get(f"/internal/payments/{pid}")).json()
    fields = ("payment_id", "order_id", "customer_sub", "amount_minor", "currency")
    assert await svc.events() == [
        (kind, {k: stored[k] for k in fields} | {"status": status})
        for kind, status in [
            ("PaymentAuthorized", "authorized"),
            ("PaymentCaptured", "captured"),
            ("PaymentRefunded", "refunded"),
        ]
    ]


async def test_illegal_transitions_are_refused_with_409_and_change_nothing(svc):
    authorized_id = await authorized(svc)
    declined = (await svc.client.post(AUTHORIZE, json=authorization("pm_card_declined"))).json()["payment_id"]
    refused = [
        (authorized_id, "refund"),
        (declined, "capture"),
        (declined, "void"),
        (declined, "refund"),
    ]
    for pid, op in refused:
        r = await svc.client.post(f"/internal/payments/{pid}/{op}")
        assert (r.status_code, r.json()["title"]) == (409, "Illegal payment transition"), (pid, op)
    assert (await svc.client.post(f"/internal/payments/{authorized_id}/void")).json()["status"] == "voided"
    for op in ("capture", "refund"):
        assert (await svc.client.post(f"/internal/payments/{authorized_id}/{op}")).status_code == 409
    assert (await svc.client.post(f"/internal/payments/{authorized_id}/void")).status_code == 200
    assert (await svc.client.post(f"/internal/payments/{uuid.uuid4()}/capture")).status_code == 404
    assert await svc.event_types() == ["PaymentAuthorized", "PaymentFailed", "PaymentVoided"]
    assert svc.provider.calls["void"] == 1
    assert svc.provider.calls["capture"] == svc.provider.calls["refund"] == 0


async def test_parallel_captures_of_one_payment_capture_once_and_write_one_event(svc):
    pid = await authorized(svc)
    answers = await asyncio.gather(*(svc.client.post(f"/internal/payments/{pid}/capture") for _ in range(8)))
    assert {(r.status_code, r.json()["status"]) for r in answers} == {(200, "captured")}
    assert await svc.event_types() == ["PaymentAuthorized", "PaymentCaptured"]
    assert await svc.provider.holds.states() == ["captured"]


async def test_a_capture_that_timed_out_stays_authorized_and_can_be_retried_safely(svc):
    pid = await authorized(svc, "pm_card_visa")
    quiet = svc.provider.config
    svc.provider.config = SimulationConfig(timeout_rate=1.0, timeout_ms=50)
    r = await svc.client.post(f"/internal/payments/{pid}/capture")
    assert (r.status_code, r.json()["payment_status"]) == (504, "authorized")
    svc.provider.config = quiet
    r = await svc.client.post(f"/internal/payments/{pid}/capture")
    assert (r.status_code, r.json()["status"]) == (200, "captured")
    attempts = (await svc.client.get(f"/internal/payments/{pid}")).json()["attempts"]
    assert [(a["operation"], a["outcome"]) for a in attempts][1:] == [("capture", "timeout"), ("capture", "ok")]
    assert await svc.event_types() == ["PaymentAuthorized", "PaymentCaptured"]


async def test_duplicate_provider_callbacks_are_handled_once(aws, payment_db_secret):
    async with running(settings_for(aws, payment_db_secret, sim_duplicate_callbacks=3)) as svc:
        pid = await authorized(svc)
        assert (await svc.client.post(f"/internal/payments/{pid}/capture")).status_code == 200
        await svc.provider.delivered()
        orchestrator = svc.app.state.orchestrator
        assert await svc.count(provider_callbacks) == 2  # one notice per operation
        assert orchestrator.callbacks["duplicate"] == 6
        assert await svc.event_types() == ["PaymentAuthorized", "PaymentCaptured"]


async def test_a_callback_that_arrives_before_the_answer_settles_the_payment_once(svc):
    orchestrator = svc.app.state.orchestrator
    request = AuthorizationRequest("early-cb", "ord-early", 1200, "EUR", "sub-alice", "pm_card_ok")
    pending, created = await orchestrator.payments.claim(request, uuid.uuid5(PAYMENT_IDS, "early-cb"))
    assert (created, pending.status) == (True, "pending")
    result = await svc.provider.authorize(str(pending.id), 1200, "EUR", "pm_card_ok")
    await svc.provider.delivered()  # the webhook wins the race against the synchronous answer
    assert (await orchestrator.payments.get(pending.id)).status == "authorized"
    late = ProviderCallback(f"cb_{result.provider_ref}", pending.id, Operation.AUTHORIZE, "ok", result.provider_ref)
    await orchestrator.on_callback(late)  # a redelivery of the same notice
    assert await svc.event_types() == ["PaymentAuthorized"]
    assert orchestrator.callbacks == {"applied": 1, "duplicate": 1}


async def test_a_fixed_seed_declines_the_share_and_the_very_payments_the_decline_rate_says(aws, payment_db_secret):
    keys = [f"rate-{i}" for i in range(60)]
    expected = SimulatedProvider(SimulationConfig(decline_rate=0.3, seed=42))
    predicted = [
        (await expected.authorize(str(uuid.uuid5(PAYMENT_IDS, k)), 100, "EUR", "pm_card_visa")).outcome == "declined"
        for k in keys
    ]
    async with running(settings_for(aws, payment_db_secret, sim_decline_rate=0.3, sim_seed=42)) as svc:
        statuses = []
        for key in keys:
            body = authorization("pm_card_visa", idempotency_key=key)
            statuses.append((await svc.client.post(AUTHORIZE, json=body)).json()["status"])
    assert [s == "declined" for s in statuses] == predicted
    assert 0.15 <= statuses.count("declined") / len(keys) <= 0.45
    assert set(statuses) == {"authorized", "declined"}


async def test_a_shopper_sees_only_their_own_payments(svc):
    body = authorization(customer_sub="sub-alice")
    await svc.client.post(AUTHORIZE, json=body)
    alice = await svc.client.get(
        "/payments", params={"order_id": body["order_id"]}, headers={"X-Shop-User": "sub-alice"}
    )
    bob = await svc.client.get("/payments", params={"order_id": body["order_id"]}, headers={"X-Shop-User": "sub-bob"})
    anonymous = await svc.client.get("/payments", params={"order_id": body["order_id"]})
    assert [p["order_id"] for p in alice.json()["items"]] == [body["order_id"]]
    assert "provider_ref" not in alice.json()["items"][0]
    assert (bob.status_code, bob.json()) == (200, {"items": []})
    assert anonymous.status_code == 401
    other = await svc.client.post(AUTHORIZE, json=authorization(customer_sub="sub-alice"))
    every = await svc.client.get("/payments", headers={"X-Shop-User": "sub-alice"})  # no order: all of hers
    assert [p["order_id"] for p in every.json()["items"]] == [body["order_id"], other.json()["order_id"]]
    internal = await svc.client.get("/internal/payments", params={"order_id": body["order_id"]})
    assert [p["payment_id"] for p in internal.json()["items"]] == [alice.json()["items"][0]["payment_id"]]


async def test_the_relay_publishes_payment_captured_to_the_order_payments_queue(aws, database_secret, provisioned):
    settings = settings_for(aws, database_secret, run_relay=True, relay_idle_s=0.05)
    async with running(settings) as svc:
        body = authorization()
        pid = await authorized(svc, idempotency_key=body["idempotency_key"], order_id=body["order_id"])
        await svc.client.post(f"/internal/payments/{pid}/capture")
        sqs = aws.client("sqs")
        got: list[dict] = []
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            # In a thread: the relay runs on this event loop and must not be blocked.
            messages = await asyncio.to_thread(
                sqs.receive_message, QueueUrl=provisioned.queues["order-payments"], WaitTimeSeconds=1
            )
            got = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    assert [e["event_type"] for e in got] == ["PaymentCaptured"]  # PaymentAuthorized is not the order's business
    assert (got[0]["data"]["payment_id"], got[0]["data"]["order_id"]) == (pid, body["order_id"])
    assert got[0]["data"]["amount_minor"] == body["amount_minor"]


async def test_a_payment_service_restarted_between_authorize_and_capture_still_captures(aws, payment_db_secret):
    """The provider's holds outlive the payment process, as a card network's do (chaos: half-the-services-lost
    killed payment after an authorization; its capture was refused as hold_is_unknown for ever after)."""
    settings = settings_for(aws, payment_db_secret)
    async with running(settings) as first:
        pid = await authorized(first)
    async with running(settings) as restarted:  # a new process: nothing of the first one's memory
        assert restarted.provider is not first.provider
        r = await restarted.client.post(f"/internal/payments/{pid}/capture")
        assert (r.status_code, r.json()["status"]) == (200, "captured"), r.text
        again = await restarted.client.post(f"/internal/payments/{pid}/capture")
        assert (again.status_code, again.json()["status"]) == (200, "captured")
        assert await restarted.provider.holds.states() == ["captured"]
        assert await restarted.event_types() == ["PaymentAuthorized", "PaymentCaptured"]
