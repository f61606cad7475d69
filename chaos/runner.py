"""Runs one experiment the way Chaos Toolkit does with ``--rollback-strategy always``, plus the proof and the ledger.

1. steady state before: the hypothesis must hold under the background traffic (else: failed, no fault);
2. the method in order, with its pauses (the hold); a verification probe that fails stops it:
   "the fault never took effect"; an alarm going to ALARM that the experiment did not expect stops it
   too (the stop condition: aborted);
3. the rollbacks, always, whatever happened; one that raises fails the experiment;
4. recovery: the first window after the rollback in which the traffic holds the SLO again, and
   how long after the rollback it began (must be within the experiment's ``recovery_s``);
5. the ledger over the experiment (load/ledger): no order lost, doubled or oversold, every event
   consumed once or in a DLQ.

Everything that happened is written to the experiment's journal (``journal.json``), and the
verdict is then taken from the journal as written (``verdict``), not from memory.
"""

from __future__ import annotations

import importlib
import inspect
import json
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chaos.context import Context
from chaos.experiment import Activity, Experiment
from chaos.probes import steady_from

NEVER_TOOK_EFFECT = "the fault never took effect"
GUARD_EVERY_S = 2.0
WARMUP_S = 30.0
CHECKS = ("steady state before", "fault took effect", "no unexpected alarm", "rolled back", "recovered", "ledger")


class Aborted(Exception):
    """A stop condition fired: an alarm the experiment did not expect."""


class Guard:
    """The stop conditions: alarms in ALARM now that were not at the start and that the experiment does not expect."""

    def __init__(self, ctx: Context, expected: tuple[str, ...]):
        self.ctx, self.expected = ctx, expected
        self.baseline = self._alarms() or {}
        self.fired: dict[str, str] = {}
        self._last = 0.0

    def _alarms(self) -> dict[str, str] | None:
        try:
            return self.ctx.stack.alarms_in_alarm()
        except Exception as exc:  # noqa: BLE001 - unreadable alarms are said, not fatal
            self.ctx.say(f"      (alarms not readable: {type(exc).__name__})")
            return None

    def check(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last < GUARD_EVERY_S:
            return
        self._last = time.monotonic()
        now = self._alarms() or {}
        for name, reason in now.items():
            if name not in self.baseline and name not in self.fired:
                self.fired[name] = reason
                expected = any(e in name for e in self.expected)
                self.ctx.say(f"      alarm {name} -> ALARM ({'expected' if expected else 'UNEXPECTED'})")
        unexpected = [n for n in self.fired if not any(e in n for e in self.expected)]
        if unexpected:
            raise Aborted(f"stop condition: alarm {', '.join(unexpected)} fired, which this experiment does not expect")

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(0.5, left))
            self.check()


def call(activity: Activity, ctx: Context) -> Any:
    """Call an activity's python function with its arguments (and ``ctx`` when it takes one)."""
    func = getattr(importlib.import_module(activity.module), activity.func)
    kwargs = dict(activity.arguments)
    if "ctx" in inspect.signature(func).parameters:
        kwargs["ctx"] = ctx
    return func(**kwargs)


def within_tolerance(value: Any, tolerance: Any) -> bool:
    """The toolkit's simple tolerances: a bool, a number or a string must equal; a list [lo, hi] is a range."""
    if isinstance(tolerance, list) and len(tolerance) == 2 and all(isinstance(x, int | float) for x in tolerance):
        return isinstance(value, int | float) and tolerance[0] <= value <= tolerance[1]
    return value == tolerance


def hypothesis_holds(
    experiment: Experiment, ctx: Context, journal: list[dict[str, Any]], phase: str
) -> tuple[bool, str]:
    for probe in experiment.hypothesis:
        value = call(probe, ctx)
        ok = within_tolerance(value, probe.tolerance)
        journal.append({"phase": phase, "name": probe.name, "type": "probe", "output": value, "tolerance_met": ok,
                        "at": time.time(), "detail": ctx.memo.get("last_slo")})  # fmt: skip
        if not ok:
            return False, f"{probe.name}: {ctx.memo.get('last_slo', {}).get('why') or value}"
    return True, ""


def run(
    experiment: Experiment,
    ctx: Context,
    out: Path,
    *,
    ledger: Callable[[float, float, int], dict[str, Any]] | None = None,
    warmup_s: float = WARMUP_S,
) -> dict[str, Any]:
    """Run ``experiment`` against ``ctx``'s stack (its traffic already started); write and return its verdict."""
    say = ctx.say
    ext = experiment.extension
    journal: list[dict[str, Any]] = []
    record: dict[str, Any] = {"name": experiment.name, "title": experiment.title, "started": time.time(),
                              "journal": journal, "problems": [], "status": "running"}  # fmt: skip
    problems: list[str] = record["problems"]

    say(f"  steady state before (up to {warmup_s:.0f} s)")
    deadline = time.monotonic() + warmup_s
    while True:
        ok, why = hypothesis_holds(experiment, ctx, journal, "before")
        if ok or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    record["steady_before"] = ok
    guard = Guard(ctx, ext.expected_alarms)
    record["fault_start"] = time.time()
    if not ok:
        problems.append(f"steady state did not hold before the fault: {why}")
    else:
        _method(experiment, ctx, guard, journal, problems, record)
    record["fault_end"] = _rollbacks(experiment, ctx, journal, problems)
    record["recover_from"] = ext.recover_from
    since = record["fault_start"] if ext.recover_from == "injection" else record["fault_end"]
    say(f"  rolled back; waiting for steady state (within {ext.recovery_s:.0f} s of the {ext.recover_from})")
    record["recovery_s"], record["recovery_why"] = recovery(experiment, ctx, since, ext.recovery_s)
    try:
        guard.check(force=True)
    except Aborted as exc:
        if not record.get("aborted"):
            record["late_alarm"] = str(exc)
    record["alarms_fired"] = guard.fired
    record["alarms_expected"] = list(ext.expected_alarms)
    if record["recovery_s"] is None:
        problems.append(f"did not return to steady state within {ext.recovery_s:.0f} s of the {ext.recover_from}: "
                        f"{record['recovery_why']}")  # fmt: skip
    else:
        say(f"  steady again {record['recovery_s']:.1f} s after the {ext.recover_from}")
    for item in ctx.cleanup:
        _close(item)
    if hasattr(ctx.traffic, "stop"):  # the ledger judges a finished window: no new checkout starts in it
        ctx.traffic.stop()
    record["ended"] = time.time()
    if ledger is not None:
        say("  ledger")
        try:
            record["ledger"] = ledger(record["started"], record["ended"], ext.expected_dead)
        except Exception as exc:  # noqa: BLE001 - an unreadable ledger fails this experiment, not the run
            record["ledger"] = {"ok": False, "violated": {"unreadable": f"{type(exc).__name__}: {exc}"}}
        if not record["ledger"].get("ok"):
            problems.append(f"the ledger found violations: {record['ledger'].get('violated')}")
    record["evidence"] = [e.__dict__ for e in ctx.evidence]
    out.mkdir(parents=True, exist_ok=True)
    (out / "journal.json").write_text(json.dumps(record, indent=2, default=str))
    return verdict(json.loads((out / "journal.json").read_text()))


def _method(
    experiment: Experiment, ctx: Context, guard: Guard, journal: list[dict], problems: list[str], record: dict
) -> None:
    for activity in experiment.method:
        try:
            guard.sleep(activity.pause_before)
            ctx.say(f"  {activity.type} {activity.name}")
            started = time.time()
            value = call(activity, ctx)
            entry = {"phase": "method", "name": activity.name, "type": activity.type, "at": started,
                     "took_s": round(time.time() - started, 2), "output": _plain(value)}  # fmt: skip
            journal.append(entry)
            if activity.verifies:
                entry["tolerance_met"] = within_tolerance(value, activity.tolerance)
                if not entry["tolerance_met"]:
                    seen = ctx.evidence[-1].detail if ctx.evidence else repr(value)
                    problems.append(f"{NEVER_TOOK_EFFECT}: {activity.name}: {seen}")
                    record["ineffective"] = True
                    return
            guard.check(force=True)
            if activity.pause_after:
                ctx.say(f"  hold {activity.pause_after:.0f} s")
            guard.sleep(activity.pause_after)
        except Aborted as exc:
            problems.append(str(exc))
            record["aborted"] = True
            return
        except Exception as exc:  # noqa: BLE001 - a failed action is the experiment's failure, rollbacks still run
            journal.append({"phase": "method", "name": activity.name, "type": activity.type, "at": time.time(),
                            "exception": traceback.format_exception_only(exc)[-1].strip()})  # fmt: skip
            problems.append(f"{activity.type} {activity.name} failed: {exc}")
            return


def _rollbacks(experiment: Experiment, ctx: Context, journal: list[dict], problems: list[str]) -> float:
    for activity in experiment.rollbacks:
        ctx.say(f"  rollback {activity.name}")
        try:
            value = call(activity, ctx)
            journal.append({"phase": "rollback", "name": activity.name, "type": activity.type, "at": time.time(),
                            "output": _plain(value)})  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - a failed rollback fails the experiment (and the run)
            journal.append({"phase": "rollback", "name": activity.name, "type": activity.type, "at": time.time(),
                            "exception": traceback.format_exception_only(exc)[-1].strip()})  # fmt: skip
            problems.append(f"rollback {activity.name} failed: {exc}")
    return time.time()


def recovery(experiment: Experiment, ctx: Context, since: float, limit_s: float) -> tuple[float | None, str]:
    """Seconds from ``since`` to the start of the first window (the hypothesis' ``window_s``) that holds the SLO."""
    window = next((float(p.arguments.get("window_s", 5)) for p in experiment.hypothesis if p.func == "slo_holds"), 5.0)
    return steady_from(ctx, since, limit_s, window)


def verdict(journal: dict[str, Any]) -> dict[str, Any]:
    """The experiment's checks and status, from its journal alone."""
    problems = journal.get("problems", [])
    method = [e for e in journal.get("journal", []) if e.get("phase") == "method"]
    verifications = [e for e in method if "tolerance_met" in e]
    checks = {
        "steady state before": bool(journal.get("steady_before")),
        "fault took effect": bool(verifications) and all(e["tolerance_met"] for e in verifications),
        "no unexpected alarm": not journal.get("aborted"),
        "rolled back": not any(e.get("exception") for e in journal.get("journal", []) if e.get("phase") == "rollback"),
        "recovered": journal.get("recovery_s") is not None,
        "ledger": bool((journal.get("ledger") or {"ok": True}).get("ok")),
    }
    if any(e.get("exception") for e in method):
        checks["fault took effect"] = False
    status = "passed" if all(checks.values()) and not problems else "aborted" if journal.get("aborted") else "failed"
    return journal | {"checks": checks, "status": status}


def score(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Over a run: experiments passed, and a resilience score (0-100), the share of every experiment's checks
    that held, each experiment weighing the same (Litmus' probe success percentage, averaged)."""
    if not results:
        return {"passed": 0, "total": 0, "score": 0.0}
    shares = [sum(r["checks"].values()) / len(r["checks"]) for r in results]
    return {
        "passed": sum(1 for r in results if r["status"] == "passed"),
        "total": len(results),
        "score": round(100 * sum(shares) / len(shares), 1),
    }


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


def _close(item: Any) -> None:
    try:
        if callable(item):
            item()
        elif hasattr(item, "poll") and item.poll() is None:
            item.kill()
            item.wait(5)
    except Exception:  # noqa: BLE001, S110 - cleanup of what may already be gone
        pass
