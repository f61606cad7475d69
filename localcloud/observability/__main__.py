"""``python -m localcloud.observability`` (``nox -s alarms``): the alarms' states and history, and the dashboard.

Reads the running local stack (``nox -s up``, or the one ``nox -s load`` starts): every alarm of the emulator
with its state, since when and why; the state changes the evaluator made (newest last); and writes the
dashboard page (graphs of reference/observability.py GRAPHS, then the alarms) from the worker's latest data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud.observability", description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--stage", default=None, help="the running stack's stage (default: SHOP_STAGE, local, load)")
    parser.add_argument("--history", type=int, default=20, metavar="N", help="state changes shown (default 20)")
    parser.add_argument("--state", choices=["ALARM", "OK", "INSUFFICIENT_DATA"], help="only alarms in this state")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "observability" / "index.html",
                        help="where the dashboard page goes (default build/observability/index.html)")  # fmt: skip
    args = parser.parse_args(argv)

    from localcloud import state
    from localcloud.observability import dashboard, evaluator

    stages = [args.stage] if args.stage else [os.environ.get("SHOP_STAGE", "local"), "load"]
    stage = next((s for s in stages if state.use_running_stack(s)), None)
    if stage is not None:
        from localcloud.health import aws_client

        cloudwatch = aws_client("cloudwatch", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
                                region=os.environ.get("AWS_REGION", "us-east-1"))  # fmt: skip
        alarms = [a for p in cloudwatch.get_paginator("describe_alarms").paginate() for a in p["MetricAlarms"]]
        print(f"the alarms of the running stack of stage {stage}")
    else:
        stage = next((s for s in stages if (dashboard.folder(s) / "dashboard.json").exists()), None)
        if stage is None:
            print(f"error: no local stack of stage {' or '.join(stages)} runs or ran; start one with nox -s up")
            return 2
        saved = json.loads((dashboard.folder(stage) / "dashboard.json").read_text())
        alarms = saved["alarms"]
        print(f"no stack runs: the alarms as the last stack of stage {stage} left them")
    alarms = [a for a in alarms if args.state is None or a["StateValue"] == args.state]
    print(table(alarms))
    files = dashboard.folder(stage)
    history = evaluator.read_history(files / "history.jsonl")
    print(f"\nhistory (last {min(args.history, len(history))} of {len(history)} state changes)")
    for item in history[-args.history :]:
        print(f"  {item['Timestamp']}  {item['AlarmName']:<44} {item['HistorySummary']}")
    page = dashboard.from_folder(files, args.out)
    print(f"\ndashboard: {page}" if page else "\ndashboard: the worker has written no data yet (every 10 s)")
    return 0


def table(alarms: list[dict]) -> str:
    """One line per alarm: state, name, since, reason (alarms in ALARM first)."""
    alarms = sorted(alarms, key=lambda a: (a["StateValue"] != "ALARM", a["AlarmName"]))
    lines = [f"{'STATE':<17} {'ALARM':<44} {'SINCE':<20} REASON"]
    for a in alarms:
        since = str(a["StateUpdatedTimestamp"])[:19]
        reason = a.get("StateReason", "")
        lines.append(f"{a['StateValue']:<17} {a['AlarmName']:<44} {since:<20} {reason[:90]}")
    states = [a["StateValue"] for a in alarms]
    lines.append(f"{len(alarms)} alarms: " + ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states))))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
