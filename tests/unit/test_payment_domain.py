"""The payment state machine and the simulated provider, without any server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.payment.adapters.simulated import MemoryHolds, SimulatedProvider, SimulationConfig
from services.payment.domain import (
    PAYMENT_METHODS,
    TRANSITIONS,
    AuthorizationRequest,
    IllegalTransition,
    Operation,
    PaymentError,
    PaymentStatus,
    next_status,
    settled_status,
)
from services.payment.ports import ProviderCallback, ProviderTimeout

S = PaymentStatus
FOLLOW_UPS = [Operation.CAPTURE, Operation.VOID, Operation.REFUND]
TERMINAL = {S.DECLINED, S.VOIDED, S.REFUNDED}


@given(
    outcome=st.sampled_from(["ok", "declined", "timeout", "error"]),
    operations=st.lists(st.sampled_from(FOLLOW_UPS), max_size=12),
)
def test_any_sequence_of_operations_follows_the_lifecycle_and_repeats_change_nothing(outcome, operations):
    status, _ = settled_status(outcome)
    history = [status]
    for op in operations:
        before = status
        sources, goal = TRANSITIONS[op]
        if before not in sources and before != goal:
            with pytest.raises(IllegalTransition, match=f"cannot {op}"):
                next_status(op, status)
            continue
        target = next_status(op, status)
        if target is None:  # a repeat of what is already done
            assert before == TRANSITIONS[op][1]
            continue
        assert before not in TERMINAL, "a terminal payment never moves"
        status = target
        history.append(status)
    # Money only moves forward: captured only after authorized, refunded only after captured.
    if S.CAPTURED in history:
        assert history[: history.index(S.CAPTURED)] == [S.AUTHORIZED]
    if S.REFUNDED in history:
        assert history[-2:] == [S.CAPTURED, S.REFUNDED]
    if S.VOIDED in history:
        assert history[-2] in (S.AUTHORIZED, S.FAILED)
        assert history[-1] == S.VOIDED
    assert len(history) == len(set(history)), "no state is entered twice"


def test_a_timed_out_authorization_can_be_voided_but_not_captured():
    status, reason = settled_status("timeout")
    assert (status, reason) == (S.FAILED, "provider_timeout")
    assert next_status(Operation.VOID, status) == S.VOIDED
    with pytest.raises(IllegalTransition, match="cannot capture a payment that is failed"):
        next_status(Operation.CAPTURE, status)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount_minor", 0, "amount_minor"),
        ("amount_minor", 10**12, "amount_minor"),
        ("currency", "eur", "currency"),
        ("currency", "EURO", "currency"),
        ("payment_method", "pm_card_gold", "payment_method"),
    ],
)
def test_an_authorization_request_refuses_bad_money_and_unknown_methods(field, value, message):
    good = dict(idempotency_key="k", order_id="o", amount_minor=1, currency="EUR", customer_sub="s")
    good["payment_method"] = "pm_card_ok"
    with pytest.raises(PaymentError, match=message):
        AuthorizationRequest(**good | {field: value})


def run(coro):
    return asyncio.run(coro)


def test_the_decline_rate_declines_about_that_share_and_the_same_seed_declines_the_same_payments():
    keys = [str(uuid.UUID(int=i)) for i in range(400)]

    async def outcomes(seed: int) -> list[str]:
        provider = SimulatedProvider(SimulationConfig(decline_rate=0.25, seed=seed))
        return [(await provider.authorize(k, 100, "EUR", "pm_card_visa")).outcome for k in keys]

    first, again, other = run(outcomes(7)), run(outcomes(7)), run(outcomes(8))
    assert first == again
    assert first != other
    assert 0.19 <= first.count("declined") / len(keys) <= 0.31


def test_forced_methods_ignore_the_rates():
    async def outcome(method: str) -> str:
        provider = SimulatedProvider(SimulationConfig(decline_rate=1.0, timeout_rate=1.0, timeout_ms=1))
        try:
            return (await provider.authorize(str(uuid.uuid4()), 100, "EUR", method)).outcome
        except ProviderTimeout:
            return "timeout"

    assert [run(outcome(m)) for m in PAYMENT_METHODS[1:]] == ["ok", "declined", "timeout"]


def test_the_provider_answers_a_repeated_key_with_its_first_answer_and_holds_once():
    async def scenario() -> SimulatedProvider:
        provider = SimulatedProvider(SimulationConfig(timeout_ms=1))
        key = str(uuid.uuid4())
        with pytest.raises(ProviderTimeout):
            await provider.authorize(key, 100, "EUR", "pm_card_timeout")
        assert (await provider.authorize(key, 100, "EUR", "pm_card_timeout")).outcome == "ok"
        assert (await provider.void(f"{key}:void", key)).outcome == "ok"
        assert (await provider.void(f"{key}:void", key)).outcome == "ok"
        return provider

    provider = run(scenario())
    assert [h.state for h in provider.holds.held.values()] == ["voided"]
    assert provider.calls == {"authorize": 2, "void": 2}


def test_each_outcome_is_called_back_once_plus_the_configured_duplicates():
    async def scenario() -> list[ProviderCallback]:
        provider = SimulatedProvider(SimulationConfig(duplicate_callbacks=2))
        seen: list[ProviderCallback] = []

        async def hook(notice: ProviderCallback) -> None:
            seen.append(notice)

        provider.on_callback(hook)
        await provider.authorize(str(uuid.uuid4()), 100, "EUR", "pm_card_ok")
        await provider.delivered()
        return seen

    seen = run(scenario())
    assert len(seen) == 3
    assert len({n.callback_id for n in seen}) == 1


def test_a_provider_that_lost_its_answers_answers_a_repeated_move_from_its_holds():
    """After a restart only the holds remain (the answers were the process's): the same capture asked again is
    the same success, another call finds the hold already moved."""

    async def scenario() -> list[str]:
        book = MemoryHolds()
        first = SimulatedProvider(SimulationConfig(), holds=book)
        key = str(uuid.uuid4())
        await first.authorize(key, 100, "EUR", "pm_card_ok")
        assert (await first.capture(f"{key}:capture", key, 100)).outcome == "ok"
        restarted = SimulatedProvider(SimulationConfig(), holds=book)
        again = await restarted.capture(f"{key}:capture", key, 100)
        other = await restarted.void(f"{key}:void", key)
        return [again.outcome, other.outcome, other.reason or ""]

    assert run(scenario()) == ["ok", "declined", "hold_is_captured"]
