"""What tracing adds to a service's start: ``python -m load.bench.trace_imports [service ...]``.

For each service it builds the app twice in a fresh interpreter under ``python -X importtime``, with
``SHOP_TRACING=off`` and ``=xray``, and sums the self time of the modules only the traced run
imported (the OpenTelemetry SDK, its instrumentations and their dependencies). Off, our code imports
none of them (services/common/telemetry.py imports them inside ``setup``), but two libraries do on
their own: FastAPI (0.165) imports the OpenTelemetry *API*, and redis-py 8 imports the SDK's
*metrics* package whenever the SDK is installed (``redis.observability``). The last column is what
the off run spends in ``opentelemetry.sdk*``: the price of having the SDK in the image at all. The figures
are wall-clock import times on a shared machine: read them with the load average printed beside.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from reference.services import SERVICES

# Settings a service refuses to start without (nothing connects while the app is only built).
PLACEHOLDERS = {"SHOP_USER_POOL_ID": "us-east-1_placeholder", "SHOP_USER_POOL_CLIENT_ID": "placeholder"}
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|\s?( *)(\S+)")


def imported(service: str, tracing: str) -> dict[str, int]:
    """Module -> self microseconds, for building ``service``'s app with ``SHOP_TRACING=tracing``."""
    code = f"from services.{service}.app import create_app; create_app()"
    env = os.environ | {"SHOP_TRACING": tracing, "LOG_LEVEL": "WARNING"} | PLACEHOLDERS
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"building {service}'s app failed:\n{done.stderr[-2000:]}")
    return {m[4]: int(m[1]) for m in map(LINE.match, done.stderr.splitlines()) if m}


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or [s.name for s in SERVICES]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'service':<16} {'modules':>8} {'extra ms':>9} {'otel ms':>8} {'sdk ms when off':>16}")
    for name in names:
        off, on = imported(name, "off"), imported(name, "xray")
        extra = {m: us for m, us in on.items() if m not in off}
        otel = sum(us for m, us in extra.items() if m.startswith("opentelemetry"))
        sdk_off = sum(us for m, us in off.items() if m.startswith("opentelemetry.sdk"))
        ms = [sum(extra.values()) / 1000, otel / 1000, sdk_off / 1000]
        print(f"{name:<16} {len(extra):>8} {ms[0]:>9.1f} {ms[1]:>8.1f} {ms[2]:>16.1f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
