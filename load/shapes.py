"""Locust's LoadTestShape classes: a table of ``load/stages.py`` played, and the knee finder."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from locust import LoadTestShape

from load.stages import SHAPES, plan


class TableShape(LoadTestShape):
    """Plays one of ``SHAPES`` (``LOAD_SHAPE``) with ``LOAD_USERS`` at the top for ``LOAD_SECONDS``."""

    def __init__(self) -> None:
        super().__init__()
        fixed = int(os.environ.get("LOAD_FIXED_USERS", "0"))
        self.stages = plan(SHAPES[os.environ.get("LOAD_SHAPE", "ramp")], int(os.environ.get("LOAD_USERS", "20")),
                           float(os.environ.get("LOAD_SECONDS", "60")), fixed)  # fmt: skip

    def tick(self) -> tuple[int, float] | None:
        now = self.get_run_time()
        for end, users, rate in self.stages:
            if now < end:
                return users, rate
        return None


class KneeShape(LoadTestShape):
    """Adds ``LOAD_STEP_USERS`` every ``LOAD_HOLD_S`` seconds and judges each step's second half against the
    SLOs; stops at the first step that breaks one (or at ``LOAD_MAX_USERS``) and writes every step, with the
    last one that held, to ``LOAD_KNEE_FILE``."""

    def __init__(self) -> None:
        super().__init__()
        self.step = int(os.environ.get("LOAD_STEP_USERS", "10"))
        self.hold = float(os.environ.get("LOAD_HOLD_S", "20"))
        self.most = int(os.environ.get("LOAD_MAX_USERS", "400"))
        self.fixed = int(os.environ.get("LOAD_FIXED_USERS", "0"))
        self.out = Path(os.environ.get("LOAD_KNEE_FILE", "knee.json"))
        self.steps: list[dict[str, Any]] = []
        self.level, self.mark, self.done = 1, None, False

    def tick(self) -> tuple[int, float] | None:
        from load.gates import active_slo, judge, window_of

        if self.done:
            return None
        now = self.get_run_time()
        users = self.level * self.step
        if self.mark is None and now >= (self.level - 0.5) * self.hold:  # the step has settled: start judging
            self.mark = (window_of(self.runner.environment, now), time.time())
        if now >= self.level * self.hold and self.mark is not None:
            window = window_of(self.runner.environment, now).minus(self.mark[0])
            checks = judge(active_slo(), window)
            held = all(c.held for c in checks)
            rps = window.shoppers().requests / window.seconds if window.seconds else 0.0
            self.steps.append({"users": users, "rps": round(rps, 1), "held": held, "from": self.mark[1],
                               "to": time.time(), "broken": [c.sentence() for c in checks if not c.held]})  # fmt: skip
            print(f"knee: {users} users, {rps:.1f} req/s: " + ("held" if held else "BROKEN " + "; ".join(
                self.steps[-1]["broken"])), flush=True)  # fmt: skip
            self.out.write_text(json.dumps({"steps": self.steps}, indent=2))
            if not held or users + self.step > self.most:
                self.done = True
                return None
            self.level, self.mark = self.level + 1, None
            users = self.level * self.step
        return users + self.fixed, float(self.step)
