"""The local CloudWatch's one process: the EMF agent, the SQS poller and the alarm evaluator, on one loop.

Run by ``nox -s up`` as the child ``observability`` (launch.py), or in a test's thread (``Worker.start``).
Its files are in ``build/observability/<stage>/`` (they outlive the stack, for the load report):
``history.jsonl`` (every alarm state change), ``dashboard.json`` (the graphs' series and the alarms' states,
for dashboard.py) and ``status.json`` (counts).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from localcloud.health import aws_client
from localcloud.observability import alarms as alarm_defs
from localcloud.observability.agent import Listener, Recorder
from localcloud.observability.dashboard import folder
from localcloud.observability.evaluator import Evaluator
from localcloud.observability.launch import AGENT_FD
from localcloud.observability.poller import QueuePoller
from localcloud.observability.settings import ObservabilitySettings
from localcloud.observability.store import MetricKey, Store, dims_key, statistic
from localcloud.provision import Outputs
from reference.observability import GRAPHS

log = logging.getLogger("localcloud.observability")
SNAPSHOT_SPAN_S = 3600.0


class Worker:
    """Ticks the agent's publish, the poller and the evaluator at their own intervals until stopped."""

    def __init__(
        self,
        sock: socket.socket,
        clients: dict[str, Any],
        outputs: Outputs,
        folder: Path | None,
        settings: ObservabilitySettings | None = None,
    ):
        self.settings = settings or ObservabilitySettings()
        self.outputs = outputs
        self.folder = folder
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        self.store = Store()
        self.recorder = Recorder(self.store, clients["cloudwatch"])
        self.listener = Listener(sock, self.recorder)
        urls = {**outputs.queues, **{f"{k}-dlq": v for k, v in outputs.dlqs.items()}}
        queues = {url.rsplit("/", 1)[1]: url for url in urls.values()}
        dlqs = {url.rsplit("/", 1)[1] for url in outputs.dlqs.values()}
        self.poller = QueuePoller(clients["sqs"], queues, dlqs, self.recorder)
        self.evaluator = Evaluator(
            clients["cloudwatch"], clients["sns"], self.store,
            history=folder / "history.jsonl" if folder else None, region=outputs.region, account=outputs.account,
        )  # fmt: skip
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.listener.address

    def start(self) -> Worker:
        """Run in a daemon thread (tests); ``stop()`` ends it."""
        self.thread = threading.Thread(target=self.run, name="observability", daemon=True)
        self.thread.start()
        return self

    def run(self) -> None:
        self.listener.start()
        s = self.settings
        jobs = [
            (s.publish_every_s, self.recorder.publish, "publish"),
            (s.sqs_poll_s, lambda: self.poller.poll(time.time()), "sqs poll"),
            (s.evaluate_every_s, lambda: self.evaluator.tick(time.time()), "evaluation"),
            (s.snapshot_every_s, self.write_files, "snapshot"),
            (60.0, lambda: self.store.prune(time.time()), "prune"),
        ]
        due = [0.0] * len(jobs)
        while not self.stopping.is_set():
            for i, (every, job, what) in enumerate(jobs):
                if time.monotonic() >= due[i]:
                    due[i] = time.monotonic() + every
                    try:
                        job()
                    except Exception:  # the emulator may blip: the next round tries again
                        log.exception("%s failed; trying again in %.1f s", what, every)
            self.stopping.wait(min(0.2, *(max(0.0, d - time.monotonic()) for d in due)))
        self.listener.stop()
        self.recorder.publish()
        self.write_files()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def write_files(self) -> None:
        if self.folder is None:
            return
        _write(self.folder / "dashboard.json", snapshot(self.store, self.evaluator.cloudwatch, self.outputs.stage))
        status = {"pid": os.getpid(), "updated_at": time.time(), "documents": self.recorder.documents,
                  "rejected": self.recorder.rejected, "values": self.recorder.values,
                  "evaluations": self.evaluator.evaluations, "agent": "udp://{}:{}".format(*self.address)}  # fmt: skip
        _write(self.folder / "status.json", status)


def _write(path: Path, data: Any) -> None:
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(data, default=str))
    os.replace(temp, path)


def graph_series(store: Store, stage: str, now: float) -> list[dict[str, Any]]:
    """Each graph of GRAPHS with its lines: per watched resource, the statistic per period over the last hour."""
    graphs = []
    for graph in GRAPHS:
        lines = {}
        end = (now // graph.period_s + 1) * graph.period_s
        for suffix, dimensions in alarm_defs.watched(graph, stage):  # type: ignore[arg-type]
            key = MetricKey(graph.namespace, graph.metric, dims_key((d["Name"], d["Value"]) for d in dimensions))
            buckets: dict[float, list[tuple[float, float, int]]] = {}
            for p in store.window(key, end - SNAPSHOT_SPAN_S, end):
                buckets.setdefault((p[0] // graph.period_s) * graph.period_s, []).append(p)
            series = [(t, statistic(graph.statistic, ps)) for t, ps in sorted(buckets.items())]
            if series:
                lines[suffix or graph.metric] = series
        graphs.append({"title": graph.title, "statistic": graph.statistic, "unit": graph.unit, "lines": lines})
    return graphs


def snapshot(store: Store, cloudwatch: Any, stage: str, now: float | None = None) -> dict[str, Any]:
    """The dashboard's data: the graphs' lines and every alarm's state."""
    now = now if now is not None else time.time()
    states = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
        states += [{k: a.get(k) for k in ("AlarmName", "StateValue", "StateReason", "StateUpdatedTimestamp",
                                          "AlarmDescription")} for a in page["MetricAlarms"]]  # fmt: skip
    return {"generated_at": now, "stage": stage, "graphs": graph_series(store, stage, now), "alarms": states}


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    outputs_file = os.environ.get("SHOP_OUTPUTS")
    if not outputs_file or not Path(outputs_file).exists() or AGENT_FD not in os.environ:
        print(f"error: SHOP_OUTPUTS (a provisioned stack's outputs.json) and {AGENT_FD} must be set", file=sys.stderr)
        return 2
    outputs = Outputs.from_json(Path(outputs_file).read_text())
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    clients = {s: aws_client(s, endpoint_url=endpoint, region=outputs.region) for s in ("cloudwatch", "sns", "sqs")}
    sock = socket.socket(fileno=int(os.environ[AGENT_FD]))
    files = folder(outputs.stage)
    (files / "history.jsonl").unlink(missing_ok=True)  # a new stack: its alarms start afresh
    worker = Worker(sock, clients, outputs, files)

    def stop(signum: int, frame: object) -> None:
        worker.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    s = worker.settings
    log.info("EMF agent on udp://%s:%d; %d queues polled every %.0f s; alarms judged every %.0f s",
             *worker.address, len(worker.poller.queues), s.sqs_poll_s, s.evaluate_every_s)  # fmt: skip
    worker.run()
    log.info("stopped after %d evaluations, %d EMF documents", worker.evaluator.evaluations, worker.recorder.documents)
    return 0


if __name__ == "__main__":
    sys.exit(main())
