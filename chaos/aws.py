"""``nox -s chaos -- --target aws NAME``: start the experiment's FIS template (cfn/fis.py) and poll it to its end.

The template is found by its tags (``experiment`` = NAME, ``stage`` = --stage); FIS itself stops
the experiment when one of its stop-condition alarms goes to ALARM. Exit code 0 when the experiment
completed, 1 when it stopped or failed (the reason FIS gives is printed).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

ENDED = ("completed", "stopped", "failed", "cancelled")


def find_template(client: Any, experiment: str, stage: str) -> str:
    """The id of the FIS template tagged ``experiment`` and ``stage``; SystemExit naming what is missing."""
    pages = client.get_paginator("list_experiment_templates").paginate() if client.can_paginate(
        "list_experiment_templates") else [client.list_experiment_templates()]  # fmt: skip
    for page in pages:
        for t in page.get("experimentTemplates", []):
            found = t.get("tags", {})
            if found.get("experiment") == experiment and found.get("stage") == stage:
                return t["id"]
    raise SystemExit(f"no FIS experiment template tagged experiment={experiment} stage={stage}: "
                     "deploy the fis layer (nox -s deploy) first")  # fmt: skip


def start(client: Any, template_id: str, experiment: str) -> str:
    answer = client.start_experiment(
        clientToken=uuid.uuid4().hex, experimentTemplateId=template_id,
        tags={"experiment": experiment, "started-by": "nox -s chaos"},
    )  # fmt: skip
    return answer["experiment"]["id"]


def poll(
    client: Any,
    experiment_id: str,
    *,
    every_s: float = 10.0,
    limit_s: float = 1800.0,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll until the experiment ends (or ``limit_s``: then it is stopped); prints each change of state or action."""
    seen: dict[str, str] = {}
    deadline = time.monotonic() + limit_s
    while True:
        got = client.get_experiment(id=experiment_id)["experiment"]
        status = got["state"]["status"]
        changes = {"experiment": status} | {f"action {k}": v.get("state", {}).get("status", "?")
                                            for k, v in got.get("actions", {}).items()}  # fmt: skip
        for key, value in changes.items():
            if seen.get(key) != value:
                say(f"  {key}: {value}" + (f" ({got['state'].get('reason')})" if key == "experiment" and
                                          got["state"].get("reason") else ""))  # fmt: skip
                seen[key] = value
        if status in ENDED:
            return got
        if time.monotonic() > deadline:
            say(f"  still {status} after {limit_s:.0f} s: stopping it")
            client.stop_experiment(id=experiment_id)
            limit_s, deadline = 60.0, time.monotonic() + 60.0
        sleep(every_s)


def main(names: list[str], *, stage: str, region: str, poll_s: float, client: Any = None) -> int:
    import boto3

    client = client or boto3.client("fis", region_name=region)
    failed = 0
    for experiment in names:
        print(f"{experiment}: finding its FIS template (stage {stage})", flush=True)
        template = find_template(client, experiment, stage)
        experiment_id = start(client, template, experiment)
        print(f"  started {experiment_id} from {template}", flush=True)
        ended = poll(client, experiment_id, every_s=poll_s)
        ok = ended["state"]["status"] == "completed"
        failed += not ok
        print(
            f"  -> {'COMPLETED' if ok else ended['state']['status'].upper()}: {ended['state'].get('reason', '')}",
            flush=True,
        )
    return 1 if failed else 0
