"""``python -m load efficiency``: is the harness the bottleneck? Our browse journey vs a minimal loop at /hello.

Three Locust runs of one class each, same users and seconds: the minimal loop, our journey, the
minimal loop again (a class alone, because greenlets sharing one process take equal turns and would
hide the difference). The issue asks for our journey to reach at least 80 % of the minimal loop's
requests/s (the ceiling app: load/bench/hello.py).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from load.bench.run import Target, hello_world, locust, stats_row

TARGET = 0.8
LOCUSTFILE = Path(__file__).parent / "efficiency_locustfile.py"


def run(args: argparse.Namespace) -> int:
    users, seconds = args.users, int(min(args.seconds, 30))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="load-eff-") as tmp, hello_world() as hello:
        work = Path(tmp)
        target = Target("hello", hello, ["/hello"])
        print(f"efficiency: {users} users, no think time, {seconds} s each at {hello}/hello (after 3 s warm-up)")
        results = {}
        for which in ("minimal", "ours", "minimal again"):  # minimal twice: the spread says how steady the box was
            env = {"LOAD_EFFICIENCY": which.split()[0]}
            locust(target, users, 3, work, locustfile=LOCUSTFILE, env=env)
            locust(target, users, seconds, work, locustfile=LOCUSTFILE, env=env)
            results[which] = stats_row(work, "Aggregated", which)
    minimal = max(results["minimal"].rps, results["minimal again"].rps)
    for r in results.values():
        print(f"{r.label:<16} {r.rps:>8.0f} req/s  ({r.requests} requests, {r.failures} failed)")
    print(f"load average before {load_before:.1f}, after {os.getloadavg()[0]:.1f}")
    ratio = results["ours"].rps / minimal if minimal else 0.0
    met = ratio >= TARGET
    verdict = "met" if met else "NOT met"
    print(f"ratio ours / minimal (the better of its two runs): {ratio:.2f} (target >= {TARGET}: {verdict})")
    return 0 if met else 1
