"""The CPU tracing adds to one request, measured in-process: ``python -m load.bench.trace_overhead [--rounds 3]``.

A chassis app (``create_service_app``: request ids, access log, problem+json, metrics, the tracing gate)
with one route that calls a second in-process app through the chassis' HTTP client
(``services.common.http``, which passes the trace on), as the gateway calls the catalog, is driven
with N requests through ``httpx.ASGITransport`` in a fresh interpreter, with ``SHOP_TRACING=off``,
with ``xray`` and the sampling rules (this path falls to X-Ray's default rule: 1 a second, then 5 %),
and with ``xray`` and every request sampled. The figure is the process CPU time per request
(``time.process_time``), which other work on a shared machine changes far less than wall-clock
throughput; each mode runs ``--rounds`` times, in an order that alternates round by round (off, rules,
all; then all, rules, off) so a drift of the machine's load weighs on every mode alike, and the median
is reported. The spans go to an exporter that drops them: this measures making the spans (server,
client, and converting each to an X-Ray segment document), not sending them.

``--gate`` measures only what ``TraceGate`` adds to one unsampled hop (the caller's headers read, the
non-recording context attached, the headers its calls carry and its log lines' trace id), in a loop of
20,000 calls without HTTP around it: a few microseconds that the whole-request figures above cannot resolve.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

N = 2000

CHILD = """
import asyncio, json, time, httpx
from fastapi import APIRouter
from services.common import http, telemetry
from services.common.app import create_service_app
from services.common.settings import ServiceSettings

class Dropped:
    def export(self, spans):
        for span in spans:
            telemetry.segment_document(span, "bench")
        from opentelemetry.sdk.trace.export import SpanExportResult
        return SpanExportResult.SUCCESS
    def shutdown(self): pass
    def force_flush(self, timeout_millis=0): return True

telemetry.XRayExporter = lambda service, region=None: Dropped()
settings = ServiceSettings()
inner = APIRouter()

@inner.get("/item")
async def item():
    return {"id": 1}

downstream = create_service_app("downstream", settings, [inner])
client = http.client("http://downstream", transport=httpx.ASGITransport(app=downstream))
outer = APIRouter()

@outer.get("/page")
async def page():
    return (await client.get("/item")).json()

app = create_service_app("front", settings, [outer])

async def main(n):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://front") as c:
        for _ in range(200):
            await c.get("/page")
        start = time.process_time()
        for _ in range(n):
            assert (await c.get("/page")).status_code == 200
        return (time.process_time() - start) / n

print(json.dumps({"cpu_us": asyncio.run(main(%d)) * 1e6}))
"""


GATE = """
import asyncio, json, statistics, time
from services.common import telemetry

telemetry.setup("bench", "xray", "rules")

async def inner(scope, receive, send):  # what a route's work asks of the trace: its calls' headers, a log line's id
    telemetry.carrier()
    telemetry.current_trace_id()

gate = telemetry.TraceGate(inner)
caller = [(b"host", b"catalog"), (b"accept", b"*/*"),
          (b"traceparent", b"00-5f1d2c3a0123456789abcdef01234567-53995c3f42cd8ad8-00"),
          (b"x-amzn-trace-id", b"Root=1-5f1d2c3a-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=0")]
scope = {"type": "http", "path": "/api/catalog/products/p-1", "method": "GET", "headers": caller}

async def per_call(app, n=20000):
    start = time.process_time()
    for _ in range(n):
        await app(scope, None, None)
    return (time.process_time() - start) / n * 1e6

async def main():
    alone, gated = [], []
    for _ in range(7):
        alone.append(await per_call(inner))
        gated.append(await per_call(gate))
    return statistics.median(gated) - statistics.median(alone)

print(json.dumps({"gate_us": asyncio.run(main())}))
"""


def gate_cost() -> float:
    """CPU the trace gate adds to one unsampled hop (a request whose caller sent ``Sampled=0``), in us."""
    env = os.environ | {"SHOP_TRACING": "xray", "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-c", GATE], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])["gate_us"]


def per_request(tracing: str, sampling: str = "all") -> float:
    env = os.environ | {"SHOP_TRACING": tracing, "SHOP_TRACE_SAMPLING": sampling, "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-c", CHILD % N], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])["cpu_us"]


MODES = (("off", "off", "all"), ("on, rules", "xray", "rules"), ("on, every request", "xray", "all"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load.bench.trace_overhead", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each mode, in alternating order (default 3)")
    gate_help = "only the gate's own CPU on one unsampled hop (20,000 calls of a route that does nothing but ask"
    gate_help += " for its trace headers and log id, behind the gate and not; median of 7)"
    parser.add_argument("--gate", action="store_true", help=gate_help)
    args = parser.parse_args(argv)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.gate:
        print(f"the trace gate on an unsampled hop: +{gate_cost():.1f} us CPU")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0
    runs: dict[str, list[float]] = {label: [] for label, _, _ in MODES}
    for round_ in range(args.rounds):
        for label, tracing, sampling in MODES if round_ % 2 == 0 else reversed(MODES):
            runs[label].append(per_request(tracing, sampling))
    off = statistics.median(runs["off"])
    print(f"CPU per request (a route calling another app over httpx, {N} requests, median of {args.rounds} runs):")
    for label, _, _ in MODES:
        us = statistics.median(runs[label])
        each = ", ".join(f"{x:.0f}" for x in runs[label])
        cost = "" if label == "off" else f"  (+{us - off:.0f} us, {(us / off - 1) * 100:+.0f} %)"
        print(f"  tracing {label:<18} {us:6.0f} us{cost}   runs: {each}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
