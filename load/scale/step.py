"""Autoscaling replayed: the HPA's algorithm scaling real gateway and catalog processes under a step load.

The local cloud starts with one replica each of gateway and catalog behind HAProxy, each a 250m
pod. The open-loop generator offers product pages at a low rate, steps up, and steps back down.
Every sync period a controller per service reads its pods' CPU (psutil, as a share of the CPU
request, as metrics-server reports it) and applies ``Hpa.sync`` (load/scale/autoscale.py):
scaling out spawns a uvicorn process and adds it to HAProxy through its runtime API (it takes
traffic once its ``/readyz`` passes, and enters its 250m cgroup then, like a startup CPU boost);
scaling in drains a replica, stops it and removes it. The timeline (replicas, CPU, offered
rate, p99 per window) goes to the report.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from load.openloop import Sample, percentile, run
from load.scale.autoscale import Hpa
from load.scale.curve import BROWSE, product_journey
from localcloud import backends, cgroups, fleet, lb, state
from localcloud.processes import Child, spawn

STAGE = "scalestep"
SERVICES = ("gateway", "catalog")


@dataclass
class Pod:
    name: str
    pid: int
    child: Child | None = None  # None: the stack's own first replica
    capped: bool = False
    last_cpu: float = 0.0


@dataclass
class Scaled:
    """One service's replicas as the controller sees them; it adds and removes the ones it started."""

    service: str
    admin: str
    stats_url: str
    env: dict[str, str]
    log_dir: Path
    quotas: cgroups.Quotas | None
    milli: int
    pods: list[Pod] = field(default_factory=list)
    stopping: list[Pod] = field(default_factory=list)
    serial: int = 1

    def up_names(self) -> set[str]:
        try:
            rows = lb.stats(self.stats_url)
        except OSError:
            return set()
        return {r["svname"] for r in rows if r["pxname"] == self.service and r["status"].startswith("UP")}

    def add(self) -> None:
        self.serial += 1
        name = f"{self.service}-s{self.serial}"
        sock = backends.listen(fleet.HOST, 0)
        argv = fleet.uvicorn_argv(f"services.{self.service}.app:create_app", sock)
        child = spawn(name, argv, log_dir=self.log_dir, env=self.env, pass_fds=[sock.fileno()])
        address = fleet.url(sock).removeprefix("http://")
        sock.close()
        lb.add_replica(self.admin, self.service, name, address)
        self.pods.append(Pod(name, child.pid, child))

    def remove(self) -> None:
        pod = next((p for p in reversed(self.pods) if p.child is not None), None)
        if pod is None or pod.child is None:
            return
        self.pods.remove(pod)
        lb.drain_replica(self.admin, self.service, pod.name)
        pod.child.signal_stop()  # uvicorn finishes what it has in flight, then exits
        self.stopping.append(pod)

    def tidy(self) -> None:
        """Forget stopped replicas; put ready new ones in their cgroup."""
        for pod in list(self.stopping):
            if pod.child is not None and not pod.child.alive():
                pod.child.stop()
                lb.remove_replica(self.admin, self.service, pod.name)
                self.stopping.remove(pod)
        if self.quotas is not None:
            up = self.up_names()
            for pod in self.pods:
                if not pod.capped and pod.name in up:
                    self.quotas.group(pod.name, self.milli).add(pod.pid)
                    pod.capped = True

    def utilisation(self, interval_s: float) -> float:
        """Average CPU of the ready pods over the last interval, in % of the request (the HPA's metric)."""
        up = self.up_names()
        shares = []
        for pod in self.pods:
            try:
                times = psutil.Process(pod.pid).cpu_times()
            except psutil.Error:
                continue
            used = times.user + times.system
            if pod.name in up and pod.last_cpu:
                shares.append((used - pod.last_cpu) / interval_s / (self.milli / 1000) * 100)
            pod.last_cpu = used
        return sum(shares) / len(shares) if shares else 0.0

    def stop_all(self) -> None:
        for pod in [*self.pods, *self.stopping]:
            if pod.child is not None:
                pod.child.stop()


def first_replica(service: str, stage: str) -> tuple[int, dict[str, str]]:
    """The pid and environment of the stack's own replica of ``service`` (the one named ``service``)."""
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if f"services.{service}.app:create_app" not in cmd:
            continue
        try:
            env = proc.environ()
        except psutil.Error:
            continue
        if env.get("SHOP_STAGE") == stage:
            return proc.pid, env
    raise SystemExit(f"no {service} process of stage {stage} found")


async def drive(
    gateway: str, journey: Any, phases: list[tuple[float, float]], samples: list[tuple[float, Sample]], t0: float
) -> None:
    """The step: each (rate, seconds) in turn; samples are kept with their phase's start."""
    loop = asyncio.get_running_loop()
    for rate, seconds in phases:
        start = loop.time() - t0
        mine: list[Sample] = []
        await run(gateway, [journey], rate=rate, duration_s=seconds, keep=mine)
        samples += [(start, s) for s in mine]


async def control(args: argparse.Namespace, scaled: dict[str, Scaled], gateway: str, say: Any) -> dict[str, Any]:
    journey = product_journey(gateway)
    phases = [(args.low, args.before), (args.high, args.hold), (args.low, args.after)]
    hpas = {s: Hpa(1, args.max_replicas, args.target, window_s=args.window) for s in scaled}
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    samples: list[tuple[float, Sample]] = []
    load = asyncio.create_task(drive(gateway, journey, phases, samples, t0))
    timeline: list[dict[str, Any]] = []
    for s in scaled.values():
        s.utilisation(args.sync)  # the first reading only sets the baseline
    while not load.done():
        await asyncio.wait([load], timeout=args.sync)
        now = loop.time() - t0
        row: dict[str, Any] = {"t": round(now, 1), "offered": _offered(phases, now)}
        for name, s in scaled.items():
            s.tidy()
            current = len(s.pods)
            cpu = s.utilisation(args.sync)
            want = hpas[name].sync(now, current, cpu)
            for _ in range(want - current):
                s.add()
            for _ in range(current - want):
                s.remove()
            row[name] = {"replicas": current, "desired": want, "cpu_pct": round(cpu, 1), "up": len(s.up_names())}
        timeline.append(row)
        say(f"  t={now:5.0f}s offered {row['offered']:5.1f}/s  "
            + "  ".join(f"{n}: {row[n]['replicas']}->{row[n]['desired']} ({row[n]['cpu_pct']:.0f}% cpu)"
                        for n in scaled))  # fmt: skip
    await load
    return {"phases": phases, "timeline": timeline, "p99": windows(samples, args.sync)}


def _offered(phases: list[tuple[float, float]], t: float) -> float:
    end = 0.0
    for rate, seconds in phases:
        end += seconds
        if t < end:
            return rate
    return phases[-1][0]


def windows(samples: list[tuple[float, Sample]], width_s: float) -> list[dict[str, float]]:
    """p99 (ms) and errors per window of ``width_s`` seconds, by intended send time."""
    buckets: dict[int, list[Sample]] = {}
    for start, s in samples:
        buckets.setdefault(int((start + s.intended_s) // width_s), []).append(s)
    out = []
    for k, bucket in sorted(buckets.items()):
        latencies = [s.latency_s * 1000 for s in bucket]
        errors = sum(1 for s in bucket if not s.ok)
        out.append({"t": (k + 1) * width_s, "p99_ms": percentile(latencies, 99), "errors": errors, "sent": len(bucket)})
    return out


def run_step(args: argparse.Namespace, say: Any = print) -> dict[str, Any]:
    from load.bench.run import local_cloud

    env = os.environ | {
        "SHOP_STAGE": STAGE,
        "SHOP_REPLICAS": ",".join(f"{s}=1" for s in SERVICES),
        "SHOP_BALANCER": "haproxy",
        "SHOP_CPU_QUOTA": args.cpu_quota,
        "SHOP_READY_TIMEOUT": "300",
        "GATEWAY_RATE_PER_IP": "1000000000",
        "PYTHONUNBUFFERED": "1",
        # New pods copy a running replica's environment (first_replica, from /proc): a replica forked from the
        # zygote shows the zygote's there, so this stack spawns its replicas.
        "SHOP_PREFORK": "off",
    }
    milli = cgroups.millicores("250m" if args.cpu_quota in ("", "request") else args.cpu_quota)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with local_cloud(env):
        running = state.read(STAGE) or {}
        if "SHOP_BALANCER_ADMIN_SOCKET" not in running:
            raise SystemExit("the stack runs no balancer (is haproxy installed? apt-get install haproxy)")
        log_dir = Path(running["SHOP_BALANCER_ADMIN_SOCKET"]).parent / "logs"
        quotas, where = cgroups.Quotas.open(f"cloudshop-{STAGE}-step-{os.getpid()}") if args.cpu_quota else (None, "")
        say(f"autoscaling {', '.join(SERVICES)}: HPA target {args.target:.0f}% of {milli}m, sync {args.sync:.0f} s, "
            f"scale-down window {args.window:.0f} s; new pods' quotas: {where or 'off'}")  # fmt: skip
        scaled = {}
        for service in SERVICES:
            pid, penv = first_replica(service, STAGE)
            scaled[service] = Scaled(service, running["SHOP_BALANCER_ADMIN_SOCKET"], running["SHOP_BALANCER_STATS_URL"],
                                     penv, log_dir, quotas, milli, [Pod(service, pid, capped=True)])  # fmt: skip
        try:
            result = asyncio.run(control(args, scaled, running["SHOP_SERVICE_GATEWAY_URL"], say))
        finally:
            for s in scaled.values():
                s.stop_all()
            if quotas is not None:
                quotas.close()
    result |= {
        "when": started,
        "cpus": os.cpu_count(),
        "load_average_after": os.getloadavg(),
        "hpa": {"target_pct": args.target, "sync_s": args.sync, "window_s": args.window, "max": args.max_replicas},
        "objective_p99_ms": BROWSE.p99_ms,
    }
    return result
