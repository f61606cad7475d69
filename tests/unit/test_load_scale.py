"""The capacity curve's arithmetic: the USL fit and the verdict of one offered rate."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from load.openloop import Summary
from load.scale import report
from load.scale.curve import BROWSE, holds, rates
from load.scale.usl import Usl, fit


def test_the_fit_recovers_the_parameters_of_exact_points() -> None:
    truth = Usl(100.0, 0.05, 0.002)
    fitted = fit([(n, truth.throughput(n)) for n in (1, 2, 4, 8)])
    assert fitted.lam == 100.0
    assert fitted.sigma == pytest.approx(0.05, abs=1e-9)
    assert fitted.kappa == pytest.approx(0.002, abs=1e-9)
    assert fitted.peak_n == pytest.approx(math.sqrt(0.95 / 0.002))


def test_linear_scaling_fits_to_no_contention_and_efficiency_one() -> None:
    fitted = fit([(1, 50.0), (2, 100.0), (4, 200.0)])
    assert (fitted.sigma, fitted.kappa) == (pytest.approx(0.0, abs=1e-12), pytest.approx(0.0, abs=1e-12))
    assert fitted.efficiency(4) == pytest.approx(1.0)
    assert fitted.peak_n == math.inf


def test_superlinear_points_do_not_give_negative_figures() -> None:
    fitted = fit([(1, 50.0), (2, 110.0), (4, 230.0)])
    assert fitted.sigma >= 0
    assert fitted.kappa >= 0


def test_two_counts_give_contention_only() -> None:
    fitted = fit([(1, 20.0), (2, 30.0)])  # 2 / 1.5 - 1 = sigma * 1
    assert fitted.sigma == pytest.approx(1 / 3)
    assert fitted.kappa == 0.0


def test_the_fit_needs_one_replica() -> None:
    with pytest.raises(ValueError, match="1 replica"):
        fit([(2, 10.0), (4, 20.0)])


def test_efficiency_at_four_replicas_of_a_contended_service() -> None:
    usl = Usl(100.0, 0.1, 0.0)
    assert usl.throughput(4) == pytest.approx(400 / 1.3)
    assert usl.efficiency(4) == pytest.approx(1 / 1.3)


def _summary(rate: float, p95: float, p99: float, errors: int = 0, achieved: float | None = None) -> Summary:
    sent = int(rate * 10)
    return Summary(rate, 10, sent, sent, errors, achieved if achieved is not None else rate, p95 / 2, p95, p99,
                   p99, 0)  # fmt: skip


def test_an_offered_rate_holds_only_within_every_part_of_the_browse_objective() -> None:
    assert holds(_summary(50, BROWSE.p95_ms - 1, BROWSE.p99_ms - 1))
    assert not holds(_summary(50, BROWSE.p95_ms + 1, BROWSE.p99_ms - 1))
    assert not holds(_summary(50, BROWSE.p95_ms - 1, BROWSE.p99_ms + 1))
    assert not holds(_summary(50, 10, 20, errors=50))  # 10 % errors
    assert not holds(_summary(50, 10, 20, achieved=40))  # fast answers, but a fifth of the rate never went out


def test_the_rate_ladder_is_geometric_up_to_its_limit() -> None:
    assert rates(10, 2, 100) == [10, 20, 40, 80]
    assert rates(10, 1.5, 9) == []


def test_the_report_draws_the_curve_and_the_fit(tmp_path: Path) -> None:
    def step(n: int, capacity: float) -> dict[str, object]:
        sweep = [_summary(r, 100 * r / capacity, 200 * r / capacity).as_dict() for r in (capacity / 2, capacity)]
        return {"replicas": n, "capacity_rps": capacity, "per_pod_rps": capacity / n, "load_average": (1.0, 1, 1),
                "sweep": sweep, "throttling": {"gateway-1": {"nr_periods": 9, "nr_throttled": 3}},
                "balancer": [{"svname": "gateway-1", "status": "UP", "stot": "10", "hrsp_5xx": "0"}]}  # fmt: skip

    result = {
        "when": "now", "cpus": 2, "cpu_quota": "request", "seconds_per_rate": 10,
        "objective": {"group": "browse", "p95_ms": 500, "p99_ms": 1000, "max_error_rate": 0.01, "min_achieved": 0.95},
        "load_average_before": (1.0, 1, 1), "load_average_after": (1.0, 1, 1),
        "steps": [step(1, 40.0), step(2, 76.0), step(4, 140.0)],
        "measured_efficiency": {"1": 1.0, "2": 0.95, "4": 0.875},
        "usl": {"lambda": 40, "sigma": 0.05, "kappa": 0.001, "peak_n": 30.8},
    }  # fmt: skip
    page = report.write(tmp_path, result).read_text()
    assert page.count("<svg") == 2
    assert "contention sigma 0.050" in page
    assert "efficiency &ge; 0.8): met (measured 0.88)" in page
    assert "<td>4</td><td>140.0</td><td>35.0</td><td>0.88</td>" in page
    assert (tmp_path / "throughput.svg").exists()
    assert (tmp_path / "latency.svg").exists()


def test_the_step_report_plots_replicas_and_p99_over_time(tmp_path: Path) -> None:
    def row(t: float, offered: float, gateway: int) -> dict[str, object]:
        return {"t": t, "offered": offered, "gateway": {"replicas": gateway, "desired": gateway, "cpu_pct": 50.0}}

    result = {
        "when": "now", "cpus": 2, "load_average_after": (1.0, 1, 1), "objective_p99_ms": 1000,
        "hpa": {"target_pct": 70, "sync_s": 15, "window_s": 300, "max": 4},
        "timeline": [row(15, 5, 1), row(30, 40, 1), row(45, 40, 3), row(60, 5, 3)],
        "p99": [{"t": 15, "p99_ms": 50.0}, {"t": 30, "p99_ms": 2000.0}, {"t": 45, "p99_ms": 300.0}],
    }  # fmt: skip
    page = report.write_step(tmp_path, result).read_text()
    assert "<svg" in page
    assert "<td>45</td><td>40</td><td>3 &rarr; 3</td><td>50.0</td>" in page
    assert (tmp_path / "step.svg").exists()
