"""The mixed run: every journey of ``load/journeys`` by its weight, a shape from ``load/shapes.py``, SLO gates.

Configured by ``python -m load`` through LOAD_* variables: LOAD_JOURNEYS (name=weight,...),
LOAD_SHAPE (ramp, step, spike, soak, knee or none), LOAD_VERDICT_FILE, LOAD_GATE_INTERVAL_S,
LOAD_FAIL_FAST, LOAD_TIGHTEN.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from locust import events

from load import gates
from load.journeys.api_client import ApiClient
from load.journeys.attacker import Attacker, Flood
from load.journeys.browser import Browser
from load.journeys.returning import Returning
from load.journeys.shopper import Shopper

JOURNEYS = {"browser": Browser, "shopper": Shopper, "returning": Returning, "api_client": ApiClient,
            "attacker": Attacker, "flood": Flood}  # fmt: skip


def _weigh(journeys: dict[str, Any], spec: str) -> None:
    """Apply LOAD_JOURNEYS (name=weight,...) and drop the idle classes: Locust runs every user class it finds here."""
    for item in filter(None, spec.split(",")):
        name, weight = item.split("=")
        journeys[name].weight = int(weight)
    for cls in journeys.values():
        if not (cls.weight or cls.fixed_count):
            del globals()[cls.__name__]


_weigh(JOURNEYS, os.environ.get("LOAD_JOURNEYS", ""))

if os.environ.get("LOAD_SHAPE", "none") == "knee":
    from load.shapes import KneeShape  # noqa: F401 - Locust finds the shape class here
elif os.environ.get("LOAD_SHAPE", "none") != "none":
    from load.shapes import TableShape  # noqa: F401


@events.init.add_listener
def _gates(environment: Any, **_: Any) -> None:
    out = os.environ.get("LOAD_VERDICT_FILE")
    gates.install(
        environment,
        gates.active_slo(),
        interval_s=float(os.environ.get("LOAD_GATE_INTERVAL_S", "10")),
        fail_fast=os.environ.get("LOAD_FAIL_FAST") == "1",
        out=Path(out) if out else None,
        enforce=os.environ.get("LOAD_SHAPE") != "knee",  # the knee run breaks an SLO on purpose
    )
