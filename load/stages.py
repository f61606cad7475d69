"""Load shapes as tables of stages: ramp, step, spike, soak (their Locust classes: load/shapes.py).

A stage ends at a share of the run's duration and holds a share of its peak users; ``ramp``
stages climb to their users over the stage, the others get there at once. ``python -m load
--shape spike --users 40 --seconds 120`` plays SPIKE with 40 users at the top for two minutes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stage:
    until: float  # share of the run's duration at which the stage ends
    users: float  # share of the peak users
    ramp: bool = False  # climb over the stage (else: at once)


SHAPES: dict[str, tuple[Stage, ...]] = {
    "ramp": (Stage(0.3, 1.0, ramp=True), Stage(1.0, 1.0)),
    "step": (Stage(0.25, 0.25), Stage(0.5, 0.5), Stage(0.75, 0.75), Stage(1.0, 1.0)),
    "spike": (Stage(0.4, 0.2, ramp=True), Stage(0.55, 1.0), Stage(1.0, 0.2)),
    "soak": (Stage(0.1, 0.6, ramp=True), Stage(1.0, 0.6)),
}


def plan(stages: tuple[Stage, ...], users: int, seconds: float, fixed: int = 0) -> list[tuple[float, int, float]]:
    """The table in absolute terms: (end second, users, spawn rate) per stage; ``fixed`` users come on top."""
    out, before, start = [], 0, 0.0
    for stage in stages:
        end = stage.until * seconds
        target = max(1, round(stage.users * users)) + fixed
        rate = max(1.0, abs(target - before) / max(end - start, 1.0)) if stage.ramp else float(max(target, 1))
        out.append((end, target, rate))
        before, start = target, end
    return out
