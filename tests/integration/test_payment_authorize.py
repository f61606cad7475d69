"""Authorization through the internal API, against the real database: outcomes, idempotency, concurrency."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.payment.adapters.tables import payment_attempts, payments
from services.payment.domain import AuthorizationRequest
from services.payment.service import PAYMENT_IDS
from tests.payment_support import authorization, payment_db_secret, running, settings_for

__all__ = ["payment_db_secret"]  # a fixture of this module

AUTHORIZE = "/internal/payments/authorize"


@pytest.fixture
async def svc(aws, payment_db_secret):
    async with running(settings_for(aws, payment_db_secret)) as running_service:
        yield running_service


async def test_an_ok_card_is_authorized_with_one_attempt_and_one_event(svc):
    body = authorization("pm_card_ok")
    r = await svc.client.post(AUTHORIZE, json=body)
    assert r.status_code == 201
    assert (r.json()["status"], r.json()["reason"]) == ("authorized", None)
    detail = (await svc.client.get(f"/internal/payments/{r.json()['payment_id']}")).json()
    assert [(a["operation"], a["outcome"]) for a in detail["attempts"]] == [("authorize", "ok")]
    assert detail["attempts"][0]["provider_ref"] == detail["provider_ref"]
    [(kind, data)] = await svc.events()
    assert kind == "PaymentAuthorized"
    assert {k: data[k] for k in ("payment_id", "order_id", "amount_minor", "currency")} == {
        "payment_id": r.json()["payment_id"],
        "order_id": body["order_id"],
        "amount_minor": 4999,
        "currency": "EUR",
    }


async def test_a_declined_card_is_a_normal_outcome_with_a_payment_failed_event(svc):
    r = await svc.client.post(AUTHORIZE, json=authorization("pm_card_declined"))
    assert r.status_code == 201
    assert (r.json()["status"], r.json()["reason"]) == ("declined", "card_declined")
    [(kind, data)] = await svc.events()
    assert (kind, data["reason"], data["payment_id"]) == ("PaymentFailed", "card_declined", r.json()["payment_id"])


async def test_a_provider_timeout_answers_504_records_a_failed_payment_and_voiding_it_releases_the_hold(svc):
    body = authorization("pm_card_timeout")
    r = await svc.client.post(AUTHORIZE, json=body)
    assert r.status_code == 504
    problem = r.json()
    assert (problem["payment_status"], problem["reason"]) == ("failed", "provider_timeout")
    payment_id = problem["payment_id"]
    detail = (await svc.client.get(f"/internal/payments/{payment_id}")).json()
    assert [(a["operation"], a["outcome"]) for a in detail["attempts"]] == [("authorize", "timeout")]
    # The answer was lost, not the authorization: the provider holds the funds until the void.
    assert await svc.provider.holds.states() == ["authorized"]

    again = await svc.client.post(AUTHORIZE, json=body)
    assert (again.status_code, again.json()["payment_id"]) == (504, payment_id)
    assert svc.provider.calls["authorize"] == 1

    voided = await svc.client.post(f"/internal/payments/{payment_id}/void")
    assert (voided.status_code, voided.json()["status"]) == (200, "voided")
    assert await svc.provider.holds.states() == ["voided"]
    assert await svc.event_types() == ["PaymentFailed", "PaymentVoided"]


async def test_a_repeated_authorization_returns_the_same_payment_without_calling_the_provider_again(svc):
    body = authorization("pm_card_ok")
    first = await svc.client.post(AUTHORIZE, json=body)
    second = await svc.client.post(AUTHORIZE, json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert svc.provider.calls["authorize"] == 1
    assert await svc.event_types() == ["PaymentAuthorized"]


async def test_twenty_parallel_requests_with_one_key_make_one_payment_and_one_provider_call(aws, payment_db_secret):
    # Some latency, so the twenty requests really overlap the one provider call.
    async with running(settings_for(aws, payment_db_secret, sim_latency_ms=150)) as svc:
        body = authorization("pm_card_ok")
        answers = await asyncio.gather(*(svc.client.post(AUTHORIZE, json=body) for _ in range(20)))
        assert sorted(r.status_code for r in answers) == [200] * 19 + [201]
        assert {r.json()["payment_id"] for r in answers} == {answers[0].json()["payment_id"]}
        assert {r.json()["status"] for r in answers} == {"authorized"}
        assert svc.provider.calls["authorize"] == 1
        assert await svc.count(payments) == 1
        assert await svc.count(payment_attempts) == 1
        assert await svc.event_types() == ["PaymentAuthorized"]


async def test_reusing_a_key_for_a_different_request_is_refused_and_changes_nothing(svc):
    body = authorization("pm_card_ok")
    await svc.client.post(AUTHORIZE, json=body)
    r = await svc.client.post(AUTHORIZE, json=body | {"amount_minor": 5000})
    assert r.status_code == 409
    assert r.json()["title"] == "Idempotency key reused"
    assert await svc.count(payments) == 1
    assert svc.provider.calls["authorize"] == 1


BAD_FIELDS = [
    ("amount_minor", 0),
    ("amount_minor", -5),
    ("amount_minor", 100_000_001),
    ("currency", "eur"),
    ("currency", "EU"),
    ("payment_method", "pm_card_gold"),
    ("idempotency_key", ""),
]


async def test_bad_money_or_an_unknown_method_is_a_422_naming_the_field(svc):
    for field, value in BAD_FIELDS:
        r = await svc.client.post(AUTHORIZE, json=authorization() | {field: value})
        assert r.status_code == 422, (field, value)
        assert [e["field"] for e in r.json()["errors"]] == [field]
    assert await svc.count(payments) == 0
    assert svc.provider.calls["authorize"] == 0


@pytest.fixture
async def left_pending(aws, payment_db_secret):
    """A running service, an authorization's body and its payment, claimed by a caller that died before asking the
    provider (recent: in progress while younger than 30 s)."""
    async with running(settings_for(aws, payment_db_secret, pending_wait_ms=0, stale_pending_s=30)) as svc:
        body = authorization("pm_card_ok")
        request = AuthorizationRequest(
            body["idempotency_key"], body["order_id"], 4999, "EUR", "sub-alice", "pm_card_ok"
        )
        payments = svc.app.state.orchestrator.payments
        pending, created = await payments.claim(request, uuid.uuid5(PAYMENT_IDS, body["idempotency_key"]))
        assert (created, pending.status) == (True, "pending")
        yield svc, body, pending


async def test_a_payment_left_pending_is_in_progress_until_stale_then_the_next_request_takes_it_over(left_pending):
    svc, body, pending = left_pending
    orchestrator = svc.app.state.orchestrator

    busy = await svc.client.post(AUTHORIZE, json=body)
    assert (busy.status_code, busy.json()["title"]) == (409, "Authorization in progress")
    assert svc.provider.calls["authorize"] == 0

    orchestrator.stale_after_s = 0.0  # now it is stale: the next request takes it over
    taken = await svc.client.post(AUTHORIZE, json=body)
    assert (taken.status_code, taken.json()["payment_id"]) == (200, str(pending.id))
    assert taken.json()["status"] == "authorized"
    assert svc.provider.calls["authorize"] == 1
    assert await svc.event_types() == ["PaymentAuthorized"]
    assert await svc.count(payment_attempts) == 1


async def test_voiding_a_payment_left_pending_is_in_progress_until_stale_then_settles_it_and_voids_it(left_pending):
    """The saga's compensation after the database went away between the claim and the provider's answer: the
    payment is pending, its authorizer gone. Its void must not leave it so (money may be held)."""
    svc, _, pending = left_pending
    orchestrator = svc.app.state.orchestrator
    void = f"/internal/payments/{pending.id}/void"

    busy = await svc.client.post(void)  # its authorization may still be in flight: try again later
    assert (busy.status_code, busy.json()["title"]) == (409, "Authorization in progress")
    assert (await orchestrator.get(pending.id)).status == "pending"

    orchestrator.stale_after_s = 0.0  # its authorizer is gone: taken over, asked again, then voided
    voided = await svc.client.post(void)
    assert (voided.status_code, voided.json()["status"]) == (200, "voided")
    assert svc.provider.calls["authorize"] == 1
    assert svc.provider.calls["void"] == 1
    assert await svc.provider.holds.states() == ["voided"]
    assert await svc.event_types() == ["PaymentAuthorized", "PaymentVoided"]
