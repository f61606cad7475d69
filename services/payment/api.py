"""The payment service's routes: /internal/payments/... for the checkout saga and the order service,
/payments (public, through the gateway) for a shopper's own payments.

The gateway forwards /api/payments/... here with the verified caller in headers; it never
routes /internal/... from outside. Errors are the domain's (services.payment.domain), answered as
problem+json by the one handler of services.common.problems.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from services.common.errors import NotFound
from services.common.identity import User
from services.common.openapi import errors
from services.common.types import text
from services.payment.deps import Orchestrator
from services.payment.domain import AuthorizationRequest, Operation
from services.payment.schemas import (
    AttemptOut,
    AuthorizeIn,
    MyPayment,
    MyPaymentList,
    PaymentDetail,
    PaymentList,
    PaymentOut,
)

OrderId = Annotated[text(min_length=1, max_length=64), Query()]

internal = APIRouter(prefix="/internal/payments", tags=["internal"])
FOLLOW_UP = errors(NotFound, 409, 502, 504, _409="the payment's state does not allow it", _502="the provider refused")
public = APIRouter(prefix="/payments", tags=["payments"])


@internal.post(
    "/authorize",
    response_model=PaymentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Authorize once per idempotency key; a decline is an outcome (201/200), a provider timeout a 504",
    responses={200: {"description": "the payment this key already made"}}
    | errors(409, 504, _409="the key was used with another request, or its authorization is in progress"),
)
async def authorize(body: AuthorizeIn, orchestrator: Orchestrator, response: Response) -> PaymentOut:
    payment, created = await orchestrator.authorize(AuthorizationRequest(**body.model_dump()))
    if not created:
        response.status_code = status.HTTP_200_OK
    return PaymentOut.of(payment)


async def _follow_up(orchestrator: Orchestrator, operation: Operation, payment_id: UUID) -> PaymentOut:
    payment, _ = await orchestrator.follow_up(operation, payment_id)
    return PaymentOut.of(payment)


@internal.post(
    "/{payment_id}/capture", response_model=PaymentOut, summary="Take the authorized funds", responses=FOLLOW_UP
)
async def capture(payment_id: UUID, orchestrator: Orchestrator) -> PaymentOut:
    return await _follow_up(orchestrator, Operation.CAPTURE, payment_id)


@internal.post(
    "/{payment_id}/void",
    response_model=PaymentOut,
    summary="Release the hold (also of a timed-out one)",
    responses=FOLLOW_UP,
)
async def void(payment_id: UUID, orchestrator: Orchestrator) -> PaymentOut:
    return await _follow_up(orchestrator, Operation.VOID, payment_id)


@internal.post("/{payment_id}/refund", response_model=PaymentOut, summary="Return captured funds", responses=FOLLOW_UP)
async def refund(payment_id: UUID, orchestrator: Orchestrator) -> PaymentOut:
    return await _follow_up(orchestrator, Operation.REFUND, payment_id)


@internal.get(
    "/{payment_id}",
    response_model=PaymentDetail,
    summary="A payment and every provider attempt",
    responses=errors(NotFound),
)
async def payment_detail(payment_id: UUID, orchestrator: Orchestrator) -> PaymentDetail:
    payment, attempts = await orchestrator.detail(payment_id)
    return PaymentDetail(**PaymentOut.of(payment).model_dump(), attempts=[AttemptOut.of(a) for a in attempts])


@internal.get("", response_model=PaymentList, summary="The payments of an order")
async def payments_of_order(order_id: OrderId, orchestrator: Orchestrator) -> PaymentList:
    return PaymentList(items=[PaymentOut.of(p) for p in await orchestrator.find(order_id=order_id)])


@public.get("", response_model=MyPaymentList, summary="The signed-in shopper's payments (of one order)")
async def my_payments(caller: User, orchestrator: Orchestrator, order_id: OrderId | None = None) -> MyPaymentList:
    found = await orchestrator.find(order_id=order_id, customer_sub=caller.sub)
    return MyPaymentList(items=[MyPayment.of(p) for p in found])
