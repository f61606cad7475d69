"""Routes of checkout: ``POST /checkout`` with an Idempotency-Key, and a shopper's own checkouts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from services.checkout.deps import CheckoutsDep, IdempotencyKey
from services.checkout.domain import Checkout, CheckoutFailed, Status, past_pivot
from services.checkout.schemas import CheckoutIn
from services.common.errors import NotFound
from services.common.identity import User
from services.common.openapi import errors

router = APIRouter(prefix="/checkout", tags=["checkout"])


def _answer(co: Checkout, first: bool) -> JSONResponse:
    if co.status is Status.FAILED and co.failure_reason is not None:
        raise CheckoutFailed(co)
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
    }
    | errors(
        402,
        404,
        409,
        503,
        504,
        _402="payment declined",
        _404="a product of the cart no longer exists",
        _409="the cart is empty or changed, stock ran out, or the Idempotency-Key was used with another body",
        _503="a service of the saga is down (the checkout is undone or resumed)",
        _504="the payment provider did not answer in time",
    ),
)
async def checkout(body: CheckoutIn, checkouts: CheckoutsDep, user: User, key: IdempotencyKey) -> JSONResponse:
    co, first = await checkouts.checkout(user, key, body.model_dump())
    return _answer(co, first)


@router.get("/{checkout_id}", summary="One of the signed-in user's checkouts", responses=errors(NotFound))
async def get_checkout(
    checkout_id: Annotated[str, Path(max_length=64, pattern=r"^[a-f0-9]+$")], checkouts: CheckoutsDep, user: User
) -> dict[str, Any]:
    return (await checkouts.get(user, checkout_id)).public()
