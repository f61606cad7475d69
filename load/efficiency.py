"""``python -m load efficiency``: is the harness the bottleneck? Our browse journey vs a minimal loop at /hello.

One Locust run, half the users in each class; the issue asks for our journey to reach at least
80 % of the minimal loop's requests/s (the ceiling app: load/bench/hello.py).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from load.bench.run import Result, Target, hello_world, locust, stats_row

TARGET = 0.8
LOCUSTFILE = Path(__file__).parent / "efficiency_locustfile.py"


def run(args: argparse.Namespace) -> int:
    users = max(2, args.users - args.users % 2)
    seconds = int(min(args.seconds, 30))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="load-eff-") as tmp, hello_world() as hello:
        work = Path(tmp)
        target = Target("hello", hello, ["/hello"])
        print(f"efficiency: {users} users ({users // 2} per class), no think time, {seconds} s at {hello}/hello")
        locust(target, users, seconds, work, locustfile=LOCUSTFILE)
        everything, minimal = stats_row(work, "Aggregated", "all"), stats_row(work, "minimal", "minimal")
    ours = Result("our browse journey", everything.requests - minimal.requests, everything.failures - minimal.failures,
                  everything.rps - minimal.rps, float("nan"), float("nan"))  # fmt: skip
    ratio = ours.rps / minimal.rps if minimal.rps else 0.0
    print(f"{'minimal FastHttpUser loop':<28} {minimal.rps:>8.0f} req/s  ({minimal.requests} requests)")
    print(f"{'our browse journey':<28} {ours.rps:>8.0f} req/s  ({ours.requests} requests, {ours.failures} failed)")
    print(f"load average before {load_before:.1f}, after {os.getloadavg()[0]:.1f}")
    met = ratio >= TARGET
    print(f"ratio ours / minimal: {ratio:.2f} (target >= {TARGET}: {'met' if met else 'NOT met'})")
    return 0 if met else 1
