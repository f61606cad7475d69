"""A simulated card provider: the one allowed stand-in, because no card network runs here.

It behaves like a real payment gateway in the ways that matter to the orchestrator:

- it is idempotent by the key each call carries (asking again returns the first answer);
- it answers after a latency (mean +- jitter), declines at a configured rate, and times out
  at a configured rate: a timed-out authorization HAS placed its hold, only the answer is
  lost, which is the case the orchestrator must handle safely;
- it calls back each outcome through a webhook hook, plus ``duplicate_callbacks`` extra
  deliveries of the same notice;
- test payment methods force an outcome: pm_card_ok, pm_card_declined, pm_card_timeout
  (pm_card_visa takes its outcome from the rates);
- faults by flag (reference/faults.py, services/common/flags.py), for any payment method:
  ``payment.provider.failure-rate`` answers 503 (``ProviderError``) before anything is held, and
  ``payment.provider.timeout-rate`` does the operation, then hangs past the timeout (the answer is lost).

Every random choice comes from ``Random(seed:operation:key)``, so a run is reproducible
whatever order concurrent calls arrive in.

The provider's holds are its own state, not our service's: a card network remembers an authorization when the
payment service that asked for it restarts. They are kept in a ``HoldBook``: in memory for the unit tests
(``MemoryHolds``), and in the app in the payment database's ``provider_holds`` table (``PostgresHolds``),
where a restarted payment process, or another replica, finds them. Its answers to repeated calls
(``_answers``) are a cache of the process; after a restart a repeated call gets the same answer from the hold's
state.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from services.common import flags
from services.payment.domain import CARD_DECLINED, CARD_TIMEOUT, RANDOM_CARD, Operation
from services.payment.ports import (
    CallbackHook,
    PaymentProvider,
    ProviderCallback,
    ProviderError,
    ProviderResult,
    ProviderTimeout,
)

FAILURE_FLAG = "payment.provider.failure-rate"
TIMEOUT_FLAG = "payment.provider.timeout-rate"

log = logging.getLogger("services.payment.provider")


@dataclass(frozen=True)
class SimulationConfig:
    decline_rate: float = 0.0
    timeout_rate: float = 0.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    timeout_ms: float = 3000.0
    duplicate_callbacks: int = 0
    seed: int = 0


@dataclass
class Hold:
    """Funds the provider holds (or took) for one authorization."""

    ref: str
    amount_minor: int
    payment_method: str
    state: str = "authorized"  # authorized, captured, voided, refunded
    moved_by: str | None = None  # the idempotency key of the call that last moved it


class HoldBook(Protocol):
    """Where the provider keeps its holds, by the authorization's idempotency key: ``MemoryHolds`` (unit tests),
    ``PostgresHolds`` (the app, adapters/postgres.py)."""

    async def add(self, key: str, hold: Hold) -> None:
        """Place ``hold`` unless one is held under ``key`` already (a repeated authorization)."""
        ...

    async def get(self, key: str) -> Hold | None: ...

    async def move(self, key: str, by: str, source: str, target: str) -> tuple[Hold | None, bool]:
        """Move the hold from ``source`` to ``target`` (a compare-and-set), as the call keyed ``by``; the hold as it
        is after the attempt, and whether this call moved it or had moved it before (a repeated call)."""
        ...

    async def states(self) -> list[str]:
        """Every hold's state (tests)."""
        ...


@dataclass
class MemoryHolds(HoldBook):
    """The holds in this process's memory (lost when it stops: unit tests only)."""

    held: dict[str, Hold] = field(default_factory=dict)

    async def add(self, key: str, hold: Hold) -> None:
        self.held.setdefault(key, hold)

    async def get(self, key: str) -> Hold | None:
        return self.held.get(key)

    async def move(self, key: str, by: str, source: str, target: str) -> tuple[Hold | None, bool]:
        hold = self.held.get(key)
        if hold is not None and hold.state == source:
            hold.state, hold.moved_by = target, by
            return hold, True
        return hold, hold is not None and hold.state == target and hold.moved_by == by

    async def states(self) -> list[str]:
        return [h.state for h in self.held.values()]


@dataclass
class SimulatedProvider(PaymentProvider):
    config: SimulationConfig = field(default_factory=SimulationConfig)
    calls: Counter[str] = field(default_factory=Counter)  # requests that reached the provider, per operation
    holds: HoldBook = field(default_factory=MemoryHolds)
    _answers: dict[tuple[str, str], ProviderResult] = field(default_factory=dict)
    _hook: CallbackHook | None = None
    _deliveries: set[asyncio.Task[None]] = field(default_factory=set)

    def on_callback(self, hook: CallbackHook) -> None:
        self._hook = hook

    async def authorize(
        self, idempotency_key: str, amount_minor: int, currency: str, payment_method: str
    ) -> ProviderResult:
        rng = self._begin(Operation.AUTHORIZE, idempotency_key)
        await self._failing(rng, Operation.AUTHORIZE)
        timeout, declined = rng.random() < self.config.timeout_rate, rng.random() < self.config.decline_rate
        if payment_method != RANDOM_CARD:
            timeout, declined = payment_method == CARD_TIMEOUT, payment_method == CARD_DECLINED
        timeout = flags.inject(TIMEOUT_FLAG) or timeout
        if (replay := self._answers.get((Operation.AUTHORIZE, idempotency_key))) is not None:
            await self._wait(rng)
            return replay
        ref = _ref("auth", idempotency_key)
        if declined:
            result = ProviderResult("declined", ref, "card_declined")
        else:
            await self.holds.add(idempotency_key, Hold(ref, amount_minor, payment_method))
            result = ProviderResult("ok", ref)
        self._answers[(Operation.AUTHORIZE, idempotency_key)] = result
        if timeout:
            await asyncio.sleep(self.config.timeout_ms / 1000)
            raise ProviderTimeout(f"no answer to authorize within {self.config.timeout_ms:.0f} ms")
        await self._wait(rng)
        self._notify(Operation.AUTHORIZE, idempotency_key, result)
        return result

    async def capture(self, idempotency_key: str, authorization_key: str, amount_minor: int) -> ProviderResult:
        return await self._move(Operation.CAPTURE, idempotency_key, authorization_key, "authorized", "captured")

    async def void(self, idempotency_key: str, authorization_key: str) -> ProviderResult:
        if await self.holds.get(authorization_key) is None:  # declined, or never reached us: nothing to release
            self._begin(Operation.VOID, idempotency_key)
            return ProviderResult("ok", _ref("void", idempotency_key), "nothing_held")
        return await self._move(Operation.VOID, idempotency_key, authorization_key, "authorized", "voided")

    async def refund(self, idempotency_key: str, authorization_key: str, amount_minor: int) -> ProviderResult:
        return await self._move(Operation.REFUND, idempotency_key, authorization_key, "captured", "refunded")

    async def _move(self, op: Operation, key: str, authorization_key: str, source: str, target: str) -> ProviderResult:
        rng = self._begin(op, key)
        await self._failing(rng, op)
        if (replay := self._answers.get((op, key))) is not None:
            await self._wait(rng)
            return replay
        hold, moved = await self.holds.move(authorization_key, key, source, target)
        if moved:
            result = ProviderResult("ok", _ref(op, key))
        else:
            result = ProviderResult("declined", _ref(op, key), f"hold_is_{hold.state if hold else 'unknown'}")
        self._answers[(op, key)] = result
        timeout = hold is not None and hold.payment_method == RANDOM_CARD and rng.random() < self.config.timeout_rate
        if flags.inject(TIMEOUT_FLAG) or timeout:
            await asyncio.sleep(self.config.timeout_ms / 1000)
            raise ProviderTimeout(f"no answer to {op} within {self.config.timeout_ms:.0f} ms")
        await self._wait(rng)
        self._notify(op, authorization_key, result)
        return result

    async def _failing(self, rng: random.Random, op: Operation) -> None:
        """The ``payment.provider.failure-rate`` fault: a 503 after the usual latency, nothing done."""
        if flags.inject(FAILURE_FLAG):
            self.calls[f"{op}:failed"] += 1
            await self._wait(rng)
            raise ProviderError(f"503 Service Unavailable from the provider on {op} (flag {FAILURE_FLAG})")

    def _begin(self, op: Operation, key: str) -> random.Random:
        self.calls[op] += 1
        return random.Random(f"{self.config.seed}:{op}:{key}")  # noqa: S311 - a simulation, reproducible by seed

    async def _wait(self, rng: random.Random) -> None:
        c = self.config
        delay = max(0.0, c.latency_ms + rng.uniform(-c.latency_jitter_ms, c.latency_jitter_ms))
        if delay:
            await asyncio.sleep(delay / 1000)

    def _notify(self, op: Operation, authorization_key: str, result: ProviderResult) -> None:
        """Call the webhook hook with the outcome, 1 + duplicate_callbacks times, after this call returns."""
        if self._hook is None:
            return
        try:
            payment_id = UUID(authorization_key)
        except ValueError:
            return
        notice = ProviderCallback(f"cb_{result.provider_ref}", payment_id, op, result.outcome, result.provider_ref)
        task = asyncio.get_running_loop().create_task(self._deliver(notice, 1 + self.config.duplicate_callbacks))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, notice: ProviderCallback, times: int) -> None:
        for _ in range(times):
            await asyncio.sleep(0)  # after the synchronous answer, as webhooks arrive
            try:
                await self._hook(notice)  # type: ignore[misc]
            except Exception:
                log.exception("callback %s was refused; a real provider would retry it", notice.callback_id)

    async def delivered(self) -> None:
        """Wait until every callback scheduled so far has been delivered (tests, shutdown)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.delivered(), 2.0)


def _ref(kind: str, key: str) -> str:
    return f"{kind}_{hashlib.sha256(key.encode()).hexdigest()[:20]}"
