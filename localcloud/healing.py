"""Healing like EKS: a component of the local stack that exits on its own is started again, with back-off.

On EKS the kubelet restarts a pod's container that exits (``restartPolicy: Always``) after a back-off
that starts at 10 s and doubles up to 5 minutes, and forgets it once the container has run for 10
minutes; the pod's readiness probe keeps traffic away until it answers again. Locally the same
shape, on a shorter clock (a laptop's stack should be back within seconds, not minutes):

=======================  =====================================  ==========================================
                         kubelet (EKS)                          here (``Backoff``)
=======================  =====================================  ==========================================
first restart after      10 s                                   0.5 s
then                     doubling: 20 s, 40 s ...               doubling: 1, 2, 4 s ...
at most                  5 min                                  8 s
reset after running      10 min                                 60 s
=======================  =====================================  ==========================================

Each ``Component`` knows how to start itself again (``respawn``, called on the main thread: a child's
parent-death signal belongs to the thread that forked it, localcloud/processes.py). What "again"
means is the AWS part's own behaviour: a service replica on the same listening socket (its readiness
then gates HAProxy's traffic), PostgreSQL on its data directory, Valkey as an empty replacement node,
the emulator restored from the snapshot taken once the stack was seeded (see docs/local-cloud.md).
Every exit and restart is said on the console and counted (``Healer.report``, served by
localcloud/control.py as ``GET /components``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localcloud.processes import Child


@dataclass(frozen=True)
class Backoff:
    """kubelet's CrashLoopBackOff on a local clock: ``initial_s`` doubling up to ``max_s``, forgotten after
    ``reset_after_s`` of running."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 8.0
    reset_after_s: float = 60.0

    def delay(self, crashes_in_a_row: int) -> float:
        """The wait before restart number ``crashes_in_a_row`` (1 for the first)."""
        return min(self.initial_s * self.factor ** max(crashes_in_a_row - 1, 0), self.max_s)

    def schedule(self, n: int = 6) -> list[float]:
        return [self.delay(i) for i in range(1, n + 1)]


KINDS = ("service", "backend", "worker", "balancer", "frontdoor")


@dataclass
class Component:
    """A supervised child: its current process and how to start it again (None: not restarted)."""

    name: str
    kind: str  # one of KINDS
    child: Child
    respawn: Callable[[], Child] | None = None
    service: str | None = None
    restarts: int = 0
    last_exit: int | None = None
    last_restart: float | None = None  # unix time
    crashes_in_a_row: int = 0
    started: float = field(default_factory=time.monotonic)
    due: float | None = None  # monotonic time of the next restart attempt, while it is down

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "service": self.service,
            "pid": self.child.pid,
            "alive": self.child.alive(),
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "last_restart": self.last_restart,
        }


class Healer:
    """Watches components and restarts those that exit; ``tick`` runs on the main thread, ``report`` anywhere."""

    def __init__(self, say: Callable[[str], None], backoff: Backoff | None = None):
        self.say = say
        self.backoff = backoff or Backoff()
        self.components: list[Component] = []
        self.on_tick: list[Callable[[], object]] = []  # after each tick, on the main thread (localcloud/zygote.py)
        self._lock = threading.Lock()

    def add(self, component: Component) -> Component:
        with self._lock:
            self.components.append(component)
        return component

    def find(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)

    def report(self) -> list[dict[str, Any]]:
        with self._lock:
            return [c.view() for c in self.components]

    def tick(self, now: float | None = None) -> None:
        """Notice exits and restart what is due; never raises for a component that fails to start again."""
        now = time.monotonic() if now is None else now
        for c in list(self.components):
            if c.due is None:
                if c.child.alive():
                    if c.crashes_in_a_row and now - c.started >= self.backoff.reset_after_s:
                        c.crashes_in_a_row = 0  # it has run long enough: the next crash starts the back-off anew
                    continue
                self._exited(c, now)
            if c.due is not None and now >= c.due:
                self._restart(c, now)
        for hook in self.on_tick:
            hook()

    def _exited(self, c: Component, now: float) -> None:
        code = c.child.popen.returncode
        with self._lock:
            c.last_exit = code
            c.crashes_in_a_row += 1
        if c.respawn is None:
            self.say(f"  heal       {c.name} exited with code {code}; it is not restarted (not ours to restart)")
            c.due = float("inf")
            return
        wait = self.backoff.delay(c.crashes_in_a_row)
        c.due = now + wait
        if c.crashes_in_a_row > 1:  # its log was shown at the first crash of the row
            self.say(f"  heal       {c.name} exited with code {code}; restarting in {wait:.1f} s "
                     f"(crash {c.crashes_in_a_row} in a row; log {c.child.log})")  # fmt: skip
            return
        self.say(f"  heal       {c.name} exited with code {code}; restarting in {wait:.1f} s; last lines of "
                 f"{c.child.log}:")  # fmt: skip
        for line in c.child.log_tail(3).splitlines():
            self.say(f"             | {line[:160]}")

    def _restart(self, c: Component, now: float) -> None:
        assert c.respawn is not None
        c.child.stop(timeout_s=2.0)  # reap it, and kill what it left in its group (postgres backends...)
        try:
            child = c.respawn()
        except Exception as exc:  # noqa: BLE001 - a failed restart is retried later, like a crash
            with self._lock:
                c.crashes_in_a_row += 1
            wait = self.backoff.delay(c.crashes_in_a_row)
            c.due = now + wait
            self.say(f"  heal       {c.name} did not start again ({type(exc).__name__}: {exc}); "
                     f"next try in {wait:.1f} s")  # fmt: skip
            return
        with self._lock:
            c.child = child
            c.restarts += 1
            c.last_restart = time.time()
            c.started = time.monotonic()
            c.due = None
        self.say(f"  heal       {c.name} restarted (pid {child.pid}, restart {c.restarts})")

    def down(self) -> list[str]:
        """Names of the components not running right now."""
        return [c.name for c in self.components if not c.child.alive()]
