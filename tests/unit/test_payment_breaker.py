"""The payment provider's circuit breaker: it opens on a share of failures, refuses calls while open, lets a
few trial calls through after its wait, and closes once they succeed (or opens again on a failure)."""

from __future__ import annotations

from services.payment.breaker import CircuitBreaker, State, Thresholds


def _breaker(now: list[float]) -> CircuitBreaker:
    t = Thresholds(failure_ratio=0.5, window=10, min_calls=4, open_s=5.0, half_open_calls=2)
    return CircuitBreaker("provider", t, clock=lambda: now[0])


def test_it_stays_closed_below_the_minimum_of_calls_and_below_the_ratio():
    breaker = _breaker([0.0])
    for ok in (False, False, False):
        assert breaker.allow()
        breaker.record(ok)
    assert breaker.state is State.CLOSED  # three failures, but fewer calls than min_calls
    breaker.record(True)
    assert breaker.state is State.OPEN  # 3 of 4 failed: at least half


def test_declines_and_successes_keep_it_closed_at_a_failure_share_under_the_ratio():
    breaker = _breaker([0.0])
    for ok in [True, True, False] * 10:
        assert breaker.allow()
        breaker.record(ok)
    assert breaker.state is State.CLOSED
    assert not breaker.transitions


def test_open_it_refuses_calls_then_half_open_lets_trials_through_and_they_close_it():
    now = [0.0]
    breaker = _breaker(now)
    for _ in range(4):
        breaker.allow()
        breaker.record(False)
    assert breaker.state is State.OPEN
    assert not breaker.allow()
    assert breaker.rejected == 1
    now[0] = 5.0
    assert breaker.allow()
    assert breaker.allow()
    assert not breaker.allow()  # a third waits for their outcome
    assert breaker.state is State.HALF_OPEN
    breaker.record(True)
    breaker.record(True)
    assert breaker.state is State.CLOSED
    assert breaker.transitions == {"closed->open": 1, "open->half-open": 1, "half-open->closed": 1}
    assert breaker.view()["window"] == {"calls": 0, "failures": 0}


def test_a_failed_trial_opens_it_again_for_another_wait():
    now = [0.0]
    breaker = _breaker(now)
    for _ in range(4):
        breaker.allow()
        breaker.record(False)
    now[0] = 6.0
    assert breaker.allow()
    breaker.record(False)
    assert breaker.state is State.OPEN
    now[0] = 10.0
    assert not breaker.allow()  # 4 s after reopening: still waiting
    now[0] = 11.0
    assert breaker.allow()
    assert breaker.transitions["half-open->open"] == 1
