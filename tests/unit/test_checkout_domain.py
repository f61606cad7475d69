"""The checkout's rules without a server: what a cart may be bought as, the key, the events, the failure answers."""

from __future__ import annotations

import json

import pytest

from services.checkout.domain import (
    BadIdempotencyKey,
    Checkout,
    CheckoutFailed,
    Reason,
    Status,
    StepFailed,
    check_key,
    lines_from_cart,
    outcome_event,
)
from services.common.problems import from_error


def checkout(status: Status, **fields) -> Checkout:
    return Checkout("c0ffee", "sub-1", "a@example.com", "key-12345", "h", {}, "pm_card_ok", status=status, **fields)


def test_a_cart_short_of_stock_fails_as_out_of_stock_and_a_withdrawn_product_as_cart_not_ready():
    line = {"product_id": "mug", "name": "Mug", "quantity": 2, "unit_price_minor": 100, "available": 1}
    short = {
        "lines": [line],
        "checkout_ready": False,
        "problems": [{"product_id": "mug", "problem": "only 1 available"}],
    }
    gone = {"lines": [{"product_id": "old", "quantity": 1, "available": 0}], "checkout_ready": False, "problems": []}
    for cart, reason in ((short, Reason.OUT_OF_STOCK), (gone, Reason.CART_NOT_READY)):
        with pytest.raises(StepFailed) as failed:
            lines_from_cart(cart)
        assert failed.value.reason is reason


@pytest.mark.parametrize("key", [None, "", "short", "x" * 201, "with space 1", "caf\u00e9-latte", "tab\tkey1"])
def test_an_idempotency_key_must_be_8_to_200_visible_ascii_characters(key):
    with pytest.raises(BadIdempotencyKey) as refused:
        check_key(key)
    body = json.loads(from_error(refused.value).body)
    assert body["errors"] == [{"field": "Idempotency-Key", "in": "header", "message": body["detail"]}]
    assert check_key("k" * 8) == "k" * 8


def test_only_an_ended_checkout_emits_an_event_and_a_failed_one_names_its_reason():
    assert [outcome_event(checkout(s)) for s in Status if s not in (Status.COMPLETED, Status.FAILED)] == [None] * 7
    done = outcome_event(checkout(Status.COMPLETED))
    assert (done.event_type, done.subject, done.data["order_id"]) == ("CheckoutCompleted", "c0ffee", "ord-c0ffee")
    failed = outcome_event(checkout(Status.FAILED, failure_reason=Reason.PAYMENT_DECLINED))
    assert (failed.event_type, failed.data["reason"]) == ("CheckoutFailed", "payment_declined")


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (Reason.PAYMENT_DECLINED, 402),
        (Reason.OUT_OF_STOCK, 409),
        (Reason.PAYMENT_TIMEOUT, 504),
        (Reason.ABANDONED, 503),
    ],
)
def test_a_failed_checkout_answers_its_reasons_status_with_the_checkout_id(reason, status):
    co = checkout(Status.FAILED, failure_reason=reason, failure_detail="why", compensated=True)
    answer = from_error(CheckoutFailed(co))
    assert answer.status_code == status
    body = json.loads(answer.body)
    assert (body["checkout_id"], body["reason"], body["compensated"]) == ("c0ffee", reason.value, True)


def test_a_shoppers_email_is_reused_until_its_time_runs_out_and_not_at_all_with_a_ttl_of_zero(monkeypatch):
    from services.checkout import service

    now = [100.0]
    monkeypatch.setattr(service.time, "monotonic", lambda: now[0])
    kept, off = service.Recent(60), service.Recent(0)
    kept.put("sub-1", "ada@example.com")
    off.put("sub-1", "ada@example.com")
    assert (kept.get("sub-1"), off.get("sub-1"), kept.get("sub-2")) == ("ada@example.com", None, None)
    now[0] += 61
    assert kept.get("sub-1") is None


@pytest.mark.parametrize(
    ("listed", "void_answer", "done"),
    [
        ("authorized", 200, True),
        ("authorized", 409, True),  # voided meanwhile, or beyond voiding: nothing held
        ("failed", 409, True),
        ("pending", 200, True),  # the payment service settled the authorization, then voided it
        ("pending", 409, False),  # its authorization still in flight: not done, the sweeper tries again
    ],
)
async def test_the_compensation_counts_a_pending_payment_voided_only_when_the_void_succeeded(listed, void_answer, done):
    import httpx

    from services.checkout.adapters.downstream import HttpPayments
    from services.checkout.domain import StepFailed

    voids = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"items": [{"payment_id": "p1", "status": listed}]})
        voids.append(request.url.path)
        return httpx.Response(void_answer, json={"title": "Authorization in progress", "detail": "retry later"})

    co = checkout(Status.AUTHORIZED)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://payment") as client:
        if done:
            await HttpPayments(client).void_payments(co)
        else:
            with pytest.raises(StepFailed, match="409"):
                await HttpPayments(client).void_payments(co)
    assert voids == ["/internal/payments/p1/void"]
