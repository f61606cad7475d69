"""The orchestration: turn the saga's requests into provider calls, attempts, state changes and events.

Authorize takes the idempotency key first (a pending row), then calls the provider once,
then settles the payment with the outcome. Concurrent or later requests with the key
wait for that outcome and answer it; the provider is never asked twice for one key. If
the caller holding a key dies mid-call, the payment stays pending and, once stale, the
next request with the key takes it over and asks the provider again with the same
provider idempotency key (the payment id), so no second hold can appear.

A timed-out call is recorded as an attempt with outcome ``timeout``; a timed-out
authorization leaves the payment ``failed`` (reason ``provider_timeout``), from which
``void`` is allowed and safe: the provider releases the hold if one was placed.

Every provider call goes through a circuit breaker (services/payment/breaker.py): while it is
open, no call reaches the provider; the attempt is recorded with outcome ``rejected`` and an
authorization fails at once (reason ``circuit_open``). Voiding such a payment needs no provider
call: the provider never heard of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

from services.common import metrics
from services.common.context import request_id
from services.payment import domain
from services.payment.breaker import CircuitBreaker
from services.payment.domain import (
    CIRCUIT_OPEN_REASON,
    TRANSITIONS,
    Attempt,
    AuthorizationInProgress,
    AuthorizationRequest,
    IllegalTransition,
    KeyReused,
    Operation,
    Payment,
    PaymentNotFound,
    PaymentStatus,
    ProviderRefused,
    ProviderUnavailable,
    next_status,
    settled_status,
)
from services.payment.ports import (
    PaymentProvider,
    PaymentRepository,
    ProviderCallback,
    ProviderError,
    ProviderResult,
    ProviderTimeout,
)

log = logging.getLogger("services.payment")
PENDING = frozenset({PaymentStatus.PENDING})
# Payment ids derive from idempotency keys, so a replayed simulation (same keys, same seed)
# makes the same provider calls and draws the same outcomes.
PAYMENT_IDS = uuid.UUID("5b0c3a52-6d1e-4f7a-9a55-0c1f7c6e2b10")


class PaymentOrchestrator:
    def __init__(
        self,
        payments: PaymentRepository,
        provider: PaymentProvider,
        *,
        pending_wait_s: float = 5.0,
        stale_after_s: float = 30.0,
        poll_s: float = 0.02,
        breaker: CircuitBreaker | None = None,
    ):
        self.payments = payments
        self.provider = provider
        self.breaker = breaker or CircuitBreaker("payment-provider")
        self.pending_wait_s = pending_wait_s
        self.stale_after_s = stale_after_s
        self.poll_s = poll_s
        self.callbacks: Counter[str] = Counter()  # applied, confirmed, duplicate
        provider.on_callback(self.on_callback)

    # ------------------------------------------------------------------ authorize

    async def authorize(self, request: AuthorizationRequest) -> tuple[Payment, bool]:
        """The payment for ``request``'s key, and whether this call created it.

        A decline is an outcome; an authorization the provider did not answer (the payment ``failed``)
        raises ``ProviderUnavailable``, for this call and every repeat of the key.
        """
        payment, created = await self._authorization(request)
        if payment.status == PaymentStatus.FAILED:
            raise ProviderUnavailable(
                f"the provider did not answer the authorization ({payment.reason}); the payment is recorded as"
                " failed, and voiding it is safe: that releases any hold the provider placed",
                payment,
            )
        return payment, created

    async def _authorization(self, request: AuthorizationRequest) -> tuple[Payment, bool]:
        payment, created = await self.payments.claim(request, uuid.uuid5(PAYMENT_IDS, request.idempotency_key))
        if created:
            return await self._authorize_at_provider(payment), True
        if not request.same_request(payment):
            raise KeyReused(
                f"idempotency key {request.idempotency_key!r} was used for another authorization"
                f" (order {payment.order_id}, {payment.amount_minor} {payment.currency})"
            )
        if payment.status == PaymentStatus.PENDING:
            payment = await self._settled(payment)
        return payment, False

    async def _settled(self, payment: Payment) -> Payment:
        deadline = time.monotonic() + self.pending_wait_s
        while time.monotonic() < deadline:
            await asyncio.sleep(self.poll_s)
            current = await self.payments.get(payment.id)
            if current is not None and current.status != PaymentStatus.PENDING:
                return current
        if await self.payments.reclaim(payment.id, self.stale_after_s):
            log.warning("taking over authorization %s, left pending by a caller that went away", payment.id)
            return await self._authorize_at_provider(payment)
        raise AuthorizationInProgress(f"payment {payment.id} is still being authorized; retry later")

    async def _authorize_at_provider(self, payment: Payment) -> Payment:
        request = {
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            "payment_method": payment.payment_method,
        }
        call = self.provider.authorize(str(payment.id), payment.amount_minor, payment.currency, payment.payment_method)
        result, attempt = await self._call(payment, Operation.AUTHORIZE, request, call)
        status, reason = settled_status(attempt.outcome, result.reason if result else None)
        if status == PaymentStatus.DECLINED:
            metrics.payment_declined(reason or "card_declined")
        moved = await self._move(
            payment, PENDING, status, reason=reason, provider_ref=attempt.provider_ref, attempt=attempt
        )
        # None: a provider callback settled it first (with the same outcome); answer what is stored.
        return moved or await self.get(payment.id)

    # ------------------------------------------------------------------ capture, void, refund

    async def follow_up(self, operation: Operation, payment_id: UUID) -> tuple[Payment, bool]:
        """Capture, void or refund; a repeat of a done operation answers the payment unchanged (False).

        A void of a payment still pending (its authorization in flight, or left so by a caller that died, the
        database gone mid-way) first settles the authorization as a repeat of it would: it waits for it, or takes
        it over once stale and asks the provider (the same authorization key: a hold the lost call placed is
        found, not doubled), or answers that it is in progress (409: the caller tries again later). Then the
        settled payment is voided, or is already beyond voiding (declined).
        """
        payment = await self.get(payment_id)
        if operation == Operation.VOID and payment.status == PaymentStatus.PENDING:
            payment = await self._settled(payment)
        target = next_status(operation, payment.status)
        if target is None:
            return payment, False
        key, auth_key = f"{payment.id}:{operation}", str(payment.id)
        if operation == Operation.VOID and payment.reason == CIRCUIT_OPEN_REASON:
            return await self._void_unsent(payment, target)
        calls = {
            Operation.CAPTURE: lambda: self.provider.capture(key, auth_key, payment.amount_minor),
            Operation.VOID: lambda: self.provider.void(key, auth_key),
            Operation.REFUND: lambda: self.provider.refund(key, auth_key, payment.amount_minor),
        }
        request = {"amount_minor": payment.amount_minor, "from_status": str(payment.status)}
        result, attempt = await self._call(payment, operation, request, calls[operation]())
        if attempt.outcome != "ok":
            await self.payments.record_attempt(attempt)
        if attempt.outcome in ("timeout", "error", "rejected"):
            raise ProviderUnavailable(
                f"the provider did not complete the {operation}: {attempt.error}; the payment stays"
                f" {payment.status} and retrying is safe",
                payment,
            )
        if attempt.outcome != "ok":
            raise ProviderRefused(f"the provider refused the {operation}: {result.reason if result else ''}")
        sources = TRANSITIONS[operation][0]
        moved = await self._move(payment, sources, target, reason=payment.reason, provider_ref=None, attempt=attempt)
        if moved is not None:
            return moved, True
        current = await self.get(payment.id)  # a concurrent request (or a callback) moved it first
        if current.status != target:
            raise IllegalTransition(operation, current.status)
        return current, False

    async def _void_unsent(self, payment: Payment, target: PaymentStatus) -> tuple[Payment, bool]:
        """Void a payment whose authorization the breaker never sent: nothing is held, no provider call."""
        attempt = Attempt(payment.id, Operation.VOID, {"from_status": str(payment.status)}, "ok", 0, None,
                          "not sent to the provider: its authorization never was (circuit open)")  # fmt: skip
        moved = await self._move(payment, TRANSITIONS[Operation.VOID][0], target, reason=payment.reason,
                                 provider_ref=None, attempt=attempt)  # fmt: skip
        return (moved, True) if moved is not None else (await self.get(payment.id), False)

    # ------------------------------------------------------------------ provider callbacks

    async def on_callback(self, callback: ProviderCallback) -> None:
        """Apply a provider's outcome notice once; duplicates and confirmations of known outcomes change nothing."""
        first, payment = await self.payments.record_callback(callback)
        if not first:
            self.callbacks["duplicate"] += 1
            return
        if payment is None:
            log.warning("callback %s names unknown payment %s", callback.callback_id, callback.payment_id)
            return
        if callback.operation == Operation.AUTHORIZE:
            sources = PENDING
            target, reason = settled_status(callback.outcome, callback.reason)
        elif callback.outcome == "ok":
            sources, target = TRANSITIONS[callback.operation]
            reason = payment.reason
        else:
            sources, target, reason = frozenset(), payment.status, payment.reason
        if payment.status in sources:
            ref = callback.provider_ref if callback.operation == Operation.AUTHORIZE else None
            moved = await self._move(payment, sources, target, reason=reason, provider_ref=ref, attempt=None)
            if moved is not None:
                self.callbacks["applied"] += 1
                return
        self.callbacks["confirmed"] += 1

    # ------------------------------------------------------------------ helpers

    async def _call(
        self, payment: Payment, operation: Operation, request: dict[str, Any], call: Any
    ) -> tuple[ProviderResult | None, Attempt]:
        start = time.perf_counter()
        result: ProviderResult | None = None
        error: str | None = None
        if not self.breaker.allow():
            call.close()  # never awaited: the provider is not called while the circuit is open
            outcome, error = "rejected", f"circuit breaker {self.breaker.name} is {self.breaker.state}: not sent"
        else:
            try:
                result = await call
                outcome = result.outcome
            except (ProviderTimeout, TimeoutError) as exc:
                outcome, error = "timeout", str(exc) or "timed out"
            except ProviderError as exc:
                log.warning("provider %s of payment %s failed: %s", operation, payment.id, exc)
                outcome, error = "error", f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # any provider failure is recorded, then answered as unavailable
                log.exception("provider %s of payment %s failed", operation, payment.id)
                outcome, error = "error", f"{type(exc).__name__}: {exc}"
            self.breaker.record(outcome not in ("timeout", "error"))
        latency_ms = round((time.perf_counter() - start) * 1000)
        attempt = Attempt(
            payment.id,
            operation,
            request,
            outcome,
            latency_ms,
            result.provider_ref if result else None,
            error or (result.reason if result and result.outcome != "ok" else None),
        )
        return result, attempt

    async def _move(
        self,
        payment: Payment,
        sources: frozenset[PaymentStatus],
        target: PaymentStatus,
        *,
        reason: str | None,
        provider_ref: str | None,
        attempt: Attempt | None,
    ) -> Payment | None:
        """Record ``attempt`` and, if the payment is still in one of ``sources``, move it to ``target`` and write
        its event, all at once. None when another caller moved it first (nothing but the attempt written).

        The event is built before the move, from ``payment`` as the move leaves it: its data is the fields a move
        sets (status, reason) and those no move changes (``Payment.event_data``), so it is the moved payment's.
        """
        after = dataclasses.replace(payment, status=target, reason=reason)
        return await self.payments.move(
            payment.id,
            sources,
            target,
            reason=reason,
            provider_ref=provider_ref,
            event=domain.event(after, correlation_id=_correlation()),
            attempt=attempt,
        )

    # ------------------------------------------------------------------ reads

    async def get(self, payment_id: UUID) -> Payment:
        payment = await self.payments.get(payment_id)
        if payment is None:
            raise PaymentNotFound(f"there is no payment {payment_id}", field="payment_id")
        return payment

    async def detail(self, payment_id: UUID) -> tuple[Payment, list[Attempt]]:
        """A payment and every provider attempt made for it."""
        return await self.get(payment_id), await self.payments.attempts(payment_id)

    async def find(self, *, order_id: str | None = None, customer_sub: str | None = None) -> list[Payment]:
        """The payments of an order, or of a customer (of one order), oldest first."""
        return await self.payments.find(order_id=order_id, customer_sub=customer_sub)


def _correlation(get: Callable[[], str] = request_id.get) -> str | None:
    rid = get()
    return None if rid == "-" else rid
