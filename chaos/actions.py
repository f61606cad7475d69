"""What experiments do to the stack (Chaos Toolkit python actions): kill, slow down, break, poison, stress.

Each action notes its "before" in ``ctx.memo`` (the pid it killed, the counters before the fault)
so that a probe of chaos/probes.py can show the fault took effect. Rollbacks are actions too and
are safe to run when the fault was never set (the runner always runs them).
"""

from __future__ import annotations

import json
import math
import os
import signal as signals
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from chaos.context import Context
from chaos.stack import StackError

STRESS = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


def _alive(ctx: Context, kind: str | None = None, service: str | None = None, name: str | None = None) -> list[dict]:
    found = [
        c for c in ctx.stack.components()
        if c.get("alive") and c.get("pid")
        and (kind is None or c["kind"] == kind) and (service is None or c.get("service") == service)
        and (name is None or c["name"] == name)
    ]  # fmt: skip
    return sorted(found, key=lambda c: c["name"])


def _kill(ctx: Context, victims: list[dict], signal: str) -> list[dict[str, Any]]:
    killed = ctx.memo.setdefault("killed", [])
    for c in victims:
        try:  # its process group: a component's children go with it (PostgreSQL's backends)
            os.killpg(int(c["pid"]), getattr(signals, signal))
        except ProcessLookupError:  # not a group leader
            os.kill(int(c["pid"]), getattr(signals, signal))
        killed.append({"name": c["name"], "pid": c["pid"], "restarts": c.get("restarts", 0), "at": time.time()})
        ctx.say(f"      {signal} -> {c['name']} (pid {c['pid']})")
    return killed


def kill_component(
    ctx: Context, name: str | None = None, service: str | None = None, kind: str | None = None, signal: str = "SIGKILL"
) -> list[dict[str, Any]]:
    """Send ``signal`` to one live component of /components: by ``name``, or the first replica of ``service``."""
    victims = _alive(ctx, kind=kind, service=service, name=name)[:1]
    if not victims:
        raise StackError(f"no live component matches name={name} service={service} kind={kind}")
    return _kill(ctx, victims, signal)


def kill_each_in_turn(
    ctx: Context,
    kinds: list[str] | None = None,
    names: list[str] | None = None,
    recover_within_s: float = 30.0,
    window_s: float = 5.0,
) -> list[dict[str, Any]]:
    """Kill each live component of ``kinds``, and those of ``names``, in turn with SIGKILL; before the next kill,
    wait (up to ``recover_within_s`` from the kill) for it to run under a new pid and for the traffic to hold the
    SLO again. What each kill led to is in ``memo["each_killed"]`` for ``probes.each_back_and_steady``."""
    from chaos.probes import came_back, steady_from, until

    wanted, named = set(kinds or ["service"]), set(names or [])
    victims = sorted(c["name"] for c in _alive(ctx) if c["kind"] in wanted or c["name"] in named)
    if not victims:
        raise StackError(f"nothing alive of kinds {sorted(wanted)} or {sorted(named)}")
    done = ctx.memo.setdefault("each_killed", [])
    for name in victims:
        killed = kill_component(ctx, name=name)[-1]  # the list of every kill so far: this one is the last

        def back(k: dict[str, Any] = killed) -> tuple[bool, str]:
            c = next((c for c in ctx.stack.components() if c["name"] == k["name"]), {})
            return came_back(k, c), str(c.get("pid"))

        is_back, new_pid = until(recover_within_s, back)
        steady_s, why = steady_from(ctx, killed["at"], recover_within_s, window_s) if is_back else (None, "not back")
        done.append(killed | {"back": is_back, "new_pid": new_pid, "steady_s": steady_s, "why": why})
        ctx.say(f"      {name}: pid {killed['pid']} -> {new_pid}, " + (
            f"steady {steady_s:.1f} s after the kill" if steady_s is not None else f"NOT steady: {why}"))  # fmt: skip
    return done


def kill_fraction(ctx: Context, kind: str = "service", fraction: float = 0.5, signal: str = "SIGKILL") -> list[dict]:
    """Kill ``fraction`` of the live components of ``kind`` at once (every other one by name: spread, repeatable)."""
    alive = _alive(ctx, kind=kind)
    count = math.ceil(len(alive) * fraction)
    if not count:
        raise StackError(f"no live component of kind {kind}")
    step = len(alive) / count
    return _kill(ctx, [alive[int(i * step)] for i in range(count)], signal)


def set_fault(ctx: Context, target: str, mode: str = "pass", latency_ms: float = 0) -> dict[str, Any]:
    """Put the fault proxy in front of ``target`` (postgres, valkey, aws) into ``mode`` with ``latency_ms``."""
    faults = ctx.stack.faults()
    if target not in faults:
        raise StackError(f"no fault proxy {target!r} (have: {', '.join(faults) or 'none'}): start with --fault-proxies")
    ctx.memo.setdefault("fault_before", {})[target] = dict(faults[target].get("counters", {}))
    return ctx.stack.set_fault(target, mode, latency_ms)


def clear_fault(ctx: Context, target: str) -> dict[str, Any] | None:
    """Rollback: the proxy in front of ``target`` passes bytes again, without latency."""
    if target not in ctx.stack.faults():
        return None
    return ctx.stack.set_fault(target, "pass", 0)


def set_flag(ctx: Context, key: str, value: Any, services: list[str]) -> dict[str, Any]:
    """Turn a fault flag on in the flags file (flagd format, atomic); ``services`` are the ones that read it."""
    ctx.memo.setdefault("flags_before", {})[key] = {s: _flag_counts(ctx, s, key) for s in services}
    ctx.stack.set_flag(key, value)
    return {"flag": key, "value": value, "file": str(ctx.stack.flags_file)}


def clear_flag(ctx: Context, key: str) -> None:
    """Rollback: the flag is off again (removed from the file)."""
    ctx.stack.clear_flag(key)


def _flag_counts(ctx: Context, service: str, key: str) -> dict[str, int]:
    flags = ctx.stack.service_faults(service).get("flags", {})
    return {"evaluations": 0, "injected": 0} | dict(flags.get(key, {}))


def remember_breaker(ctx: Context, service: str = "payment") -> dict[str, Any]:
    """Note the service's circuit-breaker counters (``/_faults``) before the fault."""
    before = ctx.stack.service_faults(service)
    ctx.memo.setdefault("breaker_before", {})[service] = before
    return before


def cpu_stress(ctx: Context, service: str, seconds: float, workers: int = 1) -> list[int]:
    """Busy processes beside ``service``'s first replica for ``seconds``: inside its CPU cgroup when it has one
    (a pod's quota, localcloud/cgroups.py): they compete for the replica's own share, as stress-ng in the pod would."""
    target = _alive(ctx, service=service, kind="service")
    if not target:
        raise StackError(f"no live replica of {service}")
    group = _cgroup_of(int(target[0]["pid"]))
    pids = []
    for _ in range(workers):
        proc = subprocess.Popen([sys.executable, "-c", STRESS.format(seconds=float(seconds))])
        if group is not None:
            try:
                (group / "cgroup.procs").write_text(str(proc.pid))
            except OSError as exc:
                ctx.say(f"      could not move the stress into {group}: {exc}")
        ctx.cleanup.append(proc)
        pids.append(proc.pid)
    ctx.memo["stress"] = {"pids": pids, "service": service, "cgroup": str(group) if group else None, "at": time.time()}
    ctx.say(f"      {workers} busy process(es) {pids} beside {target[0]['name']}" + (f" in {group}" if group else ""))
    return pids


def stop_stress(ctx: Context) -> int:
    """Rollback: end the busy processes (they also end by themselves when their time is up)."""
    import psutil

    stress = ctx.memo.get("stress", {})
    seconds = 0.0
    for pid in stress.get("pids", []):
        try:
            proc = psutil.Process(pid)
            times = proc.cpu_times()
            seconds += times.user + times.system
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    stress["cpu_s"] = stress.get("cpu_s") or seconds
    return len(stress.get("pids", []))


def _cgroup_of(pid: int) -> Path | None:
    """The CPU cgroup folder of ``pid`` when it has a quota (v2 ``cpu.max`` not "max", v1 ``cfs_quota_us`` > 0)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        base = Path("/sys/fs/cgroup") if controllers == "" else Path("/sys/fs/cgroup/cpu")
        if controllers not in ("", "cpu", "cpu,cpuacct", "cpuacct,cpu"):
            continue
        folder = base / path.lstrip("/")
        for limit in ("cpu.max", "cpu.cfs_quota_us"):
            try:
                text = (folder / limit).read_text().split()[0]
            except (OSError, IndexError):
                continue
            if text not in ("max", "-1"):
                return folder
    return None


def poison(ctx: Context, queue: str, count: int = 3) -> dict[str, Any]:
    """Send ``count`` poison messages (not an event envelope) to ``queue``: its consumer fails them until SQS
    moves them to the DLQ after ``maxReceiveCount`` receives."""
    from services.common.dlq import DeadLetters

    letters = DeadLetters(ctx.stack.stage, ctx.stack.region)
    pair = letters.pair(queue)
    marker = f"chaos-{uuid.uuid4().hex[:8]}"
    before = letters.depth(pair.dlq_url)[0]
    for n in range(count):
        body = json.dumps({"poison": f"{marker}-{n}", "note": "injected by a chaos experiment"})
        letters.sqs.send_message(QueueUrl=pair.url, MessageBody=body)
    ctx.memo["poison"] = {"queue": queue, "marker": marker, "count": count, "dlq_before": before}
    return ctx.memo["poison"]


def settle_poison(ctx: Context, queue: str) -> dict[str, int]:
    """Rollback: take this experiment's poison out of the DLQ (redriving it unchanged would only loop it back),
    then redrive every other dead letter of ``queue`` to its queue, as an operator would after a fix."""
    from services.common.dlq import DeadLetters

    marker = ctx.memo.get("poison", {}).get("marker")
    letters = DeadLetters(ctx.stack.stage, ctx.stack.region)
    pair = letters.pair(queue)
    removed = kept = 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        got = letters.sqs.receive_message(QueueUrl=pair.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                          WaitTimeSeconds=0).get("Messages", [])  # fmt: skip
        if not got:
            break
        for m in got:
            if marker and marker in m["Body"]:
                letters.sqs.delete_message(QueueUrl=pair.dlq_url, ReceiptHandle=m["ReceiptHandle"])
                removed += 1
            else:  # not ours: visible again for the redrive below
                letters.sqs.change_message_visibility(QueueUrl=pair.dlq_url, ReceiptHandle=m["ReceiptHandle"],
                                                      VisibilityTimeout=0)  # fmt: skip
                kept += 1
        if kept:
            break
    redriven = letters.redrive(queue) if kept else 0
    ctx.memo.setdefault("poison", {})["settled"] = {"removed": removed, "redriven": redriven}
    return {"removed": removed, "redriven": redriven}


def misplaced_proxy(ctx: Context, target: str = "postgres", mode: str = "blackhole") -> int:
    """Deliberately wrong: a fault proxy of our own in front of ``target``'s port, on a port no client uses."""
    import asyncio
    import threading
    from urllib.parse import urlsplit

    from localcloud.faultproxy import FaultProxy, Mode

    url = {"postgres": "DATABASE_URL", "valkey": "REDIS_URL", "aws": "AWS_ENDPOINT_URL"}[target]
    parts = urlsplit(ctx.stack.env[url])
    proxy = FaultProxy(parts.hostname or "127.0.0.1", int(parts.port or 0))
    proxy.set(Mode(mode))
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(10)
    ctx.memo["proxy"] = {"proxy": proxy, "loop": loop, "target": target, "port": proxy.port}
    ctx.cleanup.append(lambda: _stop_proxy(ctx))
    ctx.say(f"      a {mode} proxy on :{proxy.port} in front of {target} ({parts.hostname}:{parts.port})")
    return proxy.port


def remove_proxy(ctx: Context) -> None:
    """Rollback of ``misplaced_proxy``."""
    _stop_proxy(ctx)


def _stop_proxy(ctx: Context) -> None:
    import asyncio

    held = ctx.memo.get("proxy")
    if not held or held.get("stopped"):
        return
    asyncio.run_coroutine_threadsafe(held["proxy"].stop(), held["loop"]).result(10)
    held["loop"].call_soon_threadsafe(held["loop"].stop)
    held["stopped"] = True


def heal_check(ctx: Context, within_s: float = 30.0) -> list[str]:
    """Rollback of a kill: nothing to undo (the local cloud restarts what died); waits until every component
    of /components is alive again and says which are not."""
    deadline = time.monotonic() + within_s
    while True:
        dead = [c["name"] for c in ctx.stack.components() if not c.get("alive")]
        if not dead or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if dead:
        raise StackError(f"still dead {within_s:.0f} s after the kill: {', '.join(dead)}")
    return dead
