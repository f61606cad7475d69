"""What experiments look at (Chaos Toolkit python probes): the SLO under load, and the evidence of each fault.

An evidence probe waits (up to ``within_s``) for a positive sign that the fault is active: a pid
that changed in /components, a counter that moved in /faults or a service's /_faults, a DLQ that
grew, an alarm that fired, CPU seconds burnt. It returns True or False and leaves what it saw in
``ctx.evidence``; "no error seen" is never evidence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chaos.context import Context
from chaos.traffic import judge

POLL_S = 0.5


def until(within_s: float, check: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
    """``check`` again until it holds or ``within_s`` ran out: its last (ok, detail)."""
    deadline = time.monotonic() + within_s
    while True:
        ok, detail = check()
        if ok or time.monotonic() >= deadline:
            return ok, detail
        time.sleep(POLL_S)


def slo_holds(ctx: Context, window_s: float = 5.0, min_requests: int = 10) -> bool:
    """The steady state: the last ``window_s`` of background traffic (at least ``min_requests``) holds
    reference/slo.py (error rate, p95 per group)."""
    if ctx.traffic is None:
        return False
    end = time.time() - settle_s(ctx)  # a request due later may still be in flight: its outcome is not known yet
    verdict = judge(ctx.traffic.samples, end - window_s, end)
    if verdict["requests"] < min_requests:
        verdict |= {"ok": False, "why": f"{verdict['requests']} request(s) in the window, fewer than {min_requests}"}
    ctx.memo["last_slo"] = verdict
    return bool(verdict["ok"])


def settle_s(ctx: Context) -> float:
    """How far back a window must end for every request due in it to have its answer (or its timeout)."""
    return float(getattr(ctx.traffic, "timeout_s", 0.0)) + 1.0


def steady_from(ctx: Context, since: float, limit_s: float, window_s: float = 5.0) -> tuple[float | None, str]:
    """Seconds from ``since`` to the start of the first ``window_s`` window of traffic that holds the SLO (None, and
    why the last window failed, when none began within ``limit_s``); waits until each window's requests are
    answered before judging it."""
    if ctx.traffic is None:
        return None, "no traffic"
    start, why = since, ""
    while start <= since + limit_s:
        while time.time() - settle_s(ctx) < start + window_s:
            time.sleep(0.25)
        result = judge(ctx.traffic.samples, start, start + window_s)
        if result["ok"]:
            return round(start - since, 1), ""
        why = result["why"]
        start += 0.5
    return None, why


def each_back_and_steady(ctx: Context) -> bool:
    """Every component ``kill_each_in_turn`` killed ran again under a new pid, and the traffic held the SLO again
    within the time it was given, before the next kill."""
    kills = ctx.memo.get("each_killed", [])
    seen = [
        f"{k['name']} pid {k['pid']} -> {k['new_pid']}, "
        + (f"steady {k['steady_s']:.1f} s after" if k["steady_s"] is not None else f"NOT steady: {k['why']}")
        for k in kills
    ]
    ok = bool(kills) and all(k["back"] and k["steady_s"] is not None for k in kills)
    return ctx.prove("each-back-and-steady", ok, "; ".join(seen) or "nothing was killed")


def came_back(killed: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether the component ``killed`` (as the kill saw it) is, in ``now`` (its /components entry), alive again
    under a new pid with its restart count up: the proof a kill took effect and was healed."""
    new_pid = now.get("pid") not in (None, killed["pid"])
    return bool(now.get("alive") and new_pid and now.get("restarts", 0) > killed["restarts"])


def restarted(ctx: Context, within_s: float = 20.0) -> bool:
    """Every component killed by this experiment runs again under a new pid, its restart count up."""

    def check() -> tuple[bool, str]:
        now = {c["name"]: c for c in ctx.stack.components()}
        seen, ok = [], True
        for k in ctx.memo.get("killed", []):
            c = now.get(k["name"], {})
            ok &= came_back(k, c)
            seen.append(f"{k['name']} pid {k['pid']} -> {c.get('pid')} (restarts {k['restarts']} -> "
                        f"{c.get('restarts')}, alive {c.get('alive')})")  # fmt: skip
        return ok and bool(seen), "; ".join(seen) or "nothing was killed"

    ok, detail = until(within_s, check)
    return ctx.prove("restarted", ok, detail)


def fault_counter_moved(ctx: Context, target: str, counter: str, at_least: int = 1, within_s: float = 15.0) -> bool:
    """The proxy in front of ``target`` counted ``counter`` (delayed, reset, blackholed...) at least ``at_least``
    more times than before the fault."""
    before = ctx.memo.get("fault_before", {}).get(target, {}).get(counter, 0)

    def check() -> tuple[bool, str]:
        now = ctx.stack.faults().get(target, {})
        moved = now.get("counters", {}).get(counter, 0) - before
        return moved >= at_least, f"{target} proxy ({now.get('mode')}): {counter} +{moved} (want >= {at_least})"

    ok, detail = until(within_s, check)
    return ctx.prove("fault_counter_moved", ok, detail)


def flag_injected(ctx: Context, key: str, services: list[str], at_least: int = 1, within_s: float = 20.0) -> bool:
    """The services that read flag ``key`` injected its fault at least ``at_least`` more times than before."""
    before = ctx.memo.get("flags_before", {}).get(key, {})

    def check() -> tuple[bool, str]:
        total, parts = 0, []
        for service in services:
            now = ctx.stack.service_faults(service).get("flags", {}).get(key, {})
            was = before.get(service, {})
            evaluated = now.get("evaluations", 0) - was.get("evaluations", 0)
            injected = now.get("injected", 0) - was.get("injected", 0)
            total += injected
            parts.append(f"{service} evaluated '{key}' {evaluated} time(s), injected {injected}")
        return total >= at_least, "; ".join(parts) + f" (want >= {at_least} injected)"

    ok, detail = until(within_s, check)
    return ctx.prove("flag_injected", ok, detail)


def breaker_opened(ctx: Context, service: str = "payment", within_s: float = 30.0) -> bool:
    """The service's circuit breaker opened (a counted transition to open in its /_faults) since the fault."""
    before = _opens(ctx.memo.get("breaker_before", {}).get(service, {}))

    most = 0  # the most failures its window held at any check: why it did not open, when it does not

    def check() -> tuple[bool, str]:
        nonlocal most
        doc = ctx.stack.service_faults(service)
        now = _opens(doc)
        moved = {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0) > 0}
        if moved:
            return True, f"{service} breaker: " + ", ".join(f"{k} +{v}" for k, v in moved.items())
        breaker = doc.get("breaker") if isinstance(doc, dict) else None
        if not isinstance(breaker, dict):
            return False, f"{service} breaker: no transition to open (no breaker)"
        window = breaker.get("window") or {}
        most = max(most, int(window.get("failures") or 0))
        held = f"{window.get('calls')} calls, {window.get('failures')} failed now, {most} at most while waiting"
        counted = sorted(now) or "none counted"
        return False, f"{service} breaker: no transition to open ({counted}; {breaker.get('state')}, its window {held})"

    ok, detail = until(within_s, check)
    return ctx.prove("breaker_opened", ok, detail)


def _opens(doc: Any, path: str = "") -> dict[str, int]:
    """Every numeric counter under a ``breaker`` key whose path names an opening (``...open...``)."""
    found: dict[str, int] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            here = f"{path}.{k}" if path else str(k)
            found |= _opens(v, here)
    elif isinstance(doc, int | float) and not isinstance(doc, bool) and "breaker" in path and _opening(path):
        found[path] = int(doc)
    return found


def _opening(path: str) -> bool:
    """``transitions.open``, ``opened``, ``closed_to_open``: a move to open (not ``half_open``, a probe call)."""
    last = path.rsplit(".", 1)[-1].lower()
    return last in ("open", "opened", "opens") or last.endswith(("_to_open", "->open"))


def dlq_grew(ctx: Context, queue: str, at_least: int = 1, within_s: float = 200.0) -> bool:
    """The DLQ of ``queue`` holds at least ``at_least`` more dead letters than before the poison."""
    from services.common.dlq import DeadLetters

    letters = DeadLetters(ctx.stack.stage, ctx.stack.region)
    pair = letters.pair(queue)
    before = ctx.memo.get("poison", {}).get("dlq_before", 0)

    def check() -> tuple[bool, str]:
        dead = letters.depth(pair.dlq_url)[0]
        return dead - before >= at_least, f"{queue}-dlq: {before} -> {dead} dead letter(s) (want +{at_least})"

    ok, detail = until(within_s, check)
    return ctx.prove("dlq_grew", ok, detail)


def alarm_fired(ctx: Context, contains: str, within_s: float = 60.0) -> bool:
    """An alarm of the local CloudWatch whose name contains ``contains`` went to ALARM."""

    def check() -> tuple[bool, str]:
        firing = {n: r for n, r in ctx.stack.alarms_in_alarm().items() if contains in n}
        if firing:
            name, reason = next(iter(sorted(firing.items())))
            return True, f"alarm {name} in ALARM: {reason[:120]}"
        return False, f"no alarm matching '{contains}' in ALARM"

    ok, detail = until(within_s, check)
    return ctx.prove("alarm_fired", ok, detail)


def stress_burned(ctx: Context, at_least_cpu_s: float = 2.0, within_s: float = 30.0) -> bool:
    """The busy processes burnt at least ``at_least_cpu_s`` of CPU (in the replica's cgroup when it has one)."""
    import psutil

    stress = ctx.memo.get("stress", {})

    def check() -> tuple[bool, str]:
        total = 0.0
        for pid in stress.get("pids", []):
            try:
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        where = f" in {stress['cgroup']}" if stress.get("cgroup") else " (no CPU quota on the replica)"
        return total >= at_least_cpu_s, f"busy processes {stress.get('pids')} burnt {total:.1f} CPU-s{where}"

    ok, detail = until(within_s, check)
    return ctx.prove("stress_burned", ok, detail)


def proxy_saw_traffic(ctx: Context, at_least: int = 1, within_s: float = 5.0) -> bool:
    """The experiment's own proxy accepted at least ``at_least`` connections (a client goes through it)."""
    held = ctx.memo.get("proxy", {})

    def check() -> tuple[bool, str]:
        accepted = held["proxy"].counters.get("accepted", 0) if held else 0
        return accepted >= at_least, (
            f"the proxy on :{held.get('port')} in front of {held.get('target')} accepted {accepted} connection(s): "
            "no client connects through it"
            if accepted < at_least
            else f"the proxy on :{held.get('port')} accepted {accepted} connection(s)"
        )

    ok, detail = until(within_s, check)
    return ctx.prove("proxy_saw_traffic", ok, detail)
