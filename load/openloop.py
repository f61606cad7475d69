"""An open-loop load generator: requests start at a constant arrival rate, whatever the server does.

Closed-loop users (Locust's) wait for an answer before sending the next request, so a slow
server lowers the offered load and the queue it would have built never shows in the latency
("coordinated omission"). Here request ``i`` is due at ``start + i / rate``; its latency is
measured from that *intended* time, not from when it could actually be sent, as wrk2 and
k6's ``constant-arrival-rate`` executor do. A request that waits for a free connection (at most
``max_in_flight`` are open) or for the event loop still has that wait in its latency.

Usage, from code (the capacity curve in ``load/scale`` and any rate sweep)::

    journeys = [Journey("product", 1, lambda i: Request("GET", f"/api/catalog/products/{ids[i % 100]}"))]
    summary = asyncio.run(run("http://127.0.0.1:8100", journeys, rate=200, duration_s=10))
    print(summary.line())

The scheduling, the journey mix and the percentiles are pure functions, tested without a network.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request to send; ``path`` is joined to the base URL; ``json`` is sent as the body."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None


@dataclass(frozen=True, slots=True)
class Journey:
    """A kind of request, its share of the arrivals (``weight``), and how to make the ``i``-th one."""

    name: str
    weight: float
    factory: Callable[[int], Request]


@dataclass(frozen=True, slots=True)
class Sample:
    """What happened to one request: due at ``intended_s`` (from the run's start), answered after ``latency_s``."""

    journey: str
    intended_s: float
    latency_s: float
    status: int  # 0: no answer (connection error or timeout)
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400 and not self.error


def schedule(rate: float, duration_s: float) -> list[float]:
    """When each request is due, in seconds from the start: evenly spaced at ``rate`` per second."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError(f"rate and duration must be positive (got {rate}/s for {duration_s} s)")
    count = math.floor(rate * duration_s + 1e-9)
    return [i / rate for i in range(count)]


def mix(journeys: Sequence[Journey], count: int) -> list[int]:
    """Which journey each of ``count`` arrivals is: smooth weighted round-robin (nginx's), so every
    window of the run holds the weights' proportions and a run is reproducible."""
    if not journeys or any(j.weight < 0 for j in journeys) or sum(j.weight for j in journeys) <= 0:
        raise ValueError("journeys need non-negative weights with a positive sum")
    total = sum(j.weight for j in journeys)
    current = [0.0] * len(journeys)
    picks = []
    for _ in range(count):
        for k, j in enumerate(journeys):
            current[k] += j.weight
        best = max(range(len(journeys)), key=lambda k: current[k])
        current[best] -= total
        picks.append(best)
    return picks


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank, as HdrHistogram and wrk2 report it; NaN when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100 (got {q})")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    """A run's outcome: offered and achieved rates, latency percentiles (ms, from intended times), errors."""

    offered_rate: float
    duration_s: float
    sent: int
    completed: int
    errors: int
    achieved_rate: float  # answered without error per second of the run
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    late_starts: int  # requests sent more than 10 ms after they were due: the generator itself fell behind
    by_journey: dict[str, dict[str, float]] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        return self.errors / self.sent if self.sent else 0.0

    def line(self) -> str:
        return (
            f"offered {self.offered_rate:7.1f}/s achieved {self.achieved_rate:7.1f}/s  "
            f"p50 {self.p50_ms:7.1f}  p95 {self.p95_ms:7.1f}  p99 {self.p99_ms:7.1f} ms  "
            f"errors {self.errors}/{self.sent}" + (f"  late starts {self.late_starts}" if self.late_starts else "")
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"error_rate": self.error_rate}


LATE_S = 0.010


def summarise(samples: Sequence[Sample], rate: float, duration_s: float, starts: Sequence[float] = ()) -> Summary:
    """Percentiles over every request (errors included: a timeout is a slow answer, not a missing one)."""
    latencies = [s.latency_s * 1000 for s in samples]
    ok = [s for s in samples if s.ok]
    kinds: dict[str, int] = {}
    for s in samples:
        if not s.ok:
            kind = s.error or f"HTTP {s.status}"
            kinds[kind] = kinds.get(kind, 0) + 1
    by_journey = {}
    for name in sorted({s.journey for s in samples}):
        mine = [s.latency_s * 1000 for s in samples if s.journey == name]
        failed = sum(1 for s in samples if s.journey == name and not s.ok)
        by_journey[name] = {
            "sent": len(mine),
            "errors": failed,
            "p50_ms": percentile(mine, 50),
            "p95_ms": percentile(mine, 95),
            "p99_ms": percentile(mine, 99),
        }
    return Summary(
        offered_rate=rate,
        duration_s=duration_s,
        sent=len(samples),
        completed=sum(1 for s in samples if s.status),
        errors=len(samples) - len(ok),
        achieved_rate=len(ok) / duration_s if duration_s else 0.0,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies, default=math.nan),
        late_starts=sum(1 for lag in starts if lag > LATE_S),
        by_journey=by_journey,
        error_kinds=kinds,
    )


async def run(
    base_url: str,
    journeys: Sequence[Journey],
    *,
    rate: float,
    duration_s: float,
    max_in_flight: int = 256,
    timeout_s: float = 10.0,
    keep: list[Sample] | None = None,
) -> Summary:
    """Offer ``rate`` requests/s for ``duration_s`` over keep-alive connections; wait for the stragglers
    (at most ``timeout_s`` each), then summarise. A request still unanswered after its timeout is an error.
    ``keep`` receives every sample (for latency over time)."""
    due = schedule(rate, duration_s)
    picks = mix(journeys, len(due))
    samples: list[Sample] = []
    lags: list[float] = []
    slots = asyncio.Semaphore(max_in_flight)
    connector = aiohttp.TCPConnector(limit=max_in_flight, force_close=False)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(base_url.rstrip("/"), connector=connector, timeout=timeout) as session:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05  # a moment to get every task scheduled
        tasks = []
        for i, at in enumerate(due):
            delay = start + at - loop.time()
            await asyncio.sleep(max(delay, 0))  # 0: behind schedule, but let the requests already due start
            lags.append(loop.time() - (start + at))
            journey = journeys[picks[i]]
            tasks.append(asyncio.create_task(_one(session, slots, journey, i, start + at, at, samples)))
        await asyncio.gather(*tasks)
    if keep is not None:
        keep.extend(samples)
    return summarise(samples, rate, duration_s, lags)


async def _one(
    session: aiohttp.ClientSession,
    slots: asyncio.Semaphore,
    journey: Journey,
    i: int,
    due: float,
    offset: float,
    samples: list[Sample],
) -> None:
    loop = asyncio.get_running_loop()
    request = journey.factory(i)
    status, error = 0, ""
    try:
        async with (
            slots,
            session.request(request.method, request.path, headers=request.headers, json=request.json) as response,
        ):
            await response.read()
            status = response.status
    except TimeoutError:
        error = "timeout"
    except aiohttp.ClientError as exc:
        error = type(exc).__name__
    samples.append(Sample(journey.name, offset, loop.time() - due, status, error))


def sweep(
    base_url: str,
    journeys: Sequence[Journey],
    rates: Sequence[float],
    *,
    duration_s: float,
    holds: Callable[[Summary], bool],
    say: Callable[[str], None] = print,
    **options: Any,
) -> list[Summary]:
    """Offer each rate in turn; stop after the first one that does not ``hold`` (its summary is kept)."""
    results = []
    for rate in rates:
        summary = asyncio.run(run(base_url, journeys, rate=rate, duration_s=duration_s, **options))
        results.append(summary)
        verdict = "holds" if holds(summary) else "BREAKS"
        say(f"  {summary.line()}  {verdict}")
        if verdict == "BREAKS":
            break
    return results
