"""The load report renders a run's CSVs and samples into one page with its plots, and says when a run failed."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")  # the bench extra's; see load/README.md

from load import report

HISTORY = ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", "50%", "95%", "99%"]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def run_folder(tmp_path: Path) -> Path:
    rows = [[1_700_000_000 + t, 10, "", "Aggregated", 20 + t, 0, 40, 90 + t, 120 + t] for t in range(10)]
    write_csv(tmp_path / "stats_stats_history.csv", HISTORY, rows)
    write_csv(tmp_path / "stats_failures.csv", ["Method", "Name", "Error", "Occurrences"],
              [["POST", "/api/checkout", "status 504", 3]])  # fmt: skip
    write_csv(tmp_path / "stats_stats.csv", ["Type", "Name", "Request Count", "Failure Count", "Requests/s", "50%",
              "95%", "99%"], [["GET", "/api/search?q", 100, 0, 10.0, 40, 90, 120]])  # fmt: skip
    return tmp_path


def result(ok: bool) -> dict[str, object]:
    checks = [{"gate": "search p95", "observed": 90.0, "objective": 1.0 if not ok else 500.0, "held": ok, "unit": "ms"}]
    return {
        "ok": ok, "problems": [] if ok else ["SLOs BROKEN: search p95 was 90 ms against 1 ms"], "target": "http://x",
        "started": "t0", "ended": "t1", "load_average": [1.0, 1.0, 1.0],
        "args": {"mode": "run", "shape": "ramp", "users": "10", "seconds": "10"},
        "verdict": {"verdict": "SLOs HELD" if ok else "SLOs BROKEN: search p95 was 90 ms against 1 ms",
                    "checks": checks, "live": []},
        "waf": {"BlockedRequests": {"ALL": 7, "WafSqli": 5, "WafXss": 2}},
        "queues": [{"t": float(t), "queues": [{"queue": "notification", "waiting": t, "in_flight": 0, "dead": 0}]}
                   for t in range(5)],
        "cpu": [{"t": float(t), "seconds": {"service: cart": t * 0.5}} for t in range(5)],
        "ledger": {"ok": True, "waited_s": 1.0, "violated": {}, "notes": {"dead_letters": "0 dead letter(s)"}},
        "poison_sent": 0, "knee": None,
    }  # fmt: skip


def test_the_report_has_every_plot_as_png_and_inside_the_page(tmp_path: Path) -> None:
    page = report.write(run_folder(tmp_path), result(ok=True))
    html = page.read_text()
    for name in ("latency", "throughput", "errors", "waf", "queues", "cpu"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000, name
        assert f'alt="{name}' in html or name == "waf"
    assert "WAF blocks" in html
    assert "status 504" in html
    assert "Load run: passed" in html


def test_a_failed_run_says_so_and_why_at_the_top(tmp_path: Path) -> None:
    html = report.write(run_folder(tmp_path), result(ok=False)).read_text()
    assert "Load run: FAILED" in html
    assert "search p95 was 90 ms against 1 ms" in html
