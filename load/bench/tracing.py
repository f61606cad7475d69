"""``nox -s bench -- tracing [--rounds 5] [--every-request]``: what tracing costs on the catalog bench, off vs on.

The catalog bench's measure (a product page through the gateway, cache warm, Locust
FastHttpUsers; see load/bench/README.md) on stacks that run side by side, started by the same
command: ``SHOP_TRACING=off`` and ``xray`` with the sampling rules of reference/ (what runs in AWS:
the ``api`` rule keeps 1 request a second and 5 % of the rest); with ``--every-request`` also ``xray``
with every request sampled (the worst case: every request makes spans, converts them and sends them
to the emulator's X-Ray).

On a shared machine the load drifts by the minute, and the CPU a request costs grows with the load
(caches, context switches). So the stacks are measured in ``--rounds`` rounds, each stack once a
round, in an order that alternates (off, on; then on, off; ...): a drift weighs on both alike. The
measure is the CPU time the gateway and catalog processes of each stack (found by their environment)
spent per request during the measured seconds, less what they spend idle (their background loops,
measured for 10 s per stack before the rounds). The cost is taken round by round,
``cpu_ms(on) / cpu_ms(off) - 1`` of the two back-to-back measures of one round, and the figure is the
median of those ratios (5 rounds by default: on this machine a single round's measure moves by up to
30 % with the load, more than the effect measured). The emulator's CPU (which receives the segments locally;
X-Ray does in AWS) is not counted. Requests a second are reported beside, for information.

``--driver threads`` drives each stack with 4 threads of plain httpx instead of Locust's 32 users: Locust
takes most of a core beside the stacks on a 2-core machine, and its rounds moved by a factor of two even on
a quiet one; the threads offer less load, steadier (docs/tracing.md has both). ``--driver together`` drives
every stack at once (2 threads each) and takes their CPU over the same window: this machine's speed moves
a window's CPU per request by up to a third, and measured at once the stacks share the drift.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil

from load.bench.run import Result, Target, catalog_targets, local_cloud, locust, results_lines

PATH = ("gateway", "catalog")  # the processes a product page goes through
IDLE_S = 10.0
MODES = (("off", "off", "rules"), ("on, rules", "xray", "rules"))
EVERY_REQUEST = ("on, all", "xray", "all")
TARGET_COST = 0.10


def bench(args: argparse.Namespace) -> dict[str, Any]:
    # Each stack under its own stage (names, state file) beside any other; rate limits checked, never hit.
    unlimited = {"GATEWAY_RATE_PER_IP": "1000000000", "EDGE_WAF_RATE_LIMIT": "1000000000"}
    unlimited["SHOP_READY_TIMEOUT"] = os.environ.get("SHOP_READY_TIMEOUT", "300")  # a busy machine starts slowly
    modes = [*MODES, EVERY_REQUEST] if getattr(args, "every_request", False) else list(MODES)
    rounds = max(1, getattr(args, "rounds", 5) or 5)
    drive = {"threads": threads, "together": together}.get(getattr(args, "driver", "locust"), locust)
    results: list[Result] = []
    cpu_runs: dict[str, list[float]] = {label: [] for label, _, _ in modes}
    rps_runs: dict[str, list[float]] = {label: [] for label, _, _ in modes}
    loads: dict[str, list[float]] = {label: [] for label, _, _ in modes}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, ExitStack() as stacks:
        work = Path(tmp)
        targets: dict[str, Target] = {}
        processes: dict[str, list[psutil.Process]] = {}
        for i, (label, tracing, sampling) in enumerate(modes):
            stage = f"{os.environ.get('BENCH_STAGE', 'benchtr')}{i}"  # BENCH_STAGE: two benches side by side
            env = os.environ | {"SHOP_STAGE": stage, "SHOP_TRACING": tracing, "SHOP_TRACE_SAMPLING": sampling}
            # The processes are found by their environment (services_of, from /proc), which a service forked from
            # the zygote does not show (it shows the zygote's): these stacks spawn their services.
            env["SHOP_PREFORK"] = "off"
            print(f"tracing {label}: starting the local cloud (stage {stage})", flush=True)
            front_door = stacks.enter_context(local_cloud(env | unlimited))
            _, through_gateway, _ = catalog_targets(front_door)
            targets[label] = Target(f"gateway, tracing {label}", through_gateway.host, through_gateway.paths)
            processes[label] = services_of(stage, PATH)
        idle_rate = {}
        for label in targets:  # what the two processes spend with no request (their background loops)
            (threads if drive is together else drive)(targets[label], args.users, args.warmup, work)
            idle = cpu_seconds(processes[label])
            time.sleep(IDLE_S)
            idle_rate[label] = (cpu_seconds(processes[label]) - idle) / IDLE_S
        if drive is together:  # every stack at once: a round's stacks share its window, its load and its speed
            for label in targets:
                threads(targets[label], args.users, args.warmup, work)
            for round_ in range(rounds):
                print(f"round {round_ + 1}/{rounds}: every stack at once, {args.seconds} s", flush=True)
                before = {label: cpu_seconds(processes[label]) for label in targets}
                started = time.monotonic()
                measured = together(targets, args.seconds)
                took = time.monotonic() - started
                for label, result in measured.items():
                    spent = cpu_seconds(processes[label]) - before[label] - idle_rate[label] * took
                    cpu_runs[label].append(spent * 1000 / max(result.requests, 1))
                    rps_runs[label].append(result.rps)
                    loads[label].append(round(os.getloadavg()[0], 2))
                    results.append(result)
        for round_ in range(rounds if drive is not together else 0):
            order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
            for label in order:
                print(f"round {round_ + 1}/{rounds}: {targets[label].label}, {args.seconds} s", flush=True)
                drive(targets[label], args.users, args.warmup, work)
                before, started = cpu_seconds(processes[label]), time.monotonic()
                measured = drive(targets[label], args.users, args.seconds, work)
                spent = cpu_seconds(processes[label]) - before - idle_rate[label] * (time.monotonic() - started)
                cpu_runs[label].append(spent * 1000 / max(measured.requests, 1))
                rps_runs[label].append(measured.rps)
                loads[label].append(round(os.getloadavg()[0], 2))
                results.append(measured)
    cpu_ms = {label: statistics.median(runs) for label, runs in cpu_runs.items()}
    # The cost is judged round by round: each round measures every stack back to back, so the ratio of a round
    # shares its minute's load; the median of those ratios is the figure (the ratio of the medians mixes rounds).
    paired = per_round_costs(cpu_runs)
    cpu_costs = {label: round(statistics.median(costs), 3) for label, costs in paired.items() if costs}
    rps = {label: statistics.median(runs) for label, runs in rps_runs.items()}
    return {
        "scenario": "tracing",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count()},
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "users": args.users,
        "load_by": f"{THREADS} threads of httpx"
        if drive is threads
        else f"{TOGETHER} threads of httpx on every stack at once"
        if drive is together
        else None,
        "rounds": rounds,
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "load_average_per_stack": loads,
        "results": [r.__dict__ for r in results],
        "idle_cpu_ms_per_s": {k: round(v * 1000, 1) for k, v in idle_rate.items()},
        "cpu_ms_per_request_runs": {k: [round(x, 3) for x in v] for k, v in cpu_runs.items()},
        "cpu_ms_per_request": {k: round(v, 3) for k, v in cpu_ms.items()},
        "rps": {k: round(v, 1) for k, v in rps.items()},
        "cpu_cost": cpu_costs,
        "cpu_cost_per_round": {label: [round(c, 3) for c in costs] for label, costs in paired.items()},
        "target": TARGET_COST,
        "met": all(c < TARGET_COST for c in cpu_costs.values()),
    }


THREADS = 4


def threads(target: Target, _users: int, seconds: int, _work: Path, workers: int = THREADS) -> Result:
    """``workers`` threads of plain httpx requesting ``target``'s paths one after another for ``seconds``."""
    import httpx

    stop = time.monotonic() + seconds
    took: list[list[float]] = [[] for _ in range(workers)]
    failures = [0] * workers

    def run(i: int) -> None:
        with httpx.Client(base_url=target.host, timeout=10) as client:
            n = i
            while time.monotonic() < stop:
                began = time.perf_counter()
                if client.get(target.paths[n % len(target.paths)]).status_code != 200:
                    failures[i] += 1
                took[i].append((time.perf_counter() - began) * 1000)
                n += workers

    running = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for w in running:
        w.start()
    for w in running:
        w.join()
    ms = sorted(t for each in took for t in each)
    cuts = statistics.quantiles(ms, n=100) if len(ms) > 1 else [float("nan")] * 99
    return Result(target.label, len(ms), sum(failures), round(len(ms) / seconds, 1), round(cuts[49]), round(cuts[98]))


TOGETHER = 2  # threads per stack when every stack is driven at once


def together(targets: dict[str, Target], seconds: int) -> dict[str, Result]:
    """``TOGETHER`` threads of plain httpx on every target at once for ``seconds``: each stack's requests in the
    same window, so a drift of the machine's speed (which moves a single window's CPU per request by up to a
    third here) falls on every stack alike."""
    done: dict[str, Result] = {}

    def drive_one(label: str) -> None:
        done[label] = threads(targets[label], 0, seconds, Path(), workers=TOGETHER)

    runners = [threading.Thread(target=drive_one, args=(label,)) for label in targets]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    return {label: done[label] for label in targets}


def per_round_costs(cpu_runs: dict[str, list[float]]) -> dict[str, list[float]]:
    """Each traced stack's cost in each round against the ``off`` stack of the same round."""
    return {
        label: [on / off - 1 for on, off in zip(runs, cpu_runs["off"], strict=True) if off > 0]
        for label, runs in cpu_runs.items()
        if label != "off"
    }


def table(report: dict[str, Any]) -> str:
    lines = results_lines(report)
    at_once = "at once" in (report.get("load_by") or "")
    lines.append(
        f"median of {report['rounds']} rounds, "
        + ("every stack driven at once:" if at_once else "stacks measured in alternating order:")
    )
    for label, ms in report["cpu_ms_per_request"].items():
        runs = ", ".join(f"{x:.2f}" for x in report["cpu_ms_per_request_runs"][label])
        load = ", ".join(f"{x:.1f}" for x in report["load_average_per_stack"][label])
        lines.append(
            f"  tracing {label:<10} {ms:6.2f} ms CPU per request, {report['rps'][label]:6.0f} req/s"
            f"  (runs: {runs}; load average: {load})"
        )
    for label, cost in report["cpu_cost"].items():
        verdict = "met" if cost < report["target"] else "NOT met"
        target = report["target"] * 100
        rounds = ", ".join(f"{c * 100:+.0f} %" for c in report.get("cpu_cost_per_round", {}).get(label, []))
        lines.append(
            f"cost of tracing {label} in CPU per request: {cost * 100:+.1f} %, the median of the rounds' ratios"
            f" ({rounds}) (target < {target:.0f} %: {verdict})"
        )
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
