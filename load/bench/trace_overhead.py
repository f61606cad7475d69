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
    args = parser.parse_args(argv)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
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
