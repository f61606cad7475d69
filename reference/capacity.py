"""Capacity: what one pod is given, what it was measured to serve, and how many pods a stated peak needs.

AWS's Well-Architected guidance (REL12-BP04) asks that results of scaled-down tests be scaled up
by a model; this is that model. Its inputs are data, its arithmetic is small functions:

- one pod is ``POD_CPU_REQUEST`` (250m): what the rendered Deployments request (cfn/k8s.py) and
  the CPU quota each local replica runs under (``SHOP_CPU_QUOTA=request``), so a local replica
  is the same quarter-CPU machine as a pod on EKS;
- ``MEASURED``: the highest rate one such pod held within its SLO, from ``nox -s scale`` (the
  capacity curve; the fitted contention ``sigma`` says what each further pod adds);
- ``PEAK``: the load the shop is sized for; ``pods_for`` turns it into pods at the HPA's target
  utilisation, ``nodes_for`` into EKS nodes; the HPAs and KEDA ScaledObjects take their numbers
  from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

POD_CPU_REQUEST = "250m"
POD_CPU_MILLICORES = 250
POD_MEMORY_REQUEST = "256Mi"
POD_MEMORY_LIMIT = "512Mi"

# The HPA scales to keep average CPU at this share of the request: the 30 % left is the time a
# new pod takes to start (image pull, import, readiness) while traffic keeps rising.
TARGET_CPU_UTILISATION = 0.70
SCALE_DOWN_WINDOW_S = 300  # the HPA's default scale-down stabilisation window, written out in the manifests
KEDA_POLLING_S = 15  # how often KEDA reads a queue's depth
MIN_REPLICAS = 2  # one per zone at least in two zones: a zone (or a node) can go without an outage
HEADROOM = 1.5  # max replicas cover the peak times this (a flash sale above the plan) before requests queue

# An EKS node of the cluster layer's default size (2 vCPU): allocatable CPU after the kubelet's
# and system reservations, less the DaemonSets on every node (aws-node, kube-proxy, EBS CSI,
# the CloudWatch agent), each as requested in their charts (approximately).
NODE_VCPU = 2
NODE_ALLOCATABLE_MILLICORES = 1930
DAEMONSET_MILLICORES = 250


@dataclass(frozen=True, slots=True)
class Measured:
    """What one pod of ``service`` held within its objective, and how that was measured."""

    service: str
    per_pod_rps: float  # requests/s one 250m pod held within the SLO (p95, p99, errors)
    sigma: float  # USL contention from the same curve (0: each pod adds a whole pod's rate)
    source: str


# From `nox -s scale` (load/scale): the product page through the gateway's balancer, gateway and
# catalog at 1, 2, 4 replicas of 250m each, on the quiet 2-core build machine (load average 1.9 to
# 4.6, 2026-11-29 23:04). One replica held 31.4 pages/s within the browse objective (40.8 broke it);
# two held 89.6 and four 151.4 (efficiency 1.43 and 1.21). The curve rises faster than linearly (one
# 250m replica loses most to CFS throttling), which the USL cannot fit with positive coefficients:
# sigma 0 (linear) is the fit's floor, so the model sizes by one pod's rate, the conservative end.
# The ladder steps by 1.3, so each figure is a lower bound within 30 %.
_SOURCE = "nox -s scale 2026-11-29 23:04, load average 1.9-4.6: 31.4/s per pod; 2 and 4 replicas 1.43 and 1.21"
MEASURED = {
    "gateway": Measured("gateway", per_pod_rps=31.4, sigma=0.0, source=_SOURCE),
    "catalog": Measured("catalog", per_pod_rps=31.4, sigma=0.0, source=_SOURCE),
}
# Services not yet on the curve are sized as the gateway is (a stand-in until they are measured).
DEFAULT = Measured("default", per_pod_rps=31.4, sigma=0.0, source="stand-in: the gateway's figure")

# The peak the shop is sized for, requests/s reaching each service at the busiest minute
# (10,000 shoppers online, one API call each every 20 s = 500/s at the gateway; the product
# page and listings are most of it; one shopper in 50 checks out within a minute).
PEAK_RPS = {
    "gateway": 500.0,
    "catalog": 300.0,
    "search": 100.0,
    "recommendations": 60.0,
    "cart": 60.0,
    "profile": 30.0,
    "order": 20.0,
    "checkout": 10.0,
    "payment": 10.0,
    "notification": 5.0,
}


@dataclass(frozen=True, slots=True)
class ConsumerRate:
    """Messages/s one consumer pod processes from ``queue`` (receive, handle, delete)."""

    queue: str
    per_pod_msgs: float
    source: str


# KEDA's aws-sqs-queue scaler wants a queue length per pod: desired pods = ceil(messages / length).
# A backlog of DRAIN_S seconds of one pod's work per pod keeps the lag under that at any depth.
DRAIN_S = 30
CONSUMERS = {
    q: ConsumerRate(q, per_pod_msgs=20.0, source="stand-in, not yet measured: a batch of 10 per ~0.5 s")
    for q in ("notification", "recommendations", "order-payments", "search-indexer")
}
MAX_CONSUMER_REPLICAS = 10


def measured(service: str) -> Measured:
    return MEASURED.get(service, DEFAULT)


def pods_for(rps: float, m: Measured, utilisation: float = TARGET_CPU_UTILISATION) -> int:
    """Pods to serve ``rps`` with each at ``utilisation`` of what it holds, contention included.

    With the USL's sigma and no coherency cost, N pods hold ``N * x / (1 + sigma * (N - 1))``;
    the smallest N whose figure reaches ``rps`` is the answer."""
    per_pod = m.per_pod_rps * utilisation
    if rps <= 0:
        return 0
    n = 1
    while n * per_pod / (1 + m.sigma * (n - 1)) < rps:
        n += 1
        if n > 1000:  # sigma so high that no count holds it: say so rather than loop
            raise ValueError(f"{m.service}: {rps}/s cannot be held with contention {m.sigma}")
    return n


@dataclass(frozen=True, slots=True)
class Plan:
    """Replicas of one service: the HPA's min and max, and what the peak needs."""

    service: str
    at_peak: int
    min_replicas: int
    max_replicas: int
    target_utilisation_pct: int


def plan(service: str) -> Plan:
    m = measured(service)
    peak = PEAK_RPS.get(service, 0.0)
    at_peak = max(pods_for(peak, m), MIN_REPLICAS)
    return Plan(
        service,
        at_peak=at_peak,
        min_replicas=MIN_REPLICAS,
        max_replicas=max(pods_for(peak * HEADROOM, m), at_peak, MIN_REPLICAS + 1),
        target_utilisation_pct=round(TARGET_CPU_UTILISATION * 100),
    )


def relay_plan() -> Plan:
    """An outbox relay polls its outbox table: two for availability, a third when one is busy."""
    return Plan("relay", at_peak=MIN_REPLICAS, min_replicas=MIN_REPLICAS, max_replicas=MIN_REPLICAS + 1,
                target_utilisation_pct=round(TARGET_CPU_UTILISATION * 100))  # fmt: skip


def queue_length_per_pod(queue: str) -> int:
    """KEDA's ``queueLength``: DRAIN_S seconds of one pod's work."""
    return max(math.ceil(CONSUMERS[queue].per_pod_msgs * DRAIN_S), 1)


def pods_per_node() -> int:
    return (NODE_ALLOCATABLE_MILLICORES - DAEMONSET_MILLICORES) // POD_CPU_MILLICORES


def nodes_for(pods: int) -> int:
    """EKS nodes whose allocatable CPU holds ``pods`` requests (at least one per zone of three)."""
    return max(math.ceil(pods / pods_per_node()), 3)
