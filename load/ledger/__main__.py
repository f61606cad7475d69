"""``python -m load.ledger --since 10m [--until ...] [--settle 10] [--expected-dead N] [--json]``.

Runs the ledger check against the running local stack (found through ``localcloud.state``),
or against AWS when ``SHOP_STAGE`` and AWS credentials point there. Exit code 1 on any violation.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta

from load.ledger import Verdict, check

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def when(text: str) -> datetime:
    """``10m``, ``2h`` (that long ago) or an ISO 8601 time (UTC unless it says otherwise)."""
    if match := re.fullmatch(r"(\d+)([smhd])", text):
        return datetime.now(UTC) - timedelta(seconds=int(match[1]) * UNITS[match[2]])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration (10m) or an ISO time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def table(verdict: Verdict) -> str:
    lines = [
        f"ledger of {verdict.since.isoformat(timespec='seconds')} .. {verdict.settled.isoformat(timespec='seconds')}"
    ]
    for label, by_status in verdict.counts.items():
        parts = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items())) or "none"
        lines.append(f"  {label:<13} {parts}")
    lines.append(f"{'rule':<34} {'about':<13} {'verdict':<9} {'violations':>10}  note")
    for f in verdict.findings:
        lines.append(f"{f.rule:<34} {f.about:<13} {f.status:<9} {f.violations:>10}  {f.note}")
        lines += [f"    {ident}  {detail}" for ident, detail in f.examples]
    lines.append("verdict: " + ("ok" if verdict.ok else f"VIOLATED ({len(verdict.violated())} rule(s))"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load.ledger", description=__doc__.split("\n\n")[0])
    parser.add_argument("--since", type=when, required=True, help="start of the window: 10m, 2h or an ISO time")
    parser.add_argument("--until", type=when, default=None, help="end of the window (default: now - settle)")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds left for work in flight (default 10)")
    parser.add_argument("--expected-dead", type=int, default=0, help="poison messages the run put in the DLQs")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    args = parser.parse_args(argv)

    from localcloud import state

    state.use_running_stack()
    verdict = check(args.since, args.until, settle_s=args.settle, expected_dead=args.expected_dead)
    print(json.dumps(verdict.as_dict(), indent=2, default=str) if args.json else table(verdict))
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
