"""The worker's memory of every datum it put into the emulator, raw, so statistics (percentiles too) come from values.

moto keeps metrics but computes no percentile, and answers every query by scanning all it holds; the
worker therefore evaluates alarms and draws the dashboard from this store, and gives moto one statistic
set per metric and 10 seconds (agent.py).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

RETENTION_S = 3 * 3600.0  # the longest evaluation range (5-minute periods x 7) fits many times

Dimensions = tuple[tuple[str, str], ...]


def dims_key(dimensions: Mapping[str, str] | Iterable[tuple[str, str]]) -> Dimensions:
    items = dimensions.items() if isinstance(dimensions, Mapping) else dimensions
    return tuple(sorted((str(k), str(v)) for k, v in items))


@dataclass(frozen=True, slots=True)
class MetricKey:
    namespace: str
    name: str
    dimensions: Dimensions


def rounded(value: float, digits: int = 4) -> float:
    """``value`` to ``digits`` significant digits: equal values then share one entry (percentiles move < 0.1 %)."""
    return float(f"{value:.{digits}g}")


@dataclass
class Series:
    """Per second (epoch), how many times each (rounded) value was seen: memory grows with distinct values, not
    with traffic, so an hour of a load run's per-request latencies fits."""

    seconds: dict[int, dict[float, int]] = field(default_factory=dict)


class Store:
    """Raw datapoints per metric (namespace, name, exact dimension set), thread-safe, kept for RETENTION_S."""

    def __init__(self, retention_s: float = RETENTION_S):
        self.retention_s = retention_s
        self.series: dict[MetricKey, Series] = {}
        self.lock = threading.Lock()

    def add(self, key: MetricKey, at: float, value: float, count: int = 1) -> None:
        with self.lock:
            values = self.series.setdefault(key, Series()).seconds.setdefault(int(at), {})
            v = rounded(value)
            values[v] = values.get(v, 0) + count

    def metric_keys(self) -> list[MetricKey]:
        with self.lock:
            return list(self.series)

    def window(self, key: MetricKey, start: float, end: float) -> list[tuple[float, float, int]]:
        """The points of ``key`` with ``start <= time < end``, as (second, value, count)."""
        with self.lock:
            series = self.series.get(key)
            if series is None:
                return []
            return [(float(sec), v, c) for sec, values in series.seconds.items() if start <= sec < end
                    for v, c in values.items()]  # fmt: skip

    def prune(self, now: float) -> None:
        horizon = now - self.retention_s
        with self.lock:
            for series in self.series.values():
                if series.seconds and next(iter(series.seconds)) < horizon:  # oldest first, as they arrived
                    series.seconds = {s: v for s, v in series.seconds.items() if s >= horizon}


def statistic(stat: str, points: list[tuple[float, float, int]]) -> float | None:
    """CloudWatch's statistic of raw points: SampleCount, Sum, Average, Minimum, Maximum or pNN(.N); None if empty.

    Percentiles are nearest-rank over the values (each repeated ``count`` times): p99 of 100 values is the 99th.
    """
    if not points:
        return None
    count = sum(c for _, _, c in points)
    if stat == "SampleCount":
        return float(count)
    if stat == "Sum":
        return sum(v * c for _, v, c in points)
    if stat == "Average":
        return sum(v * c for _, v, c in points) / count
    if stat == "Minimum":
        return min(v for _, v, _ in points)
    if stat == "Maximum":
        return max(v for _, v, _ in points)
    if stat.startswith("p"):
        rank = max(1, math.ceil(float(stat[1:]) / 100 * count))
        seen = 0
        for value, c in sorted((v, c) for _, v, c in points):
            seen += c
            if seen >= rank:
                return value
    raise ValueError(f"unknown statistic {stat!r}")
