"""The open-loop generator's arithmetic: when requests are due, which journey each is, percentiles, summaries."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest

from load.openloop import Journey, Request, Sample, mix, percentile, schedule, summarise


def journey(name: str, weight: float) -> Journey:
    return Journey(name, weight, lambda i: Request("GET", f"/{name}/{i}"))


def test_requests_are_due_at_a_constant_rate_from_the_start() -> None:
    due = schedule(rate=50, duration_s=2)
    assert len(due) == 100
    assert due[0] == 0
    assert {round(b - a, 9) for a, b in itertools.pairwise(due)} == {0.02}
    assert due[-1] < 2


def test_a_fractional_rate_keeps_its_spacing() -> None:
    assert schedule(rate=2.5, duration_s=2) == [0, 0.4, 0.8, 1.2, 1.6]


@pytest.mark.parametrize(("rate", "duration"), [(0, 10), (-1, 10), (10, 0)])
def test_a_schedule_needs_a_positive_rate_and_duration(rate: float, duration: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        schedule(rate, duration)


def test_the_mix_holds_the_weights_in_every_window() -> None:
    journeys = [journey("product", 6), journey("search", 3), journey("checkout", 1)]
    picks = mix(journeys, 1000)
    assert Counter(picks) == {0: 600, 1: 300, 2: 100}
    for start in range(0, 1000, 10):  # smooth: each run of 10 arrivals holds 6/3/1 exactly
        assert Counter(picks[start : start + 10]) == {0: 6, 1: 3, 2: 1}


def test_a_journey_of_weight_zero_is_never_picked() -> None:
    assert set(mix([journey("a", 1), journey("b", 0)], 50)) == {0}


def test_weights_must_add_up_to_something() -> None:
    with pytest.raises(ValueError, match="weights"):
        mix([journey("a", 0)], 3)


def test_percentiles_are_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    assert percentile([3, 1, 2], 50) == 2  # order does not matter


def test_a_percentile_outside_0_to_100_is_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_a_summary_counts_latency_from_the_intended_time_and_errors_in_the_tail() -> None:
    samples = [Sample("product", i / 10, 0.010, 200) for i in range(97)]
    samples += [Sample("product", 9.7, 2.0, 503), Sample("search", 9.8, 10.0, 0, "timeout")]
    samples += [Sample("search", 9.9, 0.02, 200)]
    summary = summarise(samples, rate=10, duration_s=10, starts=[0.0] * 99 + [0.5])
    assert summary.sent == 100
    assert summary.errors == 2
    assert summary.completed == 99  # the timeout got no answer
    assert summary.achieved_rate == pytest.approx(9.8)
    assert summary.p50_ms == pytest.approx(10)
    assert summary.p99_ms == pytest.approx(2000)  # the 503 is in the tail, not dropped
    assert summary.max_ms == pytest.approx(10_000)
    assert summary.error_rate == pytest.approx(0.02)
    assert summary.error_kinds == {"HTTP 503": 1, "timeout": 1}
    assert summary.late_starts == 1
    assert summary.by_journey["search"]["sent"] == 2
    assert summary.by_journey["search"]["errors"] == 1
    assert "offered    10.0/s" in summary.line()


def test_redirects_count_as_answers_and_client_errors_do_not() -> None:
    assert Sample("a", 0, 0.1, 304).ok
    assert not Sample("a", 0, 0.1, 404).ok
    assert not Sample("a", 0, 0.1, 0, "ClientConnectorError").ok
