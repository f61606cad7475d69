"""The capacity curve: for 1, 2, 4 ... replicas of gateway+catalog, the highest product-page rate held within the SLO.

For each replica count the local cloud is started afresh (``SHOP_REPLICAS=gateway=N,catalog=N``,
each replica a 250m pod: ``SHOP_CPU_QUOTA=request``, HAProxy in front); the open-loop generator
(load/openloop.py) offers product pages *to the gateway's balancer* (the ALB's place: the local
front door is a Python stand-in for CloudFront, a hop AWS does not have) at rising rates until
one breaks the browse objective of reference/slo.py (p95, p99, errors) or is not achieved. After
each count it reads the balancer's per-replica counters and each pod's CPU throttling.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from load.openloop import Journey, Request, Summary, sweep
from localcloud import lb, state
from reference.slo import SLO

BROWSE = next(g for g in SLO.groups if g.name == "browse")
STAGE = "scale"
SERVICES = ("gateway", "catalog")
MIN_ACHIEVED = 0.95  # an offered rate counts as held only if this share of it was answered in time


@dataclass
class Step:
    replicas: int
    summaries: list[Summary] = field(default_factory=list)
    balancer: list[dict[str, str]] = field(default_factory=list)
    throttling: dict[str, dict[str, int]] = field(default_factory=dict)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    error: str = ""  # why this count could not be measured (the stack did not start, ...)

    @property
    def capacity(self) -> float:
        """The highest offered rate that held (0 when even the first broke)."""
        held = [s.offered_rate for s in self.summaries if holds(s)]
        return max(held, default=0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "replicas": self.replicas,
            "capacity_rps": self.capacity,
            "per_pod_rps": self.capacity / self.replicas,
            "load_average": self.load_average,
            "sweep": [s.as_dict() for s in self.summaries],
            "balancer": [
                {k: r.get(k, "") for k in ("pxname", "svname", "status", "stot", "hrsp_2xx", "hrsp_5xx", "qmax")}
                for r in self.balancer
            ],
            "throttling": self.throttling,
            "error": self.error,
        }


def holds(summary: Summary) -> bool:
    """Within the browse objective: p95 and p99 under it, errors under the SLO's rate, the rate achieved."""
    return (
        summary.p95_ms <= BROWSE.p95_ms
        and summary.p99_ms <= BROWSE.p99_ms
        and summary.error_rate <= SLO.max_error_rate
        and summary.achieved_rate >= MIN_ACHIEVED * summary.offered_rate
    )


def rates(start: float, factor: float, limit: float) -> list[float]:
    """A geometric ladder of offered rates from ``start`` up to ``limit``."""
    out, rate = [], start
    while rate <= limit:
        out.append(round(rate, 1))
        rate *= factor
    return out


def product_journey(gateway: str, count: int = 300, seed: int = 16) -> Journey:
    """Product pages of ``count`` products in a shuffled cycle: a mix of cache hits and misses at the gateway."""
    ids: list[str] = []
    page = 1
    while len(ids) < count:
        url = f"{gateway}/api/catalog/products?page_size=100&page={page}"
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - our own loopback URL
            items = json.loads(response.read())["items"]
        if not items:
            break
        ids += [item["id"] for item in items]
        page += 1
    if not ids:
        raise SystemExit("the catalog has no products: did its seed run?")
    random.Random(seed).shuffle(ids)  # noqa: S311 - an order of pages, not a secret
    return Journey("product page", 1, lambda i: Request("GET", f"/api/catalog/products/{ids[i % len(ids)]}"))


def throttling(stage: str = STAGE) -> dict[str, dict[str, int]]:
    """``cpu.stat`` of every replica's group of the running stack (empty when quotas are off)."""
    from localcloud.cgroups import ROOT

    out = {}
    for base in (ROOT / "cpu", ROOT):
        for group in sorted(base.glob(f"cloudshop-{stage}-*/*/cpu.stat")):
            values = dict(line.split(" ", 1) for line in group.read_text().splitlines())
            out[group.parent.name] = {k: int(v) for k, v in values.items() if k in ("nr_periods", "nr_throttled")}
        if out:
            break
    return out


def measure(args: argparse.Namespace, replicas: int, say: Any = print) -> Step:
    """Start the stack with ``replicas`` of each of SERVICES and sweep the offered rate."""
    from load.bench.run import local_cloud

    counts = ",".join(f"{s}={replicas}" for s in SERVICES)
    env = os.environ | {
        "SHOP_STAGE": STAGE,
        "SHOP_REPLICAS": counts,
        "SHOP_BALANCER": "haproxy",
        "SHOP_CPU_QUOTA": args.cpu_quota,
        "SHOP_READY_TIMEOUT": "300",
        "GATEWAY_RATE_PER_IP": "1000000000",  # one client address sends everything: still checked, never hit
        "PYTHONUNBUFFERED": "1",
    }
    step = Step(replicas)
    say(f"{replicas} replica(s) of {' and '.join(SERVICES)} ({counts}, CPU quota {args.cpu_quota or 'none'})")
    with local_cloud(env):
        running = state.read(STAGE) or {}
        gateway = running["SHOP_SERVICE_GATEWAY_URL"]
        journey = product_journey(gateway)
        say(f"  warm-up: {args.warmup:.0f} s at {args.start:.0f}/s")
        sweep(gateway, [journey], [args.start], duration_s=args.warmup, holds=lambda s: True, say=say)
        ladder = rates(args.start, args.factor, args.max_rate)  # from the same rate at every N: a 0 means 0
        step.summaries = sweep(gateway, [journey], ladder, duration_s=args.seconds, holds=holds, say=say)
        step.load_average = os.getloadavg()
        if stats := running.get("SHOP_BALANCER_STATS_URL"):
            step.balancer = lb.stats(stats)
        step.throttling = throttling()
    say(f"  -> {replicas} replica(s) hold {step.capacity:.0f} product pages/s within p99 {BROWSE.p99_ms:.0f} ms "
        f"(load average {step.load_average[0]:.1f})")  # fmt: skip
    return step


def run(args: argparse.Namespace, say: Any = print) -> dict[str, Any]:
    from load.scale.usl import fit

    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    load_before = os.getloadavg()
    steps = []
    for n in args.replicas:
        try:
            steps.append(measure(args, n, say))
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - one count failing must not lose the others
            say(f"  -> {n} replica(s) not measured: {exc}")
            steps.append(Step(n, load_average=os.getloadavg(), error=str(exc) or type(exc).__name__))
    points = [(s.replicas, s.capacity) for s in steps if s.capacity > 0]
    usl = None
    if any(n == 1 for n, _ in points):
        model = fit(points)
        usl = {"lambda": model.lam, "sigma": model.sigma, "kappa": model.kappa, "peak_n": model.peak_n}
        usl["efficiency"] = {str(n): model.efficiency(n) for n, _ in points}
    one = next((s.capacity for s in steps if s.replicas == 1), 0.0)
    return {
        "when": started,
        "cpus": os.cpu_count(),
        "cpu_quota": args.cpu_quota,
        "objective": {
            "group": BROWSE.name,
            "p95_ms": BROWSE.p95_ms,
            "p99_ms": BROWSE.p99_ms,
            "max_error_rate": SLO.max_error_rate,
            "min_achieved": MIN_ACHIEVED,
        },
        "seconds_per_rate": args.seconds,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "steps": [s.as_dict() for s in steps],
        "measured_efficiency": {str(s.replicas): (s.capacity / (s.replicas * one) if one else None) for s in steps},
        "usl": usl,
    }


def write(out: Path, result: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str))
    return out / "result.json"
