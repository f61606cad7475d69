"""The load harness's SLO gates judge synthetic stats as a run's would be judged; one real run behind -m slow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from load.gates import WAF_BLOCKED, Tally, Window, judge, verdict
from load.stages import SHAPES, plan
from reference.slo import SLO

ROOT = Path(__file__).parent.parent.parent


def tally(requests: int, ms: int, failures: int = 0) -> Tally:
    return Tally(requests, failures, {ms: requests})


def healthy() -> Window:
    return Window(
        {
            "GET /api/catalog/products/[id]": tally(500, 40),
            "GET /api/search?q": tally(200, 60),
            "POST /api/checkout": tally(50, 300),
            "GET ATTACK sqli": Tally(40, 0, {5: 40}),
        },
        seconds=60,
        users=20,
    )


def broken(checks: list) -> set[str]:
    return {c.gate for c in checks if not c.held}


def test_a_healthy_run_holds_every_gate_and_says_so() -> None:
    checks = judge(SLO, healthy())
    assert checks
    assert not broken(checks)
    assert verdict(checks, healthy()).startswith("SLOs HELD")


def test_an_impossibly_tight_slo_breaks_and_the_verdict_names_the_gate_and_the_numbers() -> None:
    checks = judge(SLO.tightened(1000), healthy())
    assert "browse p95" in broken(checks)
    assert "checkout p99" in broken(checks)
    text = verdict(checks, healthy())
    assert text.startswith("SLOs BROKEN")
    assert "browse p95 was 40 ms against 0 ms" in text
    assert "exit code 1" in text


def test_failed_checkouts_break_the_checkout_success_gate_but_attacks_do_not_count_as_errors() -> None:
    window = healthy()
    window.names["POST /api/checkout"] = tally(50, 300, failures=10)
    assert broken(judge(SLO, window)) == {"checkout success", "error rate"}
    window = healthy()
    window.names["POST ATTACK xss"] = Tally(10, 10, {5: 10})  # ten attacks let through: the block rate, not errors
    assert broken(judge(SLO, window)) == {"attacks blocked"}


def test_a_shopper_blocked_by_the_waf_is_a_false_positive() -> None:
    window = healthy()
    window.false_positives = 1
    assert broken(judge(SLO, window)) == {"WAF false positives"}
    assert "403" in WAF_BLOCKED


def test_a_group_with_too_few_requests_is_not_judged_on_latency() -> None:
    window = Window({"POST /api/checkout": tally(SLO.min_requests - 1, 60_000)}, seconds=10)
    assert not any(c.gate.startswith("checkout p") for c in judge(SLO, window))


def test_a_window_is_the_difference_of_two_snapshots() -> None:
    before = Window({"GET /api/search?q": Tally(10, 1, {50: 10})}, seconds=10)
    after = Window({"GET /api/search?q": Tally(30, 1, {50: 10, 900: 20})}, seconds=30)
    window = after.minus(before)
    assert window.names["GET /api/search?q"] == Tally(20, 0, {900: 20})
    assert window.seconds == 20


def test_percentiles_come_from_the_response_time_histogram() -> None:
    t = Tally(100, 0, {10: 90, 200: 9, 5000: 1})
    assert (t.percentile(0.5), t.percentile(0.95), t.percentile(0.99), t.percentile(1.0)) == (10, 200, 200, 5000)


def test_every_shape_table_ends_at_the_run_length_and_never_asks_for_more_than_the_peak() -> None:
    for name, stages in SHAPES.items():
        rows = plan(stages, users=40, seconds=120, fixed=2)
        assert rows[-1][0] == 120, name
        assert 2 < max(users for _, users, _ in rows) <= 42, name
        assert [end for end, _, _ in rows] == sorted(end for end, _, _ in rows), name


@pytest.mark.slow
def test_a_short_run_with_an_impossibly_tight_slo_exits_non_zero_and_says_why(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "load", "--seconds", "20", "--users", "6", "--tighten", "1000", "--poison", "0",
            "--attackers", "0", "--skip-ledger", "--out", str(tmp_path)]  # fmt: skip
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, env=os.environ)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "SLOs BROKEN" in run.stdout
    assert "against" in run.stdout
    assert (tmp_path / "report.html").exists()
    assert (tmp_path / "locust.html").exists()
