"""``python -m localcloud.analytics`` (``nox -s analytics``): run Athena's named queries locally and draw them.

With a local stack running (``nox -s up``, or the one ``nox -s load`` starts), it asks the Firehose
worker to deliver what it holds, runs every named query of reference/analytics.py with DuckDB over
the lake in the emulator's S3, prints the funnel and the orders in the lake against the orders in
the database, and writes an HTML dashboard. With none running, it reads the copy of the lake the
last load run kept (``artifacts/load/<run>/analytics/``). Exit code 1 when the orders differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOAD_RUNS = ROOT / "artifacts" / "load"
SHOWN = ("conversion-funnel-by-day", "orders-by-traffic", "revenue-by-hour", "searches-without-results",
         "edge-cache-hit-ratio-by-hour", "waf-blocks-by-hour", "p95-latency-by-path")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud.analytics",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stage", default=None, help="the running stack's stage (default: SHOP_STAGE, local, load)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "analytics", help="dashboard folder")
    parser.add_argument("--from", dest="saved", type=Path, default=None, help="a load run's analytics/ folder")
    parser.add_argument("--no-flush", action="store_true", help="do not ask the Firehose worker to deliver first")
    parser.add_argument("--all", action="store_true", help="print every query, not only the analyst's usual ones")
    args = parser.parse_args(argv)

    from localcloud import state
    from localcloud.analytics import report

    figures = None
    if args.saved is None:
        import os

        for stage in [args.stage] if args.stage else [os.environ.get("SHOP_STAGE", "local"), "load"]:
            if state.use_running_stack(stage):
                os.environ["SHOP_STAGE"] = stage
                print(f"the running stack of stage {stage}: delivering what the Firehose worker holds, then querying")
                figures = report.live(stage, do_flush=not args.no_flush)
                break
    if figures is None:
        folder = args.saved or latest_snapshot()
        if folder is None:
            print("error: no local stack runs and no load run kept a lake; start one with nox -s up or nox -s load")
            return 2
        print(f"no stack runs: the lake the load run kept in {folder}")
        figures = report.saved(folder)

    print(f"\nlake: {figures.source}")
    print("\n".join(report.worker_lines(figures.worker)))
    for name in figures.results if args.all else SHOWN:
        print(f"\n{name}")
        print(report.table_text(figures.results[name]))
    print()
    print("\n".join(report.orders_lines(figures)))
    page = report.dashboard(figures, args.out / "index.html")
    print(f"\ndashboard: {page}")
    return 0 if figures.db_orders is None or figures.reconciled() else 1


def latest_snapshot() -> Path | None:
    kept = sorted(p.parent for p in LOAD_RUNS.glob("*/analytics/figures.json"))  # <run>/analytics, oldest first
    return kept[-1] if kept else None


if __name__ == "__main__":
    sys.exit(main())
