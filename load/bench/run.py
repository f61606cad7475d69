"""Run a benchmark: ``python -m load.bench [scenario] [--seconds 15] [--users 32] [--profile]``.

The ``catalog`` scenario measures, in one run, with Locust's FastHttpUser on this machine:
the ceiling (a bare FastAPI hello-world on uvicorn[standard]) and a product page through the
gateway with the cache warm (and, for information, the same through the front door), then
prints req/s, p50 and p99 of each and the ratio, and writes ``artifacts/bench/<scenario>.json``.
It starts what it needs: the hello-world app and the local cloud (``python -m localcloud up``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from load.bench import profile as profiling
from localcloud.backends import free_port

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
ARTIFACTS = ROOT / "artifacts" / "bench"
TARGET_RATIO = 0.25
TARGET_P99_MS = 50.0
PRODUCTS = 100  # distinct product pages cycled through, all warm in the cache


@dataclass(frozen=True)
class Target:
    label: str
    host: str
    paths: list[str]


@dataclass(frozen=True)
class Result:
    label: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p99_ms: float


def locust(
    target: Target,
    users: int,
    seconds: int,
    work: Path,
    *,
    locustfile: Path = HERE / "locustfile.py",
    env: dict[str, str] | None = None,
) -> Result:
    """One headless Locust run against ``target``; its aggregated stats row (others: ``stats_row``)."""
    paths_file = work / "paths.txt"
    paths_file.write_text("\n".join(target.paths))
    prefix = work / "stats"
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--only-summary"]
    argv += ["-u", str(users), "-r", str(users), "-t", f"{seconds}s", "-H", target.host, "--csv", str(prefix)]
    argv += ["--loglevel", "WARNING", "--stop-timeout", "2"]
    env = os.environ | {"BENCH_PATHS_FILE": str(paths_file)} | (env or {})
    run = subprocess.run(argv, env=env, check=False, capture_output=True, text=True, timeout=seconds + 60)
    if not Path(f"{prefix}_stats.csv").exists():
        raise SystemExit(f"locust wrote no stats (exit code {run.returncode}):\n{run.stderr[-3000:]}")
    return stats_row(work, "Aggregated", target.label)


def stats_row(work: Path, name: str, label: str) -> Result:
    """The row ``name`` of the last Locust run's stats in ``work`` (zeros if no request of that name was made)."""
    with Path(work / "stats_stats.csv").open(newline="") as f:
        row = next((r for r in csv.DictReader(f) if r["Name"] == name), None)
    if row is None:
        return Result(label, 0, 0, 0.0, float("nan"), float("nan"))
    return Result(
        label,
        int(row["Request Count"]),
        int(row["Failure Count"]),
        _number(row["Requests/s"]),
        _number(row["50%"]),
        _number(row["99%"]),
    )


def _number(text: str) -> float:
    """Locust writes N/A when a run saw no request."""
    try:
        return float(text)
    except ValueError:
        return float("nan")


@contextmanager
def hello_world() -> Iterator[str]:
    """The ceiling app on a port of its own."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "load.bench.hello:app", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(argv, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _get(f"{url}/hello"), 30, "the hello-world app")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def local_cloud(env: dict[str, str]) -> Iterator[str]:
    """``python -m localcloud up`` on a free port until the block ends (then Ctrl-C); yields the front door URL."""
    port = free_port()
    argv = [sys.executable, "-m", "localcloud", "up", "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()

    def relay() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(f"  | {line}", end="", flush=True)
            if line.startswith("ready:"):
                ready.set()

    threading.Thread(target=relay, daemon=True).start()
    try:
        _wait(lambda: ready.is_set() or proc.poll() is not None, 300, "the local cloud")
        if proc.poll() is not None:
            raise SystemExit(f"the local cloud exited with code {proc.returncode}")
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def catalog_targets(front_door: str) -> tuple[str, Target, Target]:
    """The gateway's URL, and the product pages through it and through the front door."""
    health = json.loads(_get(f"{front_door}/healthz"))
    gateway = health["services"]["gateway"]["url"]
    listing = json.loads(_get(f"{gateway}/api/catalog/products?page_size={PRODUCTS}"))
    paths = [f"/api/catalog/products/{item['id']}" for item in listing["items"]]
    if not paths:
        raise SystemExit("the catalog has no products: did its seed run?")
    for path in paths:  # warm the cache; the TTL (30 s) outlives the warm-up run only, so Locust keeps it warm
        _get(f"{gateway}{path}")
    return (
        gateway,
        Target("gateway: product page, cache warm", gateway, paths),
        Target("front door -> gateway (info)", front_door, paths),
    )


def catalog(args: argparse.Namespace) -> dict[str, object]:
    env = os.environ | {
        "SHOP_STAGE": "bench",  # its own resource names and state file, beside any `nox -s up` on this machine
        "GATEWAY_RATE_PER_IP": "1000000000",  # one client address sends everything: limit still checked, never hit
        "EDGE_WAF_RATE_LIMIT": "1000000000",  # the same for the edge's rate-based rule (the front door row)
    }
    results: list[Result] = []
    profile_summary = None
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, local_cloud(env) as front_door, hello_world() as hello:
        work = Path(tmp)
        gateway, through_gateway, through_door = catalog_targets(front_door)
        targets = [Target("ceiling: bare uvicorn hello-world", hello, ["/hello"]), through_gateway]
        if not args.skip_front_door:
            targets.append(through_door)
        for target in targets:
            print(f"measuring {target.label}: {args.warmup} s warm-up, then {args.seconds} s", flush=True)
            locust(target, args.users, args.warmup, work)
            results.append(locust(target, args.users, args.seconds, work))
        if args.profile:
            print(f"profiling the gateway for {args.seconds} s under the same load (py-spy)", flush=True)
            profile_summary = profiling.record(gateway, lambda: locust(through_gateway, args.users, args.seconds, work),
                                               ARTIFACTS / "catalog-gateway", args.seconds)  # fmt: skip
    ceiling, gateway_result = results[0], results[1]
    ratio = gateway_result.rps / ceiling.rps if ceiling.rps else 0.0
    met = ratio >= TARGET_RATIO and gateway_result.p99_ms <= TARGET_P99_MS
    return {
        "scenario": "catalog",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "users": args.users,
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "results": [asdict(r) for r in results],
        "ratio": round(ratio, 3),
        "target": {"ratio": TARGET_RATIO, "p99_ms": TARGET_P99_MS},
        "met": met,
        "profile": profile_summary,
    }


def results_lines(report: dict[str, Any], rate: str = "req/s", width: int = 36) -> list[str]:
    """The lines every scenario's table starts with: the setting, a row per target, a warning if the box was busy."""
    lines = [
        f"scenario {report['scenario']}: {report['seconds']} s per target after {report['warmup_seconds']} s warm-up, "
        f"{report.get('load_by') or str(report['users']) + ' Locust FastHttpUsers'}, {report['machine']['cpus']} cores",
        f"{'target':<{width}} {rate:>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'failures':>9}",
    ]
    for r in report["results"]:
        lines.append(
            f"{r['label']:<{width}} {r['rps']:>9.0f} {r['p50_ms']:>8.0f} {r['p99_ms']:>8.0f} "
            f"{r['requests']:>9} {r['failures']:>9}"
        )
    load = report["load_average"]
    if max(load.values()) > 1.5:
        lines.append(f"warning: other work was running (load average {load}): figures are low and noisy")
    return lines


def table(report: dict[str, Any]) -> str:
    lines = results_lines(report)
    verdict = "met" if report["met"] else "NOT met"
    lines.append(
        f"ratio gateway / ceiling: {report['ratio']:.2f}  "
        f"(target >= {TARGET_RATIO} with p99 <= {TARGET_P99_MS:.0f} ms: {verdict})"
    )
    if report.get("profile"):
        lines.append(profiling.describe(report["profile"]))  # type: ignore[arg-type]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load.bench", description=__doc__.split("\n\n")[0])
    from load.bench import checkout, clients, edge, moto, search, tracing, up, waf  # they build on this module

    scenarios = {
        "catalog": (catalog, table),
        "checkout": (checkout.bench, checkout.table),
        "clients": (clients.bench, clients.table),
        "edge": (edge.bench, edge.table),
        "moto": (moto.bench, moto.table),
        "search": (search.bench, search.table),
        "tracing": (tracing.bench, tracing.table),
        "waf": (waf.bench, waf.table),
        "up": (up.bench, up.table),
    }
    parser.add_argument("scenario", nargs="?", default="catalog", choices=sorted(scenarios))
    parser.add_argument("--seconds", type=int, default=15, help="measured seconds per target (default 15)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds per target, not counted (default 5)")
    parser.add_argument("--users", type=int, default=None, help="concurrent Locust users (catalog 32, checkout 40)")
    parser.add_argument("--rate", type=float, default=None, help="checkout: offer only this rate (checkouts/s)")
    parser.add_argument("--rates", type=_rates, default=None, help="checkout: the sweep's rates (2,5,10,20,30,50,70)")
    parser.add_argument("--break-ms", type=float, default=3000.0, help="checkout: p99 that ends the sweep (3000)")
    parser.add_argument(
        "--single", type=int, nargs="?", const=100, default=0, metavar="N",
        help="checkout: N checkouts one after another on the idle stack instead of the sweep (default N 100)",
    )  # fmt: skip
    parser.add_argument(
        "--provider-ms", type=float, default=None,
        help="checkout: the simulated card provider's latency per call (PAYMENT_SIM_LATENCY_MS, jitter 0)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true", help="then py-spy under load (the gateway; moto: each server)"
    )
    parser.add_argument("--skip-front-door", action="store_true", help="do not measure through the front door")
    parser.add_argument("--direct", action="store_true", help="checkout: skip the gateway, send identity headers")
    parser.add_argument("--starts", type=int, default=5, help="up: warm starts measured (default 5)")
    parser.add_argument("--no-prime", action="store_true", help="up: count the start that fills the seed cache")
    parser.add_argument("--also", action="append", help="edge: another front door to measure, LABEL=URL")
    parser.add_argument(
        "--rounds", type=int, default=None, help="tracing, moto, clients: rounds (tracing 5, moto 3, clients 3)"
    )
    parser.add_argument("--every-request", action="store_true", help="tracing: also a stack sampling every request")
    parser.add_argument(
        "--driver", choices=("locust", "threads", "together"), default="locust",
        help="tracing: Locust's users (default), 4 threads of plain httpx one stack after the other, or "
             "'together': 2 threads on every stack at once, each round's stacks measured in the same window",
    )  # fmt: skip
    parser.add_argument(
        "--servers", type=lambda t: t.split(","), default=None,
        help=f"moto: the servers, the first the ratios' baseline (default {','.join(moto.SERVERS)}); a name ending "
        f"{moto.PLAIN} (granian{moto.PLAIN}) is our launcher on that server without moto's speed-ups",
    )  # fmt: skip
    parser.add_argument("--pollers", type=int, default=8, help="moto: long polls held per server (default 8)")
    parser.add_argument(
        "--out", type=Path, default=None, help="the JSON report (default artifacts/bench/<scenario>.json)"
    )
    args = parser.parse_args(argv)
    run, describe = scenarios[args.scenario]
    if args.scenario == "checkout":
        args.users = args.users or (1 if args.single else 200)
    if args.scenario == "moto":
        args.users = args.users or 4
        args.seconds = args.seconds if "--seconds" in (argv or sys.argv) else 10
    args.users = args.users or 32
    if args.scenario == "checkout":
        args.rates = args.rates or list(checkout.RATES)
        args.seconds = args.seconds if "--seconds" in (argv or sys.argv) else 20
    report = run(args)
    out = args.out or ARTIFACTS / f"{args.scenario}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(describe(report))
    print(f"written: {out}")
    return 0


def _rates(text: str) -> list[float]:
    try:
        rates = [float(r) for r in text.split(",") if r.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"rates must be numbers separated by commas (got {text!r})") from None
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError(f"rates must be positive (got {text!r})")
    return rates


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own loopback URLs
        return response.read().decode()


def _wait(ready: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if ready():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} was not ready within {timeout_s:.0f} s")
