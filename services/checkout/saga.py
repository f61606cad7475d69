"""The checkout saga: forward steps, compensation before the pivot, roll-forward after it.

``run`` drives a checkout from whatever state it is in (a fresh one, or one a crashed runner
left behind), saving after every step. A business failure (empty cart, no stock, a
declined card) or an outage before the pivot compensates every step made, newest first;
from the pivot (order confirmed) on, the saga only moves forward and an outage leaves it
for the sweeper to finish. ``after_step`` is a fault-injection point: tests and chaos
experiments crash the runner there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from services.checkout.domain import (
    FINISHING,
    STEPS,
    Checkout,
    Reason,
    Status,
    StepFailed,
    lines_from_cart,
    outcome_event,
    past_pivot,
)
from services.checkout.ports import Checkouts, Downstream
from services.checkout.settings import CheckoutSettings

log = logging.getLogger("services.checkout.saga")
Hook = Callable[[Checkout], Awaitable[None]]


async def _nothing(_: Checkout) -> None:
    return None


class Saga:
    def __init__(
        self, repo: Checkouts, downstream: Downstream, settings: CheckoutSettings, after_step: Hook = _nothing
    ):
        self.repo, self.d, self.settings, self.after_step = repo, downstream, settings, after_step

    async def run(self, co: Checkout) -> Checkout:
        """Drive ``co`` to COMPLETED or FAILED, or as far as an outage after the pivot allows."""
        forward = {
            Status.STARTED: self._reserve,
            Status.RESERVED: self._create_order,
            Status.ORDER_CREATED: self._authorize,
            Status.AUTHORIZED: self._confirm,
            **dict.fromkeys(FINISHING, self._finish),
        }
        while co.status in forward:
            try:
                await forward[co.status](co)
            except StepFailed as failure:
                if past_pivot(co.status):
                    log.warning(
                        "checkout %s stuck at %s: %s; the sweeper will retry", co.checkout_id, co.status, failure
                    )
                    await self._save(co, f"retry:{co.status.value}", failure.detail)
                    return co
                return await self.compensate(co, failure.reason, failure.detail)
            co.status = Status.COMPLETED if co.status in FINISHING else STEPS[STEPS.index(co.status) + 1]
            await self._save(co, co.status.value)
            await self.after_step(co)
        return co

    async def resume(self, co: Checkout) -> Checkout:
        """What the sweeper does with a saga whose runner vanished: finish it past the pivot, else undo it."""
        if co.failure_reason is not None or not past_pivot(co.status):
            return await self.compensate(co, co.failure_reason or Reason.ABANDONED, co.failure_detail or "runner lost")
        return await self.run(co)

    async def compensate(self, co: Checkout, reason: Reason, detail: str) -> Checkout:
        """Undo every step made, newest first; if an undo fails, leave it for the sweeper to try again."""
        co.failure_reason, co.failure_detail = reason, detail
        made = STEPS.index(co.status)
        try:
            if made >= STEPS.index(Status.ORDER_CREATED):  # an authorization may exist, even a timed-out one
                await self.d.payments.void_payments(co)
            if made >= STEPS.index(Status.RESERVED):  # the order may exist, even if creating it timed out
                await self.d.orders.cancel_order(co, reason.value)
            # A reservation may exist even if the saga saved no lines: the runner can die after the catalog
            # took it and before the step was saved. Releasing is by the saga's reservation id and idempotent
            # (an unknown id is a 404), so always ask.
            await self.d.inventory.release_stock(co)
        except StepFailed as failure:
            log.warning("compensating checkout %s failed: %s; the sweeper will retry", co.checkout_id, failure)
            await self._save(co, "compensation-retry", failure.detail)
            return co
        co.status, co.compensated = Status.FAILED, made > 0
        await self._save(co, "failed", f"{reason.value}: {detail}")
        return co

    async def _save(self, co: Checkout, step: str, outcome: str = "ok") -> None:
        """Record the step, with the event the checkout's state emits (the domain decides), in one transaction."""
        await self.repo.save(co, step, outcome, outcome_event(co))

    # --- forward steps

    async def _reserve(self, co: Checkout) -> None:
        co.lines, co.currency, co.subtotal_minor = lines_from_cart(await self.d.cart.priced_cart(co))
        co.shipping_minor = self.settings.shipping_minor
        await self.d.inventory.reserve(co, self.settings.reservation_ttl_s)

    async def _create_order(self, co: Checkout) -> None:
        await self.d.orders.create_order(co)

    async def _authorize(self, co: Checkout) -> None:
        co.payment_id = await self.d.payments.authorize(co)

    async def _confirm(self, co: Checkout) -> None:
        await self.d.orders.confirm_order(co)

    async def _finish(self, co: Checkout) -> None:
        """Capture the payment, commit the stock and take the bought units out of the cart, together; the first
        failure is raised once all three have ended (the sweeper repeats the step: each call is idempotent)."""
        done = await asyncio.gather(
            self.d.payments.capture(co),
            self.d.inventory.commit_stock(co),
            self.d.cart.remove_bought(co),
            return_exceptions=True,
        )
        failed = next((x for x in done if isinstance(x, BaseException)), None)
        if failed is not None:
            raise failed


async def sweep(saga: Saga) -> int:
    """One pass of the sweeper: resume every saga whose lease ran out; returns how many it touched."""
    stuck = await saga.repo.claim_stuck()
    for co in stuck:
        try:
            await saga.resume(co)
        except Exception:
            log.exception("sweeping checkout %s failed", co.checkout_id)
    return len(stuck)
