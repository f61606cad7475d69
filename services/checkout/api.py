"""Routes of checkout: ``POST /checkout`` with an Idempotency-Key, and a shopper's own checkouts."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.checkout.domain import (
    TERMINAL,
    Checkout,
    Status,
    StepFailed,
    new_checkout_id,
    past_pivot,
    request_hash,
)
from services.common.identity import User
from services.common.problems import Conflict, NotFound, Unavailable, Unprocessable, problem_response

router = APIRouter(prefix="/checkout", tags=["checkout"])
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="any unique string of 8-200 visible characters")
]


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    line1: Text
    line2: Annotated[str, StringConstraints(max_length=120)] = ""
    city: Text
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=12)]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shipping_address: Address
    payment_method: Annotated[str, StringConstraints(pattern=r"^pm_[a-z0-9_]{1,40}$")] = Field(
        "pm_card_ok", description="a payment method token; locally the simulator's test methods"
    )


def _answer(co: Checkout, first: bool) -> JSONResponse:
    if co.status is Status.FAILED and co.failure_reason is not None:
        reason = co.failure_reason
        return problem_response(
            reason.http_status, "Checkout failed", co.failure_detail or reason.value,
            checkout_id=co.checkout_id, reason=reason.value, compensated=co.compensated,
        )  # fmt: skip
    if co.status is Status.COMPLETED or past_pivot(co.status):
        return JSONResponse(co.public(), status_code=201 if first else 200)
    return JSONResponse(co.public(), status_code=202)  # still running (a twin request holds it)


@router.post(
    "",
    status_code=201,
    summary="Buy the signed-in user's cart: 201 order placed, 402 declined, 409 cart or stock problem",
    responses={
        200: {"description": "a repeat of the same Idempotency-Key and body"},
        202: {"description": "still running"},
    },
)
async def checkout(body: CheckoutIn, request: Request, user: User, key: IdempotencyKey = None) -> JSONResponse:
    if not key or not (8 <= len(key) <= 200) or not key.isascii() or not key.isprintable() or " " in key:
        raise Unprocessable("send an Idempotency-Key header of 8-200 visible characters", field="Idempotency-Key")
    app = request.app.state
    try:
        email = user.email or await app.saga.d.email_of(user.sub)
    except StepFailed as failure:
        raise Unavailable(f"the profile service did not answer: {failure.detail}") from None
    if not email:
        raise Unprocessable("the signed-in user has no e-mail address on record", field="email")
    payload = body.model_dump()
    co = Checkout(
        checkout_id=new_checkout_id(), customer_sub=user.sub, email=email, idempotency_key=key,
        request_hash=request_hash(payload), shipping_address=payload["shipping_address"],
        payment_method=body.payment_method,
    )  # fmt: skip
    co, created = await app.repo.start(co)
    if not created:
        if co.request_hash != request_hash(payload):
            raise Conflict("this Idempotency-Key was used with a different body", field="Idempotency-Key")
        return _answer(await _wait_for_twin(app, co), first=False)
    return _answer(await app.saga.run(co), first=True)


async def _wait_for_twin(app: Any, co: Checkout) -> Checkout:
    """A request with a key already being processed waits for that run's outcome (and returns it)."""
    deadline = time.monotonic() + app.settings.wait_for_twin_s
    while co.status not in TERMINAL and not past_pivot(co.status) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        co = await app.repo.get(co.checkout_id) or co
    return co


@router.get("/{checkout_id}", summary="One of the signed-in user's checkouts")
async def get_checkout(
    checkout_id: Annotated[str, Path(max_length=64, pattern=r"^[a-f0-9]+$")], request: Request, user: User
) -> dict[str, Any]:
    co = await request.app.state.repo.get(checkout_id)
    if co is None or co.customer_sub != user.sub:
        raise NotFound(f"no checkout {checkout_id}", field="checkout_id")
    return co.public()
