"""``python -m load.scale [curve|step] ...``: the capacity curve, or autoscaling under a step load; a report.

``curve`` starts the local cloud once per replica count (gateway and catalog at N replicas each,
250m CPU quota per replica, HAProxy in front) and offers product pages open-loop at rising rates.
``step`` starts one replica of each and lets the HPA's algorithm scale real processes while the
offered rate steps up and back down. Both write ``artifacts/scale/<timestamp>/report.html`` (plots
inline) and ``result.json``. Figures taken on a busy machine mean little: the report prints the
load average beside them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from load.bench.run import ROOT

ARTIFACTS = ROOT / "artifacts" / "scale"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m load.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="curve", choices=["curve", "step"], help="curve (default) or step")
    parser.add_argument("--replicas", default="1,2,4", help="replica counts to measure (default 1,2,4)")
    parser.add_argument("--seconds", type=float, default=10, help="seconds per offered rate (default 10)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of warm-up per replica count (default 5)")
    parser.add_argument("--start", type=float, default=5, help="first offered rate, /s (default 5)")
    parser.add_argument("--factor", type=float, default=1.3, help="each rate is this times the last (default 1.3)")
    parser.add_argument("--max-rate", type=float, default=2000, help="stop the ladder here (default 2000/s)")
    parser.add_argument("--cpu-quota", default="request", help="each replica's quota: request (250m), 0.5, none")
    step = parser.add_argument_group("step (autoscaling replayed)")
    step.add_argument("--low", type=float, default=5, help="offered rate before and after the step, /s (default 5)")
    step.add_argument("--high", type=float, default=40, help="offered rate during the step, /s (default 40)")
    step.add_argument("--before", type=float, default=30, help="seconds at the low rate first (default 30)")
    step.add_argument("--hold", type=float, default=120, help="seconds at the high rate (default 120)")
    step.add_argument("--after", type=float, default=360, help="seconds at the low rate after (default 360)")
    step.add_argument("--sync", type=float, default=15, help="the HPA's sync period, s (default 15, as Kubernetes)")
    step.add_argument("--window", type=float, default=300, help="scale-down stabilisation window, s (default 300)")
    step.add_argument("--target", type=float, default=70, help="target CPU, %% of the request (default 70)")
    step.add_argument("--max-replicas", type=int, default=4, help="the HPA's max per service (default 4)")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default artifacts/scale/<timestamp>)")
    args = parser.parse_args(argv)
    args.replicas = [int(n) for n in args.replicas.split(",")]
    if args.cpu_quota == "none":
        args.cpu_quota = ""
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from load.scale import curve, report

    out = args.out or ARTIFACTS / time.strftime("%Y%m%d-%H%M%S")
    if args.mode == "step":
        from load.scale import step

        result = step.run_step(args)
        curve.write(out, result)
        page = report.write_step(out, result)
    else:
        result = curve.run(args)
        curve.write(out, result)
        page = report.write(out, result)
    print(f"report: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
