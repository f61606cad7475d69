"""What a service process pays to start, before it serves: ``python -m load.bench.imports [service ...] [--runs 3]``.

For each service, in fresh interpreters: the CPU-seconds (user + system, of the child process) of
``import services.<name>.app``, and of building its app (``create_app()``) with ``SHOP_TRACING=off`` and
``=xray`` (what ``nox -s up`` runs), the median of ``--runs`` runs taken in alternating order; and
which heavy libraries the built app has imported (SQLAlchemy, Alembic, boto3, the OpenTelemetry
SDK). Bytecode is written and used (``PYTHONDONTWRITEBYTECODE`` cleared), as in a developer's shell,
and a first run that writes it is not counted. CPU-seconds change less with other work on a shared
machine than wall time; the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from reference.services import SERVICES

# Settings a service refuses to start without (nothing connects while the app is only built).
PLACEHOLDERS = {"SHOP_USER_POOL_ID": "us-east-1_placeholder", "SHOP_USER_POOL_CLIENT_ID": "placeholder"}
HEAVY = ("sqlalchemy", "alembic", "boto3", "opentelemetry.sdk")
CHILD = """
import json, resource, sys
{code}
usage = resource.getrusage(resource.RUSAGE_SELF)
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"cpu_s": usage.ru_utime + usage.ru_stime, "heavy": heavy}}))
"""


def measure(service: str, build: bool, tracing: str = "off") -> dict:
    """One fresh interpreter: import (and with ``build`` create) ``service``'s app; its CPU-seconds."""
    code = f"from services.{service}.app import create_app" + ("; create_app()" if build else "")
    env = os.environ | {"SHOP_TRACING": tracing, "LOG_LEVEL": "WARNING"} | PLACEHOLDERS
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    child = CHILD.format(code=code, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{service}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load.bench.imports", description=__doc__.split("\n\n")[0])
    parser.add_argument("services", nargs="*", help="services to measure (default: all of reference/)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measure per service (default 3)")
    parser.add_argument("--json", type=str, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    names = args.services or [s.name for s in SERVICES]
    kinds = (("import", False, "off"), ("build, off", True, "off"), ("build, xray", True, "xray"))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"CPU-seconds, median of {args.runs} runs")
    print(f"{'service':<16} {'import':>7} {'build off':>10} {'build xray':>11}  heavy libraries imported (off)")
    report = {}
    for name in names:
        measure(name, True)  # writes the bytecode; not counted
        runs: dict[str, list[float]] = {kind: [] for kind, _, _ in kinds}
        heavy: list[str] = []
        for round_ in range(args.runs):
            for kind, build, tracing in kinds if round_ % 2 == 0 else tuple(reversed(kinds)):
                result = measure(name, build, tracing)
                runs[kind].append(result["cpu_s"])
                heavy = result["heavy"] if kind == "build, off" else heavy
        medians = {kind: statistics.median(v) for kind, v in runs.items()}
        report[name] = {"cpu_s": medians, "runs": runs, "heavy_when_off": heavy}
        figures = [medians[k] for k, _, _ in kinds]
        print(f"{name:<16} {figures[0]:>7.2f} {figures[1]:>10.2f} {figures[2]:>11.2f}  {', '.join(heavy) or '-'}")
    totals = {kind: sum(r["cpu_s"][kind] for r in report.values()) for kind, _, _ in kinds}
    print(f"{'all':<16} {totals['import']:>7.2f} {totals['build, off']:>10.2f} {totals['build, xray']:>11.2f}")
    load = os.getloadavg()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in load)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"services": report, "totals": totals, "load_after": load}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
