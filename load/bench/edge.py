"""``python -m load.bench edge``: what the local edge (WAF + CloudFront stand-in) costs in front of the gateway.

In one run, with Locust's FastHttpUser: the ceiling (bare uvicorn hello-world), a product page from
the gateway directly, the same pages through the front door (every request through the web ACL,
then proxied: CachingDisabled), and a static object through the front door (an edge cache hit).
Extra front doors to compare (e.g. an older build) are given as ``--also LABEL=URL``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from load.bench.run import Result, Target, catalog_targets, hello_world, local_cloud, locust, results_lines

ENV = {
    "SHOP_STAGE": "bench",
    "GATEWAY_RATE_PER_IP": "1000000000",  # one client address sends everything: checked, never hit
    "EDGE_WAF_RATE_LIMIT": "1000000000",  # the same for the edge's rate-based rule
}


def bench(args: argparse.Namespace) -> dict[str, object]:
    results: list[Result] = []
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
        local_cloud(os.environ | ENV) as front_door,
        hello_world() as hello,
    ):
        work = Path(tmp)
        _, through_gateway, through_door = catalog_targets(front_door)
        targets = [
            Target("ceiling: bare uvicorn hello-world", hello, ["/hello"]),
            through_gateway,
            Target("front door: WAF + proxy -> gateway", front_door, through_door.paths),
            Target("front door: WAF + edge cache hit (image)", front_door, _images(through_door.paths)),
        ]
        for extra in getattr(args, "also", None) or []:
            label, _, url = extra.partition("=")
            targets.append(Target(label, url, through_door.paths))
        for target in targets:
            print(f"measuring {target.label}: {args.warmup} s warm-up, then {args.seconds} s", flush=True)
            locust(target, args.users, args.warmup, work)
            results.append(locust(target, args.users, args.seconds, work))
    gateway, door = results[1], results[2]
    return {
        "scenario": "edge",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "users": args.users,
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "results": [asdict(r) for r in results],
        "door_over_gateway": round(door.rps / gateway.rps, 3) if gateway.rps else 0.0,
    }


def _images(product_paths: list[str]) -> list[str]:
    """The seeded SVG card of each product (media key = URL path, as CloudFront fetches it)."""
    return [f"/media/products/{p.rsplit('/', 1)[1]}.svg" for p in product_paths]


def table(report: dict[str, Any]) -> str:
    lines = results_lines(report, width=40)
    lines.append(f"front door / gateway direct: {report['door_over_gateway']:.2f} of the gateway's req/s")
    return "\n".join(lines)
