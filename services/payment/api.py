"""The payment service's routes: /internal/payments/... for the checkout saga and the order service,
/payments (public, through the gateway) for a shopper's own payments.

The gateway forwards /api/payments/... here with the verified caller in headers; it never
routes /internal/... from outside.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from fastapi.responses import JSONResponse

from services.common import problems
from services.common.identity import User
from services.payment.domain import (
    AuthorizationRequest,
    IllegalTransition,
    KeyReused,
    Operation,
    Payment,
    PaymentError,
    PaymentStatus,
)
from services.payment.schemas import (
    AttemptOut,
    AuthorizeIn,
    MyPayment,
    MyPaymentList,
    PaymentDetail,
    PaymentList,
    PaymentOut,
)
from services.payment.service import (
    AuthorizationInProgress,
    PaymentNotFound,
    PaymentOrchestrator,
    ProviderRefused,
    ProviderUnavailable,
)


def _orchestrator(request: Request) -> PaymentOrchestrator:
    return request.app.state.orchestrator


Orchestrator = Annotated[PaymentOrchestrator, Depends(_orchestrator)]
OrderId = Annotated[str, Query(min_length=1, max_length=64)]

internal = APIRouter(prefix="/internal/payments", tags=["internal"])
public = APIRouter(prefix="/payments", tags=["payments"])


@internal.post(
    "/authorize",
    response_model=PaymentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Authorize once per idempotency key; a decline is an outcome (201/200), a provider timeout a 504",
)
async def authorize(body: AuthorizeIn, orchestrator: Orchestrator, response: Response) -> PaymentOut:
    payment, created = await orchestrator.authorize(AuthorizationRequest(**body.model_dump()))
    if payment.status == PaymentStatus.FAILED:
        detail = (
            f"the provider did not answer the authorization ({payment.reason}); the payment is recorded as"
            " failed, and voiding it is safe: that releases any hold the provider placed"
        )
        raise _unavailable(payment, detail)
    if not created:
        response.status_code = status.HTTP_200_OK
    return PaymentOut.of(payment)


async def _follow_up(orchestrator: PaymentOrchestrator, operation: Operation, payment_id: UUID) -> PaymentOut:
    payment, _ = await orchestrator.follow_up(operation, payment_id)
    return PaymentOut.of(payment)


@internal.post("/{payment_id}/capture", response_model=PaymentOut, summary="Take the authorized funds")
async def capture(payment_id: UUID, orchestrator: Orchestrator) -> PaymentOut:
    return await _follow_up(orchestrator, Operation.CAPTURE, payment_id)


@internal.post("/{payment_id}/void", response_model=PaymentOut, summary="Release the hold (also of a timed-out one)")
async def void(payment_id: UUID, orchestrator: Orchestrator) -> PaymentOut:
    return await _follow_up(orchestrator, Operation.VOID, payment_id)


@internal.post("/{payment_id}/refund", response_model=PaymentOut, summary="Return captured funds")
async def refund(payment_id: UUID, orchestrator: Orchestrator) -> PaymentOut:
    return await _follow_up(orchestrator, Operation.REFUND, payment_id)


@internal.get("/{payment_id}", response_model=PaymentDetail, summary="A payment and every provider attempt")
async def payment_detail(payment_id: UUID, orchestrator: Orchestrator) -> PaymentDetail:
    payment = await orchestrator.payments.get(payment_id)
    if payment is None:
        raise problems.NotFound(f"there is no payment {payment_id}")
    attempts = await orchestrator.payments.attempts(payment_id)
    return PaymentDetail(**PaymentOut.of(payment).model_dump(), attempts=[AttemptOut.of(a) for a in attempts])


@internal.get("", response_model=PaymentList, summary="The payments of an order")
async def payments_of_order(order_id: OrderId, orchestrator: Orchestrator) -> PaymentList:
    return PaymentList(items=[PaymentOut.of(p) for p in await orchestrator.payments.find(order_id=order_id)])


@public.get("", response_model=MyPaymentList, summary="The signed-in shopper's payments (of one order)")
async def my_payments(caller: User, orchestrator: Orchestrator, order_id: OrderId | None = None) -> MyPaymentList:
    found = await orchestrator.payments.find(order_id=order_id, customer_sub=caller.sub)
    return MyPaymentList(items=[MyPayment.of(p) for p in found])


def _unavailable(payment: Payment, detail: str) -> problems.Problem:
    return problems.Problem(
        detail,
        status=504,
        title="Payment provider did not answer",
        payment_id=str(payment.id),
        payment_status=str(payment.status),
        reason=payment.reason,
    )


STATUS_OF = {
    PaymentNotFound: (404, "Not found"),
    KeyReused: (409, "Idempotency key reused"),
    IllegalTransition: (409, "Illegal payment transition"),
    AuthorizationInProgress: (409, "Authorization in progress"),
    ProviderRefused: (502, "Payment provider refused"),
}


def install(app: FastAPI) -> None:
    """Turn the orchestrator's errors into problem+json answers."""

    @app.exception_handler(PaymentError)
    async def _payment_error(_: Request, exc: PaymentError) -> JSONResponse:
        if isinstance(exc, ProviderUnavailable):
            detail = f"{exc}; the payment stays {exc.payment.status} and retrying is safe"
            problem = _unavailable(exc.payment, detail)
            return problems.problem_response(problem.status, problem.title, problem.detail, **problem.extensions)
        code, title = next(((c, t) for kind, (c, t) in STATUS_OF.items() if isinstance(exc, kind)), (422, "Invalid"))
        return problems.problem_response(code, title, str(exc))
