"""Gunther's Universal Scalability Law, fitted to measured throughput at N replicas.

    X(N) = lambda * N / (1 + sigma * (N - 1) + kappa * N * (N - 1))

``sigma`` (contention) is the share of the work that serialises (a shared lock, one database,
one Redis); ``kappa`` (coherency) the cost of keeping replicas in step, which makes throughput
fall past ``peak_n``. With ``lambda`` = X(1), ``N * lambda / X(N) - 1 = sigma * (N - 1) + kappa *
N * (N - 1)`` is linear in both, so an ordinary least-squares fit (numpy) with both kept >= 0 does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Usl:
    lam: float  # throughput of one replica
    sigma: float  # contention
    kappa: float  # coherency

    def throughput(self, n: float) -> float:
        return self.lam * n / (1 + self.sigma * (n - 1) + self.kappa * n * (n - 1))

    def efficiency(self, n: float) -> float:
        """X(N) / (N * X(1)): 1.0 is linear scaling."""
        return self.throughput(n) / (n * self.lam) if self.lam else math.nan

    @property
    def peak_n(self) -> float:
        """Replicas at which throughput stops rising (infinite without coherency cost)."""
        return math.sqrt((1 - self.sigma) / self.kappa) if self.kappa > 0 and self.sigma < 1 else math.inf


def fit(points: Sequence[tuple[int, float]]) -> Usl:
    """Fit ``sigma`` and ``kappa`` to (replicas, throughput) points; one of them must be at 1 replica."""
    by_n = dict(points)
    if 1 not in by_n or by_n[1] <= 0:
        raise ValueError("the fit needs a positive throughput at 1 replica")
    lam = by_n[1]
    rest = [(n, x) for n, x in sorted(by_n.items()) if n > 1 and x > 0]
    if not rest:
        return Usl(lam, 0.0, 0.0)
    n = np.array([p[0] for p in rest], dtype=float)
    y = n * lam / np.array([p[1] for p in rest]) - 1
    columns = np.column_stack([n - 1, n * (n - 1)])
    if len(rest) == 1:  # one equation cannot separate two unknowns: contention alone
        return Usl(lam, max(float(np.linalg.lstsq(columns[:, :1], y, rcond=None)[0][0]), 0.0), 0.0)
    sigma, kappa = np.linalg.lstsq(columns, y, rcond=None)[0]
    if kappa < 0:  # no coherency cost visible: contention alone
        sigma, kappa = float(np.linalg.lstsq(columns[:, :1], y, rcond=None)[0][0]), 0.0
    if sigma < 0:  # better than linear (caches warming): coherency alone
        sigma, kappa = 0.0, max(float(np.linalg.lstsq(columns[:, 1:], y, rcond=None)[0][0]), 0.0)
    return Usl(lam, float(sigma), float(kappa))
