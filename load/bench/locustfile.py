"""One closed-loop Locust user class that GETs the paths listed in ``BENCH_PATHS_FILE``, in turn, without pause.

All requests are reported under one name so the stats row is the target's.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from locust import FastHttpUser, constant, task

PATHS = [line for line in Path(os.environ["BENCH_PATHS_FILE"]).read_text().splitlines() if line.strip()]


class Reader(FastHttpUser):
    wait_time = constant(0)
    connection_timeout = 5.0
    network_timeout = 5.0

    def on_start(self) -> None:
        self.paths = itertools.cycle(PATHS[hash(self) % len(PATHS) :] + PATHS[: hash(self) % len(PATHS)])

    @task
    def get(self) -> None:
        with self.client.get(next(self.paths), name="target", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
