"""SLO gates: judge a window of Locust's stats against ``reference.slo`` and say so in one paragraph.

The judging is plain functions over ``Window`` (testable on synthetic stats without Locust);
``install`` hooks them into a Locust environment as listeners: every ``interval_s`` the last
interval is judged and a breach is printed as it happens (``fail_fast`` also stops the run),
and when the run ends the whole run is judged; a breach then sets ``process_exit_code = 1``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reference.slo import SLO, Slo

WAF_BLOCKED = "blocked by the edge (403)"  # the failure message a shopper request answered 403 by the WAF gets
ATTACK_PREFIX = "ATTACK "  # Locust names of attacker requests: "ATTACK <rule>"; blocked is a success


@dataclass
class Tally:
    """Requests of one name or group: how many, how many failed, and their response times (ms -> count)."""

    requests: int = 0
    failures: int = 0
    times: dict[int, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.failures += other.failures
        for ms, n in other.times.items():
            self.times[ms] = self.times.get(ms, 0) + n

    def minus(self, earlier: Tally) -> Tally:
        times = {ms: n - earlier.times.get(ms, 0) for ms, n in self.times.items()}
        times = {ms: n for ms, n in times.items() if n > 0}
        return Tally(self.requests - earlier.requests, self.failures - earlier.failures, times)

    def percentile(self, share: float) -> float:
        """The smallest response time at or below which ``share`` of the requests fell (0 when none)."""
        total = sum(self.times.values())
        if not total:
            return 0.0
        seen, cut = 0, share * total
        for ms in sorted(self.times):
            seen += self.times[ms]
            if seen >= cut:
                return float(ms)
        return float(max(self.times))


@dataclass
class Window:
    """A stretch of a run: a tally per request name, the WAF false positives among them, and its length."""

    names: dict[str, Tally]
    false_positives: int = 0
    seconds: float = 0.0
    users: int = 0

    def minus(self, earlier: Window) -> Window:
        names = {k: v.minus(earlier.names.get(k, Tally())) for k, v in self.names.items()}
        return Window(names, self.false_positives - earlier.false_positives, self.seconds - earlier.seconds,
                      self.users)  # fmt: skip

    def groups(self, slo: Slo) -> dict[str, Tally]:
        out: dict[str, Tally] = {}
        for name, tally in self.names.items():
            group = slo.group_of(name)
            out.setdefault(group.name if group else "other", Tally()).add(tally)
        return out

    def shoppers(self) -> Tally:
        """Every request that is not an attack."""
        out = Tally()
        for name, tally in self.names.items():
            if not _route(name).startswith((ATTACK_PREFIX, "FLOOD ")):
                out.add(tally)
        return out

    def attacks(self) -> Tally:
        """Attacker requests (floods excluded: the rate rule lets the first ones through by design)."""
        out = Tally()
        for name, tally in self.names.items():
            if _route(name).startswith(ATTACK_PREFIX):
                out.add(tally)
        return out


@dataclass(frozen=True)
class Check:
    """One gate's outcome: what was measured against what was promised."""

    gate: str
    observed: float
    objective: float
    held: bool
    unit: str = ""

    def sentence(self) -> str:
        word = "within" if self.held else "against"
        return f"{self.gate} was {_fmt(self.observed, self.unit)} {word} {_fmt(self.objective, self.unit)}"


def active_slo() -> Slo:
    """``reference.slo.SLO``, its latencies divided by ``LOAD_TIGHTEN`` (1 unless a run proves a breach fails)."""
    factor = float(os.environ.get("LOAD_TIGHTEN", "1"))
    return SLO if factor == 1 else SLO.tightened(factor)


def judge(slo: Slo, window: Window) -> list[Check]:
    """Every gate of ``slo`` over ``window``; a group or rate with too few requests to say anything is skipped."""
    checks: list[Check] = []
    groups = window.groups(slo)
    for group in slo.groups:
        tally = groups.get(group.name)
        if group.name == "attack" or tally is None or tally.requests < slo.min_requests:
            continue
        for label, share, objective in (("p95", 0.95, group.p95_ms), ("p99", 0.99, group.p99_ms)):
            observed = tally.percentile(share)
            checks.append(Check(f"{group.name} {label}", observed, objective, observed <= objective, "ms"))
    shoppers = window.shoppers()
    if shoppers.requests:
        rate = shoppers.failures / shoppers.requests
        checks.append(Check("error rate", rate, slo.max_error_rate, rate <= slo.max_error_rate, "%"))
        fp = window.false_positives / shoppers.requests
        checks.append(
            Check("WAF false positives", fp, slo.max_waf_false_positive_rate, fp <= slo.max_waf_false_positive_rate,
                  "%")
        )  # fmt: skip
    checkout = groups.get("checkout")
    if checkout and checkout.requests:
        ok = 1 - checkout.failures / checkout.requests
        checks.append(Check("checkout success", ok, slo.min_checkout_success, ok >= slo.min_checkout_success, "%"))
    attacks = window.attacks()
    if attacks.requests >= slo.min_requests:
        blocked = 1 - attacks.failures / attacks.requests
        checks.append(Check("attacks blocked", blocked, slo.min_waf_block_rate, blocked >= slo.min_waf_block_rate,
                            "%"))  # fmt: skip
    return checks


def verdict(checks: Iterable[Check], window: Window) -> str:
    """One paragraph: held or not, and why."""
    checks = list(checks)
    shoppers = window.shoppers()
    scope = (
        f"{shoppers.requests} shopper requests in {window.seconds:.0f} s "
        f"({shoppers.requests / window.seconds if window.seconds else 0:.1f}/s) at up to {window.users} users"
    )
    broken = [c for c in checks if not c.held]
    if not checks:
        return f"SLOs NOT JUDGED: too few requests ({scope}) for any gate to say anything."
    if not broken:
        return f"SLOs HELD: all {len(checks)} gates held over {scope}."
    return (
        f"SLOs BROKEN: {len(broken)} of {len(checks)} gates failed over {scope}: "
        + "; ".join(c.sentence() for c in broken)
        + ". The run fails (exit code 1)."
    )


def _route(name: str) -> str:
    """``GET ATTACK sqli`` -> ``ATTACK sqli``: a name without its method."""
    return name.split(" ", 1)[-1]


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{100 * value:.2f} %"
    return f"{value:.0f} {unit}".strip()


# --------------------------------------------------------------------------- Locust


def window_of(environment: Any, seconds: float) -> Window:
    """The run so far, from Locust's (master's) stats."""
    stats = environment.runner.stats
    names = {
        f"{e.method} {e.name}": Tally(e.num_requests, e.num_failures, dict(e.response_times))
        for e in stats.entries.values()
    }
    fps = sum(err.occurrences for err in stats.errors.values() if WAF_BLOCKED in str(err.error))
    return Window(names, fps, seconds, environment.runner.user_count)


def install(environment: Any, slo: Slo, *, interval_s: float = 10.0, fail_fast: bool = False,
            out: Path | None = None, enforce: bool = True) -> None:  # fmt: skip
    """Judge every ``interval_s`` (printing breaches) and at the end (setting the exit code), on the master only."""
    import gevent
    from locust import events
    from locust.runners import WorkerRunner

    live: list[dict[str, Any]] = []

    @events.test_start.add_listener
    def _start(environment: Any, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            return
        gevent.spawn(_watch, environment)
        gevent.spawn(_peak, environment)

    peak = [0]

    def _peak(environment: Any) -> None:
        while True:
            peak[0] = max(peak[0], environment.runner.user_count)
            gevent.sleep(1)

    def _watch(environment: Any) -> None:
        started = gevent.get_hub().loop.now()
        previous = Window({})
        while environment.runner.state not in ("stopped", "quitting"):
            gevent.sleep(interval_s)
            now = window_of(environment, gevent.get_hub().loop.now() - started)
            checks = judge(slo, now.minus(previous))
            previous = now
            broken = [c for c in checks if not c.held]
            if broken:
                live.append({"at_s": round(now.seconds), "broken": [c.sentence() for c in broken]})
                print(f"live SLO check at {now.seconds:.0f} s: " + "; ".join(c.sentence() for c in broken), flush=True)
                if fail_fast:
                    environment.process_exit_code = 1
                    environment.runner.quit()

    @events.quitting.add_listener
    def _final(environment: Any, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            return
        stats = environment.runner.stats
        seconds = max(stats.last_request_timestamp or 0, stats.start_time) - stats.start_time
        window = window_of(environment, seconds)
        window.users = max(window.users, peak[0])
        checks = judge(slo, window)
        text = verdict(checks, window)
        print(text, flush=True)
        if enforce and any(not c.held for c in checks):
            environment.process_exit_code = 1
        if out is not None:
            out.write_text(json.dumps({"verdict": text, "held": all(c.held for c in checks),
                                       "checks": [asdict(c) for c in checks], "live": live}, indent=2))  # fmt: skip
