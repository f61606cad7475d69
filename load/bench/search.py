"""``nox -s bench -- search``: search through the gateway on the seeded catalog, against the same-run ceiling.

Three targets, each measured with Locust FastHttpUser: the bare hello-world (the ceiling), a
few queries through the gateway (its 15 s cache warm), and ~10,000 distinct queries (mostly
cache misses: the search engine's own work). Then one edit in the catalog is timed until
the gateway finds the product by its new name (outbox -> SNS -> SQS -> indexer -> index).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

from load.bench.run import Result, Target, _get, hello_world, local_cloud, locust, results_lines

TARGET_RATIO = 0.05  # distinct queries / ceiling
TARGET_P99_MS = 100.0
WORDS = (
    "skillet", "skilet", "walnut saucepan", "walnutt saucepan", "cast iron", "headphones", "hedphones", "chelsea boot",
    "linen shirt", "yoga mat", "tent", "lamp", "vase", "kettle", "sneaker", "monitor", "speaker", "dress", "jeans",
    "wool", "leather", "copper", "brass", "kids", "puzzle", "board game", "dumbbell", "backpack", "candle", "rug",
)  # fmt: skip
SORTS = ("relevance", "price", "-price", "newest")
ADMIN = {"X-Shop-User": "bench-admin", "X-Shop-Email": "bench@example.com", "X-Shop-Groups": "admin"}


def targets(gateway: str) -> tuple[Target, Target]:
    categories = [c["slug"] for c in json.loads(_get(f"{gateway}/api/catalog/categories"))["items"]]
    warm = [f"/api/search?q={urllib.parse.quote(w)}" for w in WORDS]
    warm += [f"/api/search/suggest?q={urllib.parse.quote(w[:3])}" for w in WORDS[:10]]
    if json.loads(_get(f"{gateway}{warm[0]}"))["total"] == 0:
        raise SystemExit("the search index is empty: did the search seed run?")
    for path in warm:
        _get(f"{gateway}{path}")
    cold = [
        f"/api/search?q={urllib.parse.quote(w)}&sort={s}&page={p}" + (f"&category={c}" if c else "")
        for w in WORDS
        for s in SORTS
        for p in (1, 2, 3, 4, 5, 6)
        for c in ["", *categories]
    ]
    random.Random(7).shuffle(cold)  # noqa: S311 - a fixed order of benchmark queries, not a secret
    return Target("gateway: search, cache warm", gateway, warm), Target(f"gateway: {len(cold)} distinct", gateway, cold)


def edit_to_findable(gateway: str, catalog: str) -> float:
    """Seconds from a catalog rename (admin PATCH at the service) until a search through the gateway finds it."""
    product = json.loads(_get(f"{gateway}/api/catalog/products?page_size=1"))["items"][0]
    name = f"Zanzibar {int(time.time())}"
    body = json.dumps({"name": name}).encode()
    request = urllib.request.Request(  # noqa: S310 - our own loopback URL
        f"{catalog}/catalog/products/{product['id']}",
        data=body,
        method="PATCH",
        headers={"Content-Type": "application/json", **ADMIN},
    )
    start = time.perf_counter()
    urllib.request.urlopen(request, timeout=10).read()  # noqa: S310
    while time.perf_counter() - start < 30:
        query = urllib.parse.quote(name.lower())  # a query never asked before: not in the gateway's cache
        found = json.loads(_get(f"{gateway}/api/search?q={query}&n={time.perf_counter_ns()}"))["items"]
        if found and found[0]["id"] == product["id"]:
            return time.perf_counter() - start
        time.sleep(0.05)
    return float("nan")


def bench(args: argparse.Namespace) -> dict[str, Any]:
    env = os.environ | {"SHOP_STAGE": "bench", "GATEWAY_RATE_PER_IP": "1000000000", "EDGE_WAF_RATE_LIMIT": "1000000000"}
    results: list[Result] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, local_cloud(env) as front_door, hello_world() as hello:
        work = Path(tmp)
        services = json.loads(_get(f"{front_door}/healthz"))["services"]
        gateway = services["gateway"]["url"]
        warm, cold = targets(gateway)
        for target in (Target("ceiling: bare uvicorn hello-world", hello, ["/hello"]), warm, cold):
            print(f"measuring {target.label}: {args.warmup} s warm-up, then {args.seconds} s", flush=True)
            locust(target, args.users, args.warmup, work)
            results.append(locust(target, args.users, args.seconds, work))
        lag = edit_to_findable(gateway, services["catalog"]["url"])
    ratio = results[2].rps / results[0].rps if results[0].rps else 0.0
    return {
        "scenario": "search",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "users": args.users,
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "results": [asdict(r) for r in results],
        "ratio": round(ratio, 3),
        "edit_to_findable_s": round(lag, 2),
        "target": {"ratio": TARGET_RATIO, "p99_ms": TARGET_P99_MS},
        "met": ratio >= TARGET_RATIO and results[2].p99_ms <= TARGET_P99_MS,
    }


def table(report: dict[str, Any]) -> str:
    lines = results_lines(report, rate="queries/s")
    verdict = "met" if report["met"] else "NOT met"
    lines.append(
        f"ratio distinct queries / ceiling: {report['ratio']:.2f} "
        f"(target >= {TARGET_RATIO} with p99 <= {TARGET_P99_MS:.0f} ms: {verdict})"
    )
    lines.append(f"catalog edit -> found through the gateway: {report['edit_to_findable_s']:.2f} s")
    return "\n".join(lines)


if __name__ == "__main__":  # until run.py lists the scenario: python -m load.bench.search
    from load.bench import run

    parser = argparse.ArgumentParser(prog="python -m load.bench.search")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--users", type=int, default=32)
    report = bench(parser.parse_args())
    out = run.ARTIFACTS / "search.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"written: {out}")
