"""A circuit breaker around the card provider: stop calling a provider that is failing, try again later.

States and moves (the semantics of resilience4j's count-based breaker, the reference most gateways copy):

- **closed**: every call goes through; the outcomes of the last ``window`` calls are kept. Once at least
  ``min_calls`` are kept and the share of failures among them reaches ``failure_ratio``, the breaker opens.
- **open**: no call reaches the provider (``allow`` is False: the caller fails fast, and says so); after
  ``open_s`` the next call finds it half-open.
- **half-open**: ``half_open_calls`` trial calls go through (others are refused meanwhile); one failure
  opens it again, all of them succeeding closes it (with an empty window).

A failure is a timeout or a provider error (5xx); a decline is an answer, not a failure. Every transition
is counted (``transitions``, shown by ``GET /_faults``), logged, and sent as the EMF metrics
``CircuitBreakerTransition`` (dimensions ``Breaker``, ``To``) and ``CircuitBreakerOpen`` (1 while open or
half-open, 0 once closed); refused calls are counted (``rejected``). The thresholds are the
``PAYMENT_BREAKER_*`` settings (services/payment/README.md).

Why not pybreaker: it counts consecutive failures only (a provider failing every other call would never
open it) and its asynchronous calls need Tornado.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.common import metrics

log = logging.getLogger("services.payment.breaker")


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True)
class Thresholds:
    failure_ratio: float = 0.5
    window: int = 20
    min_calls: int = 10
    open_s: float = 5.0
    half_open_calls: int = 3


class CircuitBreaker:
    """One breaker (here: the card provider's); not thread-safe, used from one event loop."""

    def __init__(self, name: str, thresholds: Thresholds | None = None, clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.t = thresholds or Thresholds()
        self.clock = clock
        self.state = State.CLOSED
        self.outcomes: deque[bool] = deque(maxlen=self.t.window)  # True: the call succeeded
        self.opened_at = 0.0
        self.trials = 0  # trial calls let through while half-open
        self.trial_successes = 0
        self.transitions: Counter[str] = Counter()
        self.rejected = 0

    def allow(self) -> bool:
        """Whether a call may go to the provider now (False: fail fast, the provider is not called)."""
        if self.state is State.OPEN and self.clock() - self.opened_at >= self.t.open_s:
            self._move(State.HALF_OPEN)
        if self.state is State.CLOSED:
            return True
        if self.state is State.HALF_OPEN and self.trials < self.t.half_open_calls:
            self.trials += 1
            return True
        self.rejected += 1
        return False

    def record(self, ok: bool) -> None:
        """The outcome of a call ``allow`` let through."""
        if self.state is State.HALF_OPEN:
            if not ok:
                self._move(State.OPEN)
            else:
                self.trial_successes += 1
                if self.trial_successes >= self.t.half_open_calls:
                    self._move(State.CLOSED)
            return
        if self.state is State.OPEN:
            return  # a call let through before it opened: the window starts anew when it closes
        self.outcomes.append(ok)
        failures = self.outcomes.count(False)
        if len(self.outcomes) >= self.t.min_calls and failures / len(self.outcomes) >= self.t.failure_ratio:
            self._move(State.OPEN)

    def _move(self, to: State) -> None:
        before, self.state = self.state, to
        self.transitions[f"{before}->{to}"] += 1
        if to is State.OPEN:
            self.opened_at = self.clock()
        if to is State.HALF_OPEN:
            self.trials = self.trial_successes = 0
        if to is State.CLOSED:
            self.outcomes.clear()
        log.warning("circuit breaker %s: %s -> %s", self.name, before, to)
        metrics.emit("CircuitBreakerTransition", 1, Breaker=self.name, To=str(to))
        metrics.emit("CircuitBreakerOpen", 0.0 if to is State.CLOSED else 1.0, Breaker=self.name)

    def view(self) -> dict[str, Any]:
        """The breaker's state for ``GET /_faults``."""
        return {
            "name": self.name,
            "state": str(self.state),
            "transitions": dict(self.transitions),
            "rejected": self.rejected,
            "window": {"calls": len(self.outcomes), "failures": self.outcomes.count(False)},
            "thresholds": vars(self.t),
        }
