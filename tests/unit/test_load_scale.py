"""The capacity curve's arithmetic: the USL fit and the verdict of one offered rate."""

from __future__ import annotations

import math

import pytest

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


def test_the_fit_needs_one_replica() -> None:
    with pytest.raises(ValueError, match="1 replica"):
        fit([(2, 10.0), (4, 20.0)])


def test_efficiency_at_four_replicas_of_a_contended_service() -> None:
    usl = Usl(100.0, 0.1, 0.0)
    assert usl.throughput(4) == pytest.approx(400 / 1.3)
    assert usl.efficiency(4) == pytest.approx(1 / 1.3)
