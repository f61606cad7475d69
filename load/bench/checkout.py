"""``nox -s bench -- checkout``: an open-loop rate sweep of checkouts, where the CPU goes, and a single checkout.

It starts the local cloud (stage ``bench``), gives a pool of seeded products ample stock, and
signs shoppers up and in through the gateway (Cognito); ``--direct`` goes straight to the cart
and checkout services with the gateway's identity headers instead.

**Sweep** (the default): it offers each rate of ``--rates`` (2, 5, 10, 20, 30, 50, 70 checkouts/s) for
``--seconds``, open loop (load/openloop.py's schedule: checkout ``i`` is due at ``start + i /
rate`` whatever the shop does, and its latency counts from that intended time, so queueing is
not hidden). One checkout is one journey: add a product to a free shopper's cart, then
``POST /api/checkout`` with a fresh Idempotency-Key and ``pm_card_ok``. Per step it prints the
achieved rate, p50/p95/p99, errors, CPU-ms per checkout of every process of the stack (psutil
over the supervisor's process tree) and, after the sweep, each step's event lag (outbox commit
-> consumer) and the saga's per-step times (from the checkout's step log). It stops after the
first step that breaks (errors over 1 % or p99 over ``--break-ms``), runs the ledger over the
whole sweep, and writes ``artifacts/bench/checkout.json`` and the curve ``checkout.png``.

**Single** (``--single N``, default 100): N checkouts one after another on the idle stack:
p50/p99 of the checkout call alone, and CPU-ms per checkout with no queueing at all. Then 10 more,
counted: the emulator's requests by action (moto's recorder) and the SQL statements by service and by
statement (``log_statement = all`` for the while, each backend mapped to the service holding its
connection), both less what the idle stack makes over as long.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import psycopg

from load.bench.profile import stacks
from load.bench.run import ARTIFACTS, local_cloud
from load.openloop import Sample, Summary, percentile, schedule, summarise
from localcloud import state
from reference.services import SERVICES as SHOP_SERVICES
from services.common.identity import Caller

# Its own stack: the catalog bench (stage bench) may run beside it; two versions side by side set their own.
STAGE = os.environ.get("SHOP_BENCH_STAGE", "benchco")
POOL = 20  # products bought from, each given ample stock
SETTLE_S = 5.0  # after the run, before lags and the ledger are read: events in flight arrive
RATES = (2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 70.0)  # the low steps: where the shop holds p99 <= 300 ms today
GOAL_P99_MS = 300.0  # issue 13: 50 checkouts/s at p99 <= 300 ms, 0 errors
MAX_ERROR_RATE = 0.01  # a step with more errors than this breaks the sweep
ADMIN = Caller("bench-admin", "admin@bench.example.com", frozenset({"admin"})).headers()
ADDRESS = {"name": "Bench Shopper", "line1": "1 Load St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}

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


@dataclass(frozen=True)
class Shop:
    """Where the journeys go: the cart and checkout URLs and one identity (headers) per shopper."""

    cart_url: str
    checkout_url: str
    shoppers: list[dict[str, str]]


def bench(args: argparse.Namespace) -> dict[str, Any]:
    env = {"SHOP_READY_TIMEOUT": "300"} | os.environ | {"SHOP_STAGE": STAGE, "GATEWAY_RATE_PER_IP": "1000000000"}
    if args.provider_ms is not None:  # the simulated card provider's latency (services/payment), not our code's
        env |= {"PAYMENT_SIM_LATENCY_MS": str(args.provider_ms), "PAYMENT_SIM_LATENCY_JITTER_MS": "0"}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        env["MOTO_RECORDER_FILEPATH"] = str(Path(tmp) / "moto-recording.jsonl")  # calls_per_checkout's, not in cwd
        report = _run(args, env, load_before)
    if not (args.single or args.profile):
        report["plot"] = str(plot(report, (args.out or ARTIFACTS / "checkout.json").with_suffix(".png")))
    return report


def _run(args: argparse.Namespace, env: dict[str, str], load_before: tuple[float, ...]) -> dict[str, Any]:
    with local_cloud(env) as front_door:
        urls = json.loads(_http("GET", f"{front_door}/healthz"))["services"]
        urls = {name: body["url"] for name, body in urls.items()}
        products = stock_up(urls["catalog"])
        shop = _shop(urls, args)
        db_url = state.read(STAGE)["DATABASE_URL"]  # type: ignore[index]
        report = _header(args, shop, load_before)
        if args.single:
            report |= single(shop, products, args.single)
            report |= calls_per_checkout(shop, products, db_url)
        elif args.profile:
            asyncio.run(offer(shop, products, args.rate or 10.0, args.warmup))
            report |= profile(shop, products, args.rate or 10.0, args.seconds, ARTIFACTS)
        else:
            report |= rate_sweep(shop, products, args, db_url)
        report["load_average"]["after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def _shop(urls: dict[str, str], args: argparse.Namespace) -> Shop:
    if args.direct:
        run = uuid.uuid4().hex[:8]
        ids = [Caller(f"bench-{run}-{n}", f"shopper{n}@bench.example.com").headers() for n in range(args.users)]
        return Shop(urls["cart"], urls["checkout"] + "/checkout", ids)
    print(f"signing up and in {args.users} shoppers through the gateway (Cognito)", flush=True)
    tokens = shoppers(urls["gateway"], args.users)
    api = urls["gateway"] + "/api"
    return Shop(api, api + "/checkout", [{"Authorization": f"Bearer {t}"} for t in tokens])


def _header(args: argparse.Namespace, shop: Shop, load_before: tuple[float, ...]) -> dict[str, Any]:
    return {
        "scenario": "checkout",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "path": "straight to the services, identity headers" if args.direct else "through the gateway, Cognito tokens",
        "shoppers": len(shop.shoppers),
        "provider_latency_ms": args.provider_ms if args.provider_ms is not None else "default (30 +- 20)",
        "load_average": {"before": [round(x, 2) for x in load_before]},
    }


# --------------------------------------------------------------------------- the journeys


async def journey(
    http: aiohttp.ClientSession, shop: Shop, shopper: dict[str, str], product: str
) -> tuple[int, str, float]:
    """Add ``product`` to the shopper's cart and check out; (status, error, seconds the checkout call took)."""
    line = {"product_id": product, "quantity": 1}
    async with http.post(f"{shop.cart_url}/cart/items", json=line, headers=shopper) as added:
        await added.read()
        if added.status != 200:
            return added.status, f"cart add answered {added.status}", 0.0
    headers = {**shopper, "Idempotency-Key": uuid.uuid4().hex}
    body = {"shipping_address": ADDRESS, "payment_method": "pm_card_ok"}
    sent = time.perf_counter()
    async with http.post(shop.checkout_url, json=body, headers=headers) as answer:
        text = await answer.text()
        took = time.perf_counter() - sent
        if answer.status != 201:
            return answer.status, f"checkout answered {answer.status}: {text[:100]}", took
    return 201, "", took


async def offer(shop: Shop, products: list[str], rate: float, seconds: float) -> tuple[Summary, list[float]]:
    """Offer ``rate`` journeys/s for ``seconds`` (open loop); the summary and every checkout call's own time.

    A journey takes a shopper no other journey holds (a cart is one shopper's); should every
    shopper be busy, the wait for one counts in the latency like any other queueing.
    """
    due = schedule(rate, seconds)
    free: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    for shopper in shop.shoppers:
        free.put_nowait(shopper)
    samples: list[Sample] = []
    calls: list[float] = []
    lags: list[float] = []
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=len(shop.shoppers) * 2)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05

        async def one(i: int, at: float) -> None:
            shopper = await free.get()
            status, error = 0, ""
            try:
                status, error, took = await journey(http, shop, shopper, products[i % len(products)])
                calls.append(took)
            except TimeoutError:
                error = "timeout"
            except aiohttp.ClientError as exc:
                error = type(exc).__name__
            finally:
                free.put_nowait(shopper)
            samples.append(Sample("checkout", at, loop.time() - (start + at), status, error))

        tasks = []
        for i, at in enumerate(due):
            await asyncio.sleep(max(start + at - loop.time(), 0))
            lags.append(loop.time() - (start + at))
            tasks.append(asyncio.create_task(one(i, at)))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - start
    summary = summarise(samples, rate, seconds, lags)
    # Answered without error per second of the whole step, stragglers' time included.
    ok = summary.sent - summary.errors
    return replace(summary, achieved_rate=ok / max(seconds, elapsed)), calls


def idle_cpu(seconds: float = 10.0) -> dict[str, float]:
    """CPU-ms per second each process of the stack spends with no request at all (pollers, long polls, timers)."""
    before = cpu_seconds(stack_processes())
    time.sleep(seconds)
    return {k: round(1000 * v / seconds, 1) for k, v in _delta(before, cpu_seconds(stack_processes())).items()}


def rate_sweep(shop: Shop, products: list[str], args: argparse.Namespace, db_url: str) -> dict[str, Any]:
    rates = [args.rate] if args.rate else args.rates
    print("idle: 10 s with no load", flush=True)
    idle = idle_cpu()
    print(f"warming up: {args.warmup} s at {rates[0]:g} checkouts/s", flush=True)
    asyncio.run(offer(shop, products, rates[0], args.warmup))
    steps, windows = [], []
    first = datetime.now(UTC)
    for rate in rates:
        print(f"offering {rate:g} checkouts/s for {args.seconds} s (load average {_load()})", flush=True)
        stack = stack_processes()
        cpu_before = cpu_seconds(stack)
        started = datetime.now(UTC)
        summary, calls = asyncio.run(offer(shop, products, rate, args.seconds))
        ended = datetime.now(UTC)
        cpu = _delta(cpu_before, cpu_seconds(stack_processes()))
        done = summary.sent - summary.errors
        step = {
            "offered": rate,
            "summary": summary.as_dict(),
            "checkout_call_ms": _pcts([1000 * c for c in calls]),
            "cpu_seconds": cpu,
            "cpu_ms_per_checkout": {k: round(1000 * v / max(done, 1), 1) for k, v in cpu.items()},
            "load_average": _load(),
        }
        steps.append(step)
        windows.append((started, ended))
        verdict = breaks(summary, args.break_ms)
        print(f"  {summary.line()}  CPU {sum(cpu.values()) * 1000 / max(done, 1):.0f} ms/checkout"
              f"  {verdict or 'holds'}", flush=True)  # fmt: skip
        if verdict:
            step["broke"] = verdict
            break
    last = datetime.now(UTC)
    time.sleep(SETTLE_S)  # events in flight arrive
    for step, (started, ended) in zip(steps, windows, strict=True):
        step["event_lag_ms"] = event_lags(db_url, started, ended)
        step["saga_step_ms"] = saga_steps(db_url, started, ended)
    met = [s["offered"] for s in steps if _meets_goal(s)]
    return {
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "steps": steps,
        "highest_rate_meeting_goal": max(met) if met else None,
        "idle_cpu_ms_per_s": idle,
        "ledger": ledger_verdict(first, last),
    }


def breaks(summary: Summary, break_ms: float) -> str:
    """Why a step broke the sweep ('' if it held): too many errors, or latency past ``break_ms``."""
    if summary.error_rate > MAX_ERROR_RATE:
        return f"BREAKS: {summary.errors} errors of {summary.sent}"
    if summary.p99_ms > break_ms:
        return f"BREAKS: p99 {summary.p99_ms:.0f} ms > {break_ms:.0f} ms"
    return ""


def _meets_goal(step: dict[str, Any]) -> bool:
    s = step["summary"]
    return s["errors"] == 0 and s["p99_ms"] <= GOAL_P99_MS


def single(shop: Shop, products: list[str], count: int) -> dict[str, Any]:
    """``count`` checkouts one after another (after 5 unmeasured): the checkout call's p50/p99 and CPU per checkout."""

    async def go() -> tuple[list[float], list[str]]:
        calls, errors = [], []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            for i in range(count + 5):
                _, error, took = await journey(http, shop, shop.shoppers[0], products[i % len(products)])
                if error:
                    errors.append(error)
                elif i >= 5:
                    calls.append(1000 * took)
                if i == 4:
                    marks.append(cpu_seconds(stack_processes()))
        return calls, errors

    marks: list[dict[str, float]] = []
    print("idle: 10 s with no load", flush=True)
    idle = idle_cpu()
    print(f"single: {count} checkouts one after another (load average {_load()})", flush=True)
    started = time.monotonic()
    calls, errors = asyncio.run(go())
    cpu = _delta(marks[0], cpu_seconds(stack_processes()))
    wall_s = (time.monotonic() - started) * count / (count + 5)  # the measured ones' share
    done = max(len(calls), 1)
    # What the stack spends anyway (pollers, timers) over the run's wall time is not the checkouts' work:
    # on a loaded machine a slow run would otherwise look expensive.
    work = {k: round(max(v - idle.get(k, 0.0) * wall_s / 1000, 0.0) * 1000 / done, 1) for k, v in cpu.items()}
    return {
        "single": {
            "checkouts": len(calls),
            "errors": errors[:5],
            "error_count": len(errors),
            "checkout_call_ms": _pcts(calls) | {"mean": round(statistics.fmean(calls), 1) if calls else None},
            "cpu_seconds": cpu,
            "cpu_ms_per_checkout": {k: round(1000 * v / done, 1) for k, v in cpu.items()},
            "idle_cpu_ms_per_s": idle,
            "seconds": round(wall_s, 1),
            "work_cpu_ms_per_checkout": dict(sorted(work.items(), key=lambda kv: -kv[1])),
        }
    }


# --------------------------------------------------------------------------- where the CPU goes

EMULATOR = "the emulator (moto and what it runs on)"

PROFILED = ("gateway", "cart", "catalog", "checkout", "order", "payment", "notification", "recommendations",
            "aws emulator (moto)")  # fmt: skip


def profile(shop: Shop, products: list[str], rate: float, seconds: int, out_dir: Path) -> dict[str, Any]:
    """Sample every service (and moto) with py-spy while ``rate`` checkouts/s are offered; per process: self time
    by package, and the inclusive time of our own functions (services/...). Folded stacks go to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spies = {}
    for proc in stack_processes():
        name = component(proc).removeprefix("service: ")
        if name in PROFILED and name not in spies:
            folded = out_dir / f"checkout-{name.split(' ')[0]}.folded"
            argv = [_py_spy(), "record", "--pid", str(proc.pid), "--duration", str(seconds), "--rate", "100"]
            # The emulator's requests run in granian's worker, a child of the process listed first.
            argv += ["--format", "raw", "--output", str(folded), "--nonblocking", "--subprocesses"]
            spies[name] = (subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), folded)
    print(f"profiling {', '.join(spies)} with py-spy: {seconds} s at {rate:g} checkouts/s", flush=True)
    time.sleep(1.0)
    before = cpu_seconds(stack_processes())
    summary, _ = asyncio.run(offer(shop, products, rate, seconds))
    cpu = _delta(before, cpu_seconds(stack_processes()))
    done = max(summary.completed - summary.errors, 1)
    out = {}
    for name, (spy, folded) in spies.items():
        spy.wait(seconds + 30)
        text = folded.read_text() if folded.exists() else ""
        ms = 1000 * cpu.get(_label(name), 0.0) / done
        out[name] = fold(text) | {
            "folded": str(folded),
            "cpu_ms_per_checkout": round(ms, 1),
            # The emulator's process is one layer whatever it runs (moto parses requests with botocore's models:
            # those frames are not our services' SDK).
            "layers_ms": {EMULATOR: round(ms, 1)} if name == "aws emulator (moto)" else layers(text, ms),
        }
    return {
        "profile": {
            "rate": rate,
            "seconds": seconds,
            "summary": summary.as_dict(),
            "processes": out,
            "cpu_ms_per_checkout": {k: round(1000 * v / done, 1) for k, v in cpu.items()},
            "layers_ms_per_checkout": budget({k: p["layers_ms"] for k, p in out.items()}, cpu, done),
        }
    }


def _label(name: str) -> str:
    """The component label (``cpu_seconds``'s key) of a profiled process's name."""
    return name if name in COMPONENT_LABELS else f"service: {name}"


def budget(sampled: dict[str, dict[str, float]], cpu: dict[str, float], done: int) -> dict[str, float]:
    """CPU-ms per checkout by layer over the whole stack: the sampled processes' layers summed, and each process
    not sampled (PostgreSQL, Valkey, the supervisor ...) a row of its own; ``cpu`` is CPU-seconds by label."""
    rows = [kv for per_layer in sampled.values() for kv in per_layer.items()]
    profiled = {_label(name) for name in sampled}
    rows += [
        (k.removeprefix("service: ") + " (not sampled)", 1000 * v / done) for k, v in cpu.items() if k not in profiled
    ]
    out: dict[str, float] = {}
    for layer, ms in rows:
        out[layer] = round(out.get(layer, 0.0) + ms, 1)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


# A sample is charged to the layer of the frame nearest its leaf that is not the standard library's (the library
# that asked for the work); a stack of the standard library alone, to its leaf's. py-spy names a frame's file
# relative to its sys.path entry ("psycopg/_cursor_base.py", "asyncio/runners.py", "socket.py").
LAYERS = (
    ("SQL driver (asyncpg, psycopg)", ("asyncpg/", "psycopg/", "psycopg_binary/", "psycopg_pool/")),
    ("SQLAlchemy", ("sqlalchemy/", "greenlet/")),
    ("AWS SDK (botocore, urllib3)", ("botocore/", "boto3/", "urllib3/", "s3transfer/")),
    ("HTTP client (httpx, aiohttp)", ("httpx/", "httpcore/", "h11/", "httpx_aiohttp/", "aiohttp/", "yarl/")),
    ("HTTP server (uvicorn)", ("uvicorn/", "httptools/", "uvloop/")),
    ("web framework (starlette, fastapi, pydantic)", ("starlette/", "fastapi/", "pydantic/", "pydantic_core/")),
    ("logging", ("logging/", "pythonjsonlogger/")),
    ("OpenTelemetry", ("opentelemetry/", "wrapt/")),
    ("redis client", ("redis/",)),
    ("JWT, crypto", ("jwt/", "cryptography/")),
    (EMULATOR, ("moto/", "werkzeug/", "flask/", "jinja2/", "xmltodict", "a2wsgi/", "granian/")),
    ("our code", ("services/", "reference/", "localcloud/")),
    ("event loop, threads", ("asyncio/", "anyio/", "concurrent/", "threading.py", "selectors.py", "queue.py")),
)
# Leaves that wait rather than work (py-spy without --idle still reports some): not charged. A blocking socket's
# read (``SocketIO.readinto``: urllib3 under botocore, on a thread) is the thread waiting for the emulator's answer.
WAITING = ("Runner.run (", "Condition.wait (", "Queue.get (", "Event.wait (", "_worker (concurrent/futures/thread.py",
           "select (", "Thread.join (", "SocketIO.readinto (")  # fmt: skip
COMPONENT_LABELS = {label for label, _ in COMPONENTS}
STDLIB_TOP = sys.stdlib_module_names | {"<frozen runpy>"}


def layers(text: str, cpu_ms: float) -> dict[str, float]:
    """``cpu_ms`` (a process's CPU per checkout) shared out over its layers in proportion to its working samples."""
    counts: dict[str, int] = {}
    for frames, n in stacks(text):
        if frames[-1].startswith(WAITING):
            continue
        layer = _layer(frames)
        counts[layer] = counts.get(layer, 0) + n
    total = sum(counts.values())
    return {k: round(cpu_ms * v / total, 1) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])} if total else {}


def _layer(frames: list[str]) -> str:
    for frame in reversed(frames):
        path = _frame_path(frame)
        if path and path.split("/", 1)[0].removesuffix(".py") not in STDLIB_TOP:
            return next((layer for layer, parts in LAYERS if path.startswith(parts)), "other libraries")
    leaf = _frame_path(frames[-1])
    return next((layer for layer, parts in LAYERS if leaf and leaf.startswith(parts)), "standard library, native")


def _frame_path(frame: str) -> str:
    return frame.rpartition(" (")[2].rstrip(")").rsplit(":", 1)[0] if " (" in frame else ""


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"  # installed into the virtual environment
    return str(beside) if beside.exists() else "py-spy"


def fold(text: str, top: int = 12) -> dict[str, Any]:
    """Self time by package (the leaf frame's top-level module) and inclusive time of our functions, in %."""
    by_package: dict[str, int] = {}
    ours: dict[str, int] = {}
    total = 0
    for frames, n in stacks(text):
        total += n
        package = _package(frames[-1])
        by_package[package] = by_package.get(package, 0) + n
        for frame in {f for f in frames if "(services/" in f or "(reference/" in f}:
            ours[frame] = ours.get(frame, 0) + n

    def pct(counts: dict[str, int]) -> dict[str, float]:
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return {k: round(100 * v / total, 1) for k, v in ranked} if total else {}

    return {"samples": total, "self_by_package_pct": pct(by_package), "inclusive_ours_pct": pct(ours)}


def _package(frame: str) -> str:
    where = frame.rpartition(" (")[2].rstrip(")")
    path = where.rsplit(":", 1)[0]
    parts = path.split("/")
    if parts[0] in ("services", "reference", "load", "localcloud") and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0] if len(parts) > 1 else path


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    lines = [
        f"py-spy, {profile['seconds']} s at {profile['rate']:g} checkouts/s: {profile['summary']['p50_ms']:.0f} ms p50"
    ]
    for name, p in profile["processes"].items():
        packages = ", ".join(f"{k} {v:.0f}%" for k, v in list(p["self_by_package_pct"].items())[:8])
        lines.append(f"  {name} ({p['samples']} samples) self: {packages}")
        lines += [f"      {v:5.1f}% {k}" for k, v in list(p["inclusive_ours_pct"].items())[:8]]
    budget = profile.get("layers_ms_per_checkout", {})
    lines.append(f"CPU-ms per checkout by layer, the profiled processes ({sum(budget.values()):.0f} ms in all):")
    lines += [f"  {v:6.1f}  {k}" for k, v in budget.items()]
    return lines


# --------------------------------------------------------------------------- the stack


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


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    cpu = {k: round(after.get(k, 0.0) - before.get(k, 0.0), 3) for k in after}
    return dict(sorted(cpu.items(), key=lambda kv: -kv[1]))


# --------------------------------------------------------------------------- what a checkout asks of AWS and SQL

COUNTED = 10  # checkouts whose AWS and SQL calls are counted, after the measured ones (counting costs CPU)
PG_LINE = re.compile(r"^(\d+)\|.*?LOG:  (?:statement|execute [^:]*): ")


def calls_per_checkout(shop: Shop, products: list[str], db_url: str, count: int = COUNTED) -> dict[str, Any]:
    """The emulator's requests (moto's recorder) and the SQL statements (``log_statement = all``, each backend
    mapped to the service holding its connection) per checkout, less what the idle stack makes over as long."""
    aws = state.read(STAGE)["AWS_ENDPOINT_URL"]  # type: ignore[index]
    pg_log = _postgres_log()

    def window(work: Any) -> tuple[dict[str, int], dict[str, int], float]:
        _http("POST", f"{aws}/moto-api/recorder/reset-recording")
        _http("POST", f"{aws}/moto-api/recorder/start-recording")
        with psycopg.connect(db_url, autocommit=True) as db:
            db.execute("alter system set log_statement = 'all'")
            db.execute("alter system set log_line_prefix = '%p|'")
            db.execute("select pg_reload_conf()")
        offset = pg_log.stat().st_size if pg_log else 0
        logs = _service_logs(pg_log)
        began = time.monotonic()
        work()
        time.sleep(SETTLE_S)  # the events' relays and consumers
        took = time.monotonic() - began
        with psycopg.connect(db_url, autocommit=True) as db:
            db.execute("alter system reset log_statement")
            db.execute("alter system reset log_line_prefix")
            db.execute("select pg_reload_conf()")
            backends = dict(db.execute("select pid, client_port from pg_stat_activity where client_port > 0"))
        _http("POST", f"{aws}/moto-api/recorder/stop-recording")
        recording = _http("GET", f"{aws}/moto-api/recorder/download-recording")
        sql = _statements(pg_log, offset, backends) | _requests(logs)
        return _aws_actions(recording), sql, took

    idle_aws, idle_sql, idle_s = window(lambda: None)

    async def go() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            for i in range(count):
                await journey(http, shop, shop.shoppers[0], products[i % len(products)])

    aws_calls, sql, took = window(lambda: asyncio.run(go()))

    def per(counts: dict[str, int], idle: dict[str, int]) -> dict[str, float]:
        net = {k: (v - idle.get(k, 0) * took / idle_s) / count for k, v in counts.items()}
        return {k: round(v, 1) for k, v in sorted(net.items(), key=lambda kv: -kv[1]) if v >= 0.05}

    statements = per(sql, idle_sql)
    http = {k[5:]: v for k, v in statements.items() if k.startswith("http ")}
    return {
        "calls": {
            "checkouts": count,
            "aws_per_checkout": per(aws_calls, idle_aws),
            "sql_per_checkout": {k: v for k, v in statements.items() if ": " not in k and not k.startswith("http ")},
            "sql_statements_per_checkout": {k: v for k, v in statements.items() if ": " in k and "http " not in k},
            "http_per_checkout": {k: v for k, v in http.items() if ": " not in k},
            "http_routes_per_checkout": {k: v for k, v in http.items() if ": " in k},
            "idle_seconds": round(idle_s, 1),
            "seconds": round(took, 1),
        }
    }


def _json_objects(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of moto's recording: one a line, but two requests recorded at once can share a line
    (its threads append without a lock), so each line is read object by object."""
    decoder = json.JSONDecoder()
    for line in text.splitlines():
        at = 0
        while at < len(line):
            entry, at = decoder.raw_decode(line, at)
            yield entry
            while at < len(line) and line[at].isspace():
                at += 1


def _aws_actions(recording: str) -> dict[str, int]:
    """Requests by ``service:Action`` from moto's recording (JSON lines: headers, method, url, body)."""
    out: dict[str, int] = {}
    for entry in _json_objects(recording):
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", headers.get("authorization", ""))
        service = scope.group(1) if scope else "?"
        action = (headers.get("x-amz-target") or "").rsplit(".", 1)[-1]
        if not action:
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode("utf-8", "replace")
            found = re.search(r"(?:^|&)Action=([A-Za-z]+)", body) or re.search(r"[?&]Action=([A-Za-z]+)", entry["url"])
            action = found.group(1) if found else f"{entry['method']} {urllib.parse.urlsplit(entry['url']).path}"
        key = f"{service}:{action}"
        out[key] = out.get(key, 0) + 1
    return out


def _port_owners() -> dict[int, str]:
    """The stack's local TCP ports, each with the component (a service's name) that holds it."""
    owners: dict[int, str] = {}
    for proc in stack_processes():
        try:
            ports = [c.laddr.port for c in proc.net_connections(kind="tcp") if c.laddr]
        except psutil.Error:
            continue
        owners |= dict.fromkeys(ports, component(proc).removeprefix("service: "))
    return owners


def _postgres_log() -> Path | None:
    """PostgreSQL's stderr, where the supervisor writes it (the server's file descriptor 2)."""
    for proc in stack_processes():
        if component(proc) == "postgres":
            try:
                return Path(os.readlink(f"/proc/{proc.pid}/fd/2"))
            except OSError:
                return None
    return None


def _service_logs(pg_log: Path | None) -> dict[Path, int]:
    """Each service replica's log (beside PostgreSQL's in the run's log directory) and its size now."""
    if pg_log is None:
        return {}
    return {log: log.stat().st_size for log in pg_log.parent.glob("*.log") if log.stem.split("-")[0] in NAMES}


NAMES = {s.name for s in SHOP_SERVICES}
# An id in a path: a UUID or a long hex or mixed token (with a digit), shown as {id}.
ID_SEGMENT = re.compile(r"/(?:[0-9a-f-]{32,36}|[0-9a-f]{16,}|[A-Za-z0-9_-]*\d[A-Za-z0-9_-]{7,})")


def _requests(logs: dict[Path, int]) -> dict[str, int]:
    """HTTP requests each service answered since ``logs``' sizes (its access-log lines), under ``http <service>``,
    and by route (ids in the path as ``{id}``) under ``http <service>: <method> <path>``."""
    out: dict[str, int] = {}
    for log, offset in logs.items():
        who = log.stem.split("-")[0]
        with log.open("rb") as lines:
            lines.seek(offset)
            for raw in lines:
                if b'"message": "request"' not in raw:
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                route = f"http {who}: {line.get('method')} {ID_SEGMENT.sub('/{id}', str(line.get('path')))}"
                out[f"http {who}"] = out.get(f"http {who}", 0) + 1
                out[route] = out.get(route, 0) + 1
    return out


def _statements(
    pg_log: Path | None, offset: int, backends: dict[int, int], owners: dict[int, str] | None = None
) -> dict[str, int]:
    """Statements logged since ``offset``, by the service whose connection (client port) the backend serves; each
    statement (its first 100 characters) counted too, under ``<service>: <statement>``."""
    if pg_log is None:
        return {}
    owners = _port_owners() if owners is None else owners
    by_pid = {pid: owners.get(port, "other") for pid, port in backends.items()}
    out: dict[str, int] = {}
    with pg_log.open("rb") as log:
        log.seek(offset)
        for raw in log:
            line = raw.decode("utf-8", "replace")
            found = PG_LINE.match(line)
            if found:
                who = by_pid.get(int(found.group(1)), "other")
                out[who] = out.get(who, 0) + 1
                what = f"{who}: {' '.join(line[found.end() :].split())[:100]}"
                out[what] = out.get(what, 0) + 1
    return out


# --------------------------------------------------------------------------- what the database says


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


def saga_steps(db_url: str, started: datetime, ended: datetime) -> dict[str, dict[str, float | None]]:
    """How long each saga step took in the window: the time from the checkout's previous step-log row to this one
    (each row is written, in its own transaction, right after its step's call answered)."""
    sql = """
        select step, extract(epoch from at - lag(at) over (partition by checkout_id order by id))
        from checkout.checkout_steps
        where checkout_id in (select checkout_id from checkout.checkouts where created_at >= %s and created_at < %s)
    """
    by_step: dict[str, list[float]] = {}
    with psycopg.connect(db_url) as db:
        for step, seconds in db.execute(sql, (started, ended)).fetchall():
            if seconds is not None:
                by_step.setdefault(step, []).append(1000 * float(seconds))
    return {step: _percentiles(values) for step, values in by_step.items()}


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None}
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return {"p50": round(cuts[49], 1), "p99": round(cuts[98], 1)}


def _pcts(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    return {f"p{q}": round(percentile(values, q), 1) for q in (50, 95, 99)}


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


# --------------------------------------------------------------------------- the report


def table(report: dict[str, Any]) -> str:
    lines = [
        f"scenario checkout: {report['path']}, {report['shoppers']} shoppers, {report['machine']['cpus']} cores, "
        f"payment provider latency {report['provider_latency_ms']} ms",
        f"load average before {report['load_average']['before']}, after {report['load_average']['after']}",
    ]
    if "single" in report:
        return "\n".join(lines + _single_lines(report["single"]) + _calls_lines(report.get("calls")))
    if "profile" in report:
        return "\n".join(lines + _profile_lines(report["profile"]))
    lines.append(
        f"{'offered':>8} {'achieved':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'call p50':>9} {'CPU ms/checkout':>16}  load"
    )
    for step in report["steps"]:
        s = step["summary"]
        total = sum(step["cpu_ms_per_checkout"].values())
        lines.append(
            f"{step['offered']:>8g} {s['achieved_rate']:>9.1f} {s['p50_ms']:>8.0f} {s['p95_ms']:>8.0f} "
            f"{s['p99_ms']:>8.0f} {s['errors']:>7} {_ms(step['checkout_call_ms']['p50']):>9} {total:>16.0f}"
            f"  {step['load_average'][0]:.1f}" + (f"  {step['broke']}" if step.get("broke") else "")
        )
        for kind, n in list(s["error_kinds"].items())[:3]:
            lines.append(f"           error: {n} x {kind}")
    lines.append("CPU ms per checkout by process, per offered rate:")
    names = sorted({k for st in report["steps"] for k in st["cpu_ms_per_checkout"]},
                   key=lambda k: -report["steps"][0]["cpu_ms_per_checkout"].get(k, 0))  # fmt: skip
    lines.append(f"  {'process':<28}" + "".join(f"{st['offered']:>8g}" for st in report["steps"]))
    for name in names:
        cells = [st["cpu_ms_per_checkout"].get(name, 0) for st in report["steps"]]
        lines.append(f"  {name:<28}" + "".join(f"{c:>8.1f}" for c in cells))
    for title, key in (("event lag, commit -> consumer", "event_lag_ms"), ("saga step times", "saga_step_ms")):
        lines.append(f"{title}, p50 / p99 ms, per offered rate:")
        for name in report["steps"][0][key]:
            cells = [_pair(st[key].get(name, {})) for st in report["steps"]]
            lines.append(f"  {name:<34}" + "".join(f"{c:>12}" for c in cells))
    idle = report["idle_cpu_ms_per_s"]
    lines.append(f"idle stack (no load): {sum(idle.values()):.0f} CPU-ms per second: "
                 + ", ".join(f"{k.removeprefix('service: ')} {v:.0f}" for k, v in idle.items() if v >= 1))  # fmt: skip
    best = report["highest_rate_meeting_goal"]
    lines.append(f"highest rate with p99 <= {GOAL_P99_MS:.0f} ms and 0 errors: " + (f"{best:g}/s" if best else "none"))
    ledger = report["ledger"]
    lines.append("ledger over the sweep: " + ("ok" if ledger["ok"] else f"VIOLATED {ledger['violated']}"))
    lines.append(f"plot: {report.get('plot')}")
    return "\n".join(lines)


def _single_lines(single: dict[str, Any]) -> list[str]:
    call = single["checkout_call_ms"]
    lines = [
        f"single checkouts, one after another: {single['checkouts']} measured, {single['error_count']} errors",
        f"  checkout call p50 {_ms(call['p50'])} ms, p95 {_ms(call['p95'])} ms, p99 {_ms(call['p99'])} ms, "
        f"mean {_ms(call['mean'])} ms",
        f"  CPU ms per checkout (cart add included): {sum(single['cpu_ms_per_checkout'].values()):.0f} in all; "
        f"less the idle stack's {sum(single['idle_cpu_ms_per_s'].values()):.0f} CPU-ms/s over the "
        f"{single['seconds']:.0f} s: {sum(single['work_cpu_ms_per_checkout'].values()):.0f}",
        f"    {'process':<28} {'all':>7} {'work':>7}",
    ]
    work = single["work_cpu_ms_per_checkout"]
    lines += [
        f"    {k:<28} {v:>7.1f} {work.get(k, 0):>7.1f}" for k, v in single["cpu_ms_per_checkout"].items() if v >= 0.05
    ]
    lines += [f"  error: {e}" for e in single["errors"]]
    return lines


def _calls_lines(calls: dict[str, Any] | None) -> list[str]:
    if not calls:
        return []
    lines = [f"calls per checkout (over {calls['checkouts']} more, less the idle stack's over as long):"]
    for title, key in (("AWS (the emulator)", "aws_per_checkout"), ("SQL statements", "sql_per_checkout")):
        counts = calls[key]
        lines.append(f"  {title}: {sum(counts.values()):.1f}")
        lines += [f"    {k:<40} {v:>6.1f}" for k, v in counts.items()]
    requests = calls.get("http_per_checkout", {})
    lines.append(f"  HTTP requests answered: {sum(requests.values()):.1f}")
    lines += [f"    {k:<40} {v:>6.1f}" for k, v in requests.items()]
    lines += [f"      {v:>5.1f}  {k}" for k, v in calls.get("http_routes_per_checkout", {}).items()]
    lines.append("  the most frequent statements:")
    top = list(calls.get("sql_statements_per_checkout", {}).items())[:30]
    lines += [f"    {v:>5.1f}  {k}" for k, v in top]
    return lines


def plot(report: dict[str, Any], out: Path) -> Path:
    """Latency (p50/p95/p99 from the intended send time) and achieved rate against the offered rate, and CPU-ms
    per checkout by process, stacked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = report["steps"]
    offered = [s["offered"] for s in steps]
    fig, (lat, cpu) = plt.subplots(1, 2, figsize=(14, 4.8), width_ratios=(1, 1.1))
    for q, style in (("p50", "-o"), ("p95", "-s"), ("p99", "-^")):
        lat.plot(offered, [s["summary"][f"{q}_ms"] for s in steps], style, label=q)
    lat.axhline(GOAL_P99_MS, color="grey", linestyle="--", label=f"goal p99 {GOAL_P99_MS:.0f} ms")
    lat.set_yscale("log")
    lat.set_xlabel("offered checkouts/s")
    lat.set_ylabel("latency from intended send time, ms")
    twin = lat.twinx()
    twin.plot(offered, [s["summary"]["achieved_rate"] for s in steps], ":", color="black", label="achieved/s")
    twin.set_ylabel("achieved checkouts/s")
    handles = lat.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    lat.legend(handles=handles, loc="upper left", fontsize=8)
    lat.grid(alpha=0.3)
    first = steps[0]["cpu_ms_per_checkout"]
    names = sorted({k for s in steps for k in s["cpu_ms_per_checkout"]}, key=lambda k: -first.get(k, 0))
    bottom = [0.0] * len(steps)
    labels = [f"{o:g}" for o in offered]
    colours = plt.get_cmap("tab20").colors  # one colour a process (the default cycle repeats after ten)
    for i, name in enumerate(names):
        values = [s["cpu_ms_per_checkout"].get(name, 0.0) for s in steps]
        if max(values) < 1:
            continue
        cpu.bar(labels, values, bottom=bottom, label=name.removeprefix("service: "), color=colours[i % len(colours)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    cpu.set_xlabel("offered checkouts/s")
    cpu.set_ylabel("CPU ms per checkout")
    cpu.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # beside the bars
    load = report["load_average"]
    fig.suptitle(f"checkout sweep, {report['path']}; load average {load['before'][0]:.1f} -> {load['after'][0]:.1f}",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _pair(p: dict[str, float | None]) -> str:
    return f"{_ms(p.get('p50'))}/{_ms(p.get('p99'))}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> str:
    data = json.dumps(body).encode() if body is not None else None
    headers = {**ADMIN, "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback URLs
        return response.read().decode()
