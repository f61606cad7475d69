"""``nox -s bench -- checkout``: checkouts/s, p50/p99, event lag, and where the CPU goes (emulator vs our code).

It starts the local cloud (stage ``bench``), gives a pool of seeded products ample stock, signs
shoppers up and in through the gateway (Cognito), then drives a constant arrival rate of
checkouts (load/bench/checkout_locustfile.py) through the gateway (``--direct``: straight at
the cart and checkout services with the gateway's identity headers).
After the run it reads, from the database, how long each
OrderConfirmed and PaymentCaptured took from its outbox row's ``created_at`` to each consumer's
``processed_events.processed_at``, samples the CPU time of every process of the stack (psutil),
and runs the ledger check over the measured window.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg

from load.bench.run import HERE, Target, local_cloud, locust, stats_row
from localcloud import state
from services.common.identity import Caller

STAGE = "bench"
POOL = 20  # products bought from, each given ample stock
SETTLE_S = 5.0  # after the run, before lags and the ledger are read: events in flight arrive
ADMIN = Caller("bench-admin", "admin@bench.example.com", frozenset({"admin"})).headers()

# (outbox schema, event type, consumer schema): the events whose delivery the run times.
LAGS = (
    ("order", "OrderConfirmed", "notification"),
    ("order", "OrderConfirmed", "recommendations"),
    ("payment", "PaymentCaptured", "order"),
)

# A process of the stack is counted under the first label whose marker its command line contains.
COMPONENTS = (
    ("aws emulator (moto)", "moto"),
    ("postgres", "postgres"),
    ("valkey", "valkey"),
    ("front door", "localcloud.frontdoor"),
    ("supervisor", "localcloud"),
)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    env = os.environ | {"SHOP_STAGE": STAGE, "GATEWAY_RATE_PER_IP": "1000000000"}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, local_cloud(env) as front_door:
        work = Path(tmp)
        urls = json.loads(_http("GET", f"{front_door}/healthz"))["services"]
        urls = {name: body["url"] for name, body in urls.items()}
        products = stock_up(urls["catalog"])
        run_env = {"BENCH_PRODUCTS": ",".join(products), "BENCH_RATE_PER_USER": str(args.rate / args.users)}
        if args.direct:
            run_env |= {"BENCH_CART_URL": urls["cart"], "BENCH_CHECKOUT_PATH": "/checkout"}
            target = Target("checkout", urls["checkout"], ["/checkout"])
        else:
            print(f"signing up and in {args.users} shoppers through the gateway (Cognito)", flush=True)
            tokens = work / "tokens.txt"
            tokens.write_text("\n".join(shoppers(urls["gateway"], args.users)))
            run_env |= {"BENCH_TOKENS_FILE": str(tokens), "BENCH_CART_URL": urls["gateway"] + "/api",
                        "BENCH_CHECKOUT_PATH": "/api/checkout"}  # fmt: skip
            target = Target("checkout", urls["gateway"], ["/api/checkout"])
        kw = {"locustfile": HERE / "checkout_locustfile.py", "env": run_env}
        print(f"warming up: {args.warmup} s at {args.rate:g} checkouts/s", flush=True)
        locust(target, args.users, args.warmup, work, **kw)  # type: ignore[arg-type]
        print(f"measuring: {args.seconds} s at {args.rate:g} checkouts/s offered, {args.users} shoppers", flush=True)
        stack = stack_processes()
        cpu_before, gen_before = cpu_seconds(stack), _children_cpu()
        started = datetime.now(UTC)
        locust(target, args.users, args.seconds, work, **kw)  # type: ignore[arg-type]
        ended = datetime.now(UTC)
        cpu_after, gen_after = cpu_seconds(stack_processes()), _children_cpu()
        checkout, cart_add = stats_row(work, "checkout", "checkout"), stats_row(work, "cart add", "cart add")
        errors = failures(work)
        time.sleep(SETTLE_S)  # events in flight arrive
        db_url = state.read(STAGE)["DATABASE_URL"]  # type: ignore[index]
        lags = event_lags(db_url, started, ended)
        verdict = ledger_verdict(started, ended)
    cpu = {k: round(cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0), 2) for k in cpu_after}
    cpu["load generator (locust)"] = round(gen_after - gen_before, 2)
    return {
        "scenario": "checkout",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "path": "straight to the services, identity headers" if args.direct else "through the gateway, Cognito tokens",
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "users": args.users,
        "offered_rate": args.rate,
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "results": [asdict(checkout), asdict(cart_add)],
        "checkouts_per_s": round(checkout.rps, 2),
        "errors": errors,
        "event_lag_ms": lags,
        "cpu_seconds": dict(sorted(cpu.items(), key=lambda kv: -kv[1])),
        "ledger": verdict,
    }


def failures(work: Path) -> list[str]:
    """The distinct errors Locust saw in the measured run, most frequent first."""
    path = work / "stats_failures.csv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: -int(r["Occurrences"]))
    return [f"{r['Occurrences']} x {r['Name']}: {r['Error']}" for r in rows[:5]]


def stock_up(catalog: str) -> list[str]:
    """The first ``POOL`` products in one currency, each with a million units on hand (so none runs out)."""
    listing = json.loads(_http("GET", f"{catalog}/catalog/products?page_size=100&sort=name"))["items"]
    currency = listing[0]["currency"]
    ids = [p["id"] for p in listing if p["currency"] == currency][:POOL]
    for product_id in ids:
        _http("PUT", f"{catalog}/catalog/products/{product_id}/stock", {"on_hand": 1_000_000})
    return ids


def shoppers(gateway: str, count: int) -> list[str]:
    """Access tokens of ``count`` new shoppers, signed up (auto-confirmed locally) and in through the gateway."""
    run = uuid.uuid4().hex[:8]

    def one(n: int) -> str:
        credentials = {"email": f"shopper{n}-{run}@bench.example.com", "password": "Bench-Shopper-1"}
        _http("POST", f"{gateway}/api/auth/signup", credentials)
        return json.loads(_http("POST", f"{gateway}/api/auth/signin", credentials))["access_token"]

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def stack_processes() -> list[psutil.Process]:
    """The supervisor of the bench stack and every process under it."""
    pid = json.loads(state.path(STAGE).read_text())["pid"]
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def component(proc: psutil.Process) -> str:
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "gone"
    if "services." in cmd and ".app:create_app" in cmd:
        return "service: " + cmd.split("services.", 1)[1].split(".", 1)[0]
    return next((label for label, marker in COMPONENTS if marker in cmd), "other")


def cpu_seconds(procs: list[psutil.Process]) -> dict[str, float]:
    """User + system CPU seconds so far, summed per component (a process that ended since is not counted)."""
    out: dict[str, float] = {}
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        label = component(proc)
        out[label] = out.get(label, 0.0) + t.user + t.system
    return out


def event_lags(db_url: str, started: datetime, ended: datetime) -> dict[str, Any]:
    """Commit-to-consumer lag of the events created in the window, per (event, consumer): p50, p99, count."""
    out: dict[str, Any] = {}
    with psycopg.connect(db_url) as db:
        for schema, event_type, consumer in LAGS:
            sql = (
                "select extract(epoch from p.processed_at - x.created_at),"  # noqa: S608 - names from LAGS
                " extract(epoch from x.published_at - x.created_at)"
                f' from "{schema}".outbox x left join "{consumer}".processed_events p using (event_id)'
                " where x.event_type = %s and x.created_at >= %s and x.created_at < %s"
            )
            rows = db.execute(sql, (event_type, started, ended)).fetchall()
            done = [1000 * float(r[0]) for r in rows if r[0] is not None]
            published = [1000 * float(r[1]) for r in rows if r[1] is not None]
            out[f"{event_type} -> {consumer}"] = {
                "events": len(rows), "handled": len(done), **_percentiles(done),
                "publish_p50": _percentiles(published)["p50"],
            }  # fmt: skip
    return out


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None}
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return {"p50": round(cuts[49], 1), "p99": round(cuts[98], 1)}


def ledger_verdict(started: datetime, ended: datetime) -> dict[str, Any]:
    """The ledger over the measured window, once the checkouts in flight finished: a load run leaves no orphan."""
    from load.ledger import settled

    state.use_running_stack(STAGE)
    verdict = settled(started, ended, timeout_s=60, stage=STAGE)
    return {
        "ok": verdict.ok,
        "counts": verdict.counts,
        "violated": {f.rule: f.violations for f in verdict.violated()},
        "examples": {f.rule: f.examples[:3] for f in verdict.violated()},
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        f"scenario checkout: {report['seconds']} s after {report['warmup_seconds']} s warm-up, "
        f"{report['offered_rate']:g} checkouts/s offered by {report['users']} shoppers, "
        f"{report['machine']['cpus']} cores; {report['path']}",
        f"{'request':<12} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'failures':>9}",
    ]
    for r in report["results"]:
        lines.append(
            f"{r['label']:<12} {r['rps']:>7.2f} {r['p50_ms']:>8.0f} {r['p99_ms']:>8.0f} "
            f"{r['requests']:>9} {r['failures']:>9}"
        )
    lines += [f"  error: {e}" for e in report["errors"]]
    lines.append(f"{'event lag (commit -> consumer)':<40} {'events':>7} {'handled':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, lag in report["event_lag_ms"].items():
        lines.append(
            f"{name:<40} {lag['events']:>7} {lag['handled']:>8} {_ms(lag['p50']):>8} {_ms(lag['p99']):>8}"
            f"   (outbox -> SNS p50 {_ms(lag['publish_p50'])} ms)"
        )
    total = sum(report["cpu_seconds"].values()) or 1.0
    checkouts = report["results"][0]["requests"] or 1
    lines.append(f"CPU seconds during the measured {report['seconds']} s ({total:.1f} s in all):")
    for name, seconds in report["cpu_seconds"].items():
        lines.append(
            f"  {name:<34} {seconds:>7.2f} s  {100 * seconds / total:5.1f} %"
            f"  {1000 * seconds / checkouts:6.1f} ms/checkout"
        )
    ours = sum(v for k, v in report["cpu_seconds"].items() if k.startswith("service: "))
    moto = report["cpu_seconds"].get("aws emulator (moto)", 0.0)
    lines.append(f"emulator vs our services: {moto:.1f} s vs {ours:.1f} s of CPU")
    load = report["load_average"]
    if max(load.values()) > 1.5:
        lines.append(f"warning: other work was running (load average {load}): figures are low and noisy")
    ledger = report["ledger"]
    lines.append("ledger over the window: " + ("ok" if ledger["ok"] else f"VIOLATED {ledger['violated']}"))
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> str:
    data = json.dumps(body).encode() if body is not None else None
    headers = {**ADMIN, "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback URLs
        return response.read().decode()
