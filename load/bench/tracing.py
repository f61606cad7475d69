"""``nox -s bench -- tracing``: what tracing costs on the catalog bench, off and on in one run.

The catalog bench's measure (a product page through the gateway, cache warm, Locust
FastHttpUsers; see load/bench/README.md) on three stacks started one after the other by the same
command: ``SHOP_TRACING=off``, ``xray`` with the sampling rules of reference/ (what runs in AWS: the
``api`` rule keeps 1 request a second and 5 % of the rest) and ``xray`` with every request sampled
(the worst case: every request makes spans, converts them and sends them to the emulator's X-Ray).
Before each, the bare hello-world ceiling is measured again, and each stack's figure is read as
its ratio to the ceiling measured just before it: on a shared machine the load changes between
stacks, and the ratio cancels part of that. The cost is ``1 - ratio(on) / ratio(off)``.

Throughput on a busy 2-core machine moves with whatever else runs, so the bench also reports the
figure that moves less: the CPU time the gateway and catalog processes of its stage (found by their
environment) spent per request during the measured seconds, less what they spend idle (their
background loops, measured for 10 s just before). The cost by CPU is ``cpu_ms(on) / cpu_ms(off) - 1``:
what tracing adds to every request's work. The emulator's CPU (which receives the segments locally;
X-Ray does in AWS) is not counted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from load.bench.run import Result, Target, catalog_targets, hello_world, local_cloud, locust, results_lines

PATH = ("gateway", "catalog")  # the processes a product page goes through
IDLE_S = 10.0
MODES = (("off", "off", "rules"), ("on, rules", "xray", "rules"), ("on, all", "xray", "all"))
TARGET_COST = 0.10


def bench(args: argparse.Namespace) -> dict[str, Any]:
    # Its own stage (names, state file) beside any other stack; rate limits still checked, never hit.
    unlimited = {"GATEWAY_RATE_PER_IP": "1000000000", "EDGE_WAF_RATE_LIMIT": "1000000000"}
    base = os.environ | {"SHOP_STAGE": "benchtr"} | unlimited
    results: list[Result] = []
    ratios: dict[str, float] = {}
    loads: dict[str, float] = {}
    cpu_ms: dict[str, float] = {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, hello_world() as hello:
        work = Path(tmp)
        ceiling = Target("ceiling: bare uvicorn hello-world", hello, ["/hello"])
        for label, tracing, sampling in MODES:
            env = base | {"SHOP_TRACING": tracing, "SHOP_TRACE_SAMPLING": sampling}
            print(f"tracing {label}: starting the local cloud", flush=True)
            with local_cloud(env) as front_door:
                _, through_gateway, _ = catalog_targets(front_door)
                gateway = Target(f"gateway, tracing {label}", through_gateway.host, through_gateway.paths)
                locust(ceiling, args.users, args.warmup, work)
                top = locust(Target(f"ceiling before {label}", hello, ["/hello"]), args.users, args.seconds, work)
                print(f"measuring {gateway.label}: {args.warmup} s warm-up, then {args.seconds} s", flush=True)
                locust(gateway, args.users, args.warmup, work)
                processes = services_of(env["SHOP_STAGE"], PATH)
                idle = cpu_seconds(processes)
                time.sleep(IDLE_S)  # what the two processes spend with no request (their background loops)
                before, started = cpu_seconds(processes), time.monotonic()
                idle_rate = (before - idle) / IDLE_S
                measured = locust(gateway, args.users, args.seconds, work)
                spent = cpu_seconds(processes) - before - idle_rate * (time.monotonic() - started)
                cpu_ms[label] = spent * 1000 / max(measured.requests, 1)
                loads[label] = round(os.getloadavg()[0], 2)
                results += [top, measured]
                ratios[label] = measured.rps / top.rps if top.rps else 0.0
    off = ratios.get("off") or float("nan")
    costs = {label: round(1 - ratio / off, 3) for label, ratio in ratios.items() if label != "off"}
    cpu_off = cpu_ms.get("off") or float("nan")
    cpu_costs = {label: round(ms / cpu_off - 1, 3) for label, ms in cpu_ms.items() if label != "off"}
    return {
        "scenario": "tracing",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count()},
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "users": args.users,
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "load_average_per_stack": loads,
        "results": [r.__dict__ for r in results],
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "cost": costs,
        "cpu_ms_per_request": {k: round(v, 3) for k, v in cpu_ms.items()},
        "cpu_cost": cpu_costs,
        "target": TARGET_COST,
        "met": all(c < TARGET_COST for c in cpu_costs.values()),
    }


def table(report: dict[str, Any]) -> str:
    lines = results_lines(report)
    for label, ratio in report["ratios"].items():
        load = report["load_average_per_stack"][label]
        lines.append(f"gateway / ceiling, tracing {label:<10} {ratio:.3f}  (load average then {load})")
    for label, cost in report["cost"].items():
        verdict = "met" if cost < report["target"] else "NOT met"
        target = report["target"] * 100
        lines.append(f"cost of tracing {label}: {cost * 100:.1f} % of req/s (target < {target:.0f} %: {verdict})")
    for label, ms in report["cpu_ms_per_request"].items():
        lines.append(f"service CPU per request, tracing {label:<10} {ms:.2f} ms")
    for label, cost in report["cpu_cost"].items():
        verdict = "met" if cost < report["target"] else "NOT met"
        lines.append(f"cost of tracing {label} in CPU per request: {cost * 100:.1f} % ({verdict})")
    return "\n".join(lines)


def services_of(stage: str, names: tuple[str, ...]) -> list[psutil.Process]:
    """The processes of services ``names`` (uvicorn ``services.<name>.app``) of the stack of ``stage``."""
    apps = {f"services.{name}.app:create_app" for name in names}
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            is_service = bool(apps & set(proc.info["cmdline"] or []))
            if is_service and proc.environ().get("SHOP_STAGE") == stage:
                found.append(proc)
        except psutil.Error:  # gone, or not ours to read
            continue
    return found


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total
