"""The CPU tracing adds to one request, measured in-process: ``python -m load.bench.trace_overhead``.

A chassis app (``create_service_app``: request ids, access log, problem+json, the tracing middleware)
with one route that calls a second in-process app through httpx, as the gateway calls the catalog,
is driven with N requests through ``httpx.ASGITransport`` in a fresh interpreter, with
``SHOP_TRACING=off``, with ``xray`` and the sampling rules (this path falls to X-Ray's default rule:
1 a second, then 5 %), and with ``xray`` and every request sampled. The figure is the process
CPU time per request (``time.process_time``), which other work on a shared machine changes far less
than wall-clock throughput. The spans go to an exporter that drops them: this measures making the
spans (server, client, and converting each to an X-Ray segment document), not sending them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

N = 2000

CHILD = """
import asyncio, json, time, httpx
from fastapi import APIRouter
from services.common import telemetry
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
client = httpx.AsyncClient(transport=httpx.ASGITransport(app=downstream), base_url="http://downstream")
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


def main() -> int:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    off = per_request("off")
    print(f"CPU per request (a route calling another app over httpx, {N} requests):")
    print(f"  tracing off:          {off:8.0f} us")
    for label, sampling in (("on, rules", "rules"), ("on, every request", "all")):
        on = per_request("xray", sampling)
        print(f"  tracing {label:<14} {on:8.0f} us  (+{on - off:.0f} us, +{(on / off - 1) * 100:.0f} %)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
