"""The generator's own efficiency: our browse journey or a minimal FastHttpUser loop (``LOAD_EFFICIENCY``), at /hello.

No think time; the browse journey keeps everything it does for real (task choice, typos, tags,
names, judging each answer, the SLO gate listener) but every route points at the bare hello endpoint.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from locust import FastHttpUser, constant, events, task

from load import gates
from load.journeys.browser import Browser
from load.journeys.common import Shop

Shop.products = [{"id": f"p{n}", "name": f"Kestrel Linen Shirt {n}"} for n in range(100)]
Shop.categories = ["shirts", "kitchen", "garden"]


class Minimal(FastHttpUser):
    weight = 1
    wait_time = constant(0)

    @task
    def hello(self) -> None:
        self.client.get("/hello", name="minimal")


class OurBrowse(Browser):
    weight = 1
    wait_time = constant(0)
    routes: ClassVar[dict[str, str]] = dict.fromkeys(Browser.routes, "/hello")


del Browser
if os.environ.get("LOAD_EFFICIENCY") == "ours":  # one class per run: Locust runs every user class it finds here
    del Minimal
else:
    del OurBrowse


@events.init.add_listener
def _gates(environment: Any, **_: Any) -> None:
    gates.install(environment, gates.active_slo(), enforce=False)
