"""The HPA's and KEDA's arithmetic, replayed: ratio, tolerance, stabilisation window, limits."""

from __future__ import annotations

import pytest

from load.scale.autoscale import SYNC_PERIOD_S, Hpa, desired, keda_sqs


def test_desired_is_the_ceiling_of_current_times_metric_over_target() -> None:
    assert desired(2, 140, 70) == 4
    assert desired(3, 100, 70) == 5  # ceil(4.29)
    assert desired(4, 35, 70) == 2


def test_within_the_tolerance_nothing_changes() -> None:
    assert desired(4, 76, 70) == 4  # ratio 1.086
    assert desired(4, 64, 70) == 4  # ratio 0.914
    assert desired(4, 78, 70) == 5  # ratio 1.114: outside


def test_a_deployment_at_zero_is_not_the_hpas_to_wake() -> None:
    with pytest.raises(ValueError, match="zero"):
        desired(0, 50, 70)


def test_keda_sqs_asks_for_one_pod_per_queue_length_within_bounds() -> None:
    assert keda_sqs(1250, 600, 2, 10) == 3
    assert keda_sqs(0, 600, 2, 10) == 2
    assert keda_sqs(100_000, 600, 2, 10) == 10


def test_under_a_step_the_hpa_scales_out_at_the_next_sync_and_in_only_after_the_window() -> None:
    hpa = Hpa(min_replicas=2, max_replicas=10, target=70)
    replicas, t, trace = 2, 0.0, []
    load = lambda t: 280.0 if 60 <= t < 180 else 50.0  # noqa: E731 - CPU% of 2 pods' worth
    while t <= 600:
        per_pod = load(t) * 2 / replicas  # the same work spread over the pods there are
        replicas = hpa.sync(t, replicas, per_pod)
        trace.append((t, replicas))
        t += SYNC_PERIOD_S
    at = dict(trace)
    assert at[45.0] == 2
    assert at[60.0] == 6  # 2 pods at 280 %: ceil(2 * 280 / 70) = 8, limited to +4 pods in one period
    assert at[75.0] == 8
    assert at[180.0 + 285.0] == 8  # the load fell at 180 s: the window still holds the high recommendation
    assert at[180.0 + 300.0] == 2  # ... until it has passed
    assert min(r for _, r in trace) == 2


def test_scale_down_never_goes_below_min_nor_up_above_max() -> None:
    hpa = Hpa(min_replicas=2, max_replicas=5, target=70, window_s=0)
    assert hpa.sync(0, 4, 1) == 2
    assert hpa.sync(15, 4, 1000) == 5


def test_latency_windows_follow_the_intended_send_time_of_each_phase() -> None:
    from load.openloop import Sample
    from load.scale.step import windows

    samples = [(0.0, Sample("p", 1.0, 0.010, 200)), (0.0, Sample("p", 6.0, 0.500, 200))]
    samples += [(10.0, Sample("p", 1.0, 2.0, 0, "timeout"))]  # second phase began at 10 s: due at 11 s
    assert windows(samples, 5) == [
        {"t": 5, "p99_ms": 10.0, "errors": 0, "sent": 1},
        {"t": 10, "p99_ms": 500.0, "errors": 0, "sent": 1},
        {"t": 15, "p99_ms": 2000.0, "errors": 1, "sent": 1},
    ]
