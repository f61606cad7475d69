"""The capacity model: pods for a peak, nodes for pods, KEDA's queue length from a consumer's rate."""

from __future__ import annotations

import pytest

from reference import SERVICES, capacity
from reference.capacity import Measured, nodes_for, pods_for


def test_pods_for_a_rate_at_the_target_utilisation() -> None:
    pod = Measured("x", per_pod_rps=100, sigma=0.0, source="test")
    assert pods_for(70, pod) == 1  # 100/s held, run at 70 %
    assert pods_for(71, pod) == 2
    assert pods_for(700, pod) == 10
    assert pods_for(0, pod) == 0


def test_contention_costs_pods() -> None:
    linear = Measured("x", per_pod_rps=100, sigma=0.0, source="test")
    contended = Measured("x", per_pod_rps=100, sigma=0.05, source="test")
    assert pods_for(700, contended) > pods_for(700, linear)


def test_a_peak_beyond_what_contention_allows_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be held"):
        pods_for(10_000, Measured("x", per_pod_rps=100, sigma=0.5, source="test"))


def test_every_service_has_a_plan_within_its_bounds() -> None:
    for svc in SERVICES:
        plan = capacity.plan(svc.name)
        assert capacity.MIN_REPLICAS == plan.min_replicas <= plan.at_peak <= plan.max_replicas


def test_nodes_hold_the_pods_requests_and_span_three_zones() -> None:
    per_node = capacity.pods_per_node()
    room = capacity.NODE_ALLOCATABLE_MILLICORES - capacity.DAEMONSET_MILLICORES
    assert per_node * capacity.POD_CPU_MILLICORES <= room < (per_node + 1) * capacity.POD_CPU_MILLICORES
    assert nodes_for(1) == 3
    assert nodes_for(per_node * 5 + 1) == 6


def test_keda_queue_length_is_drain_seconds_of_one_pods_work() -> None:
    rate = capacity.CONSUMERS["notification"].per_pod_msgs
    assert capacity.queue_length_per_pod("notification") == round(rate * capacity.DRAIN_S)
