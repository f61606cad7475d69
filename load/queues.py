"""Queues under load: depth and dead letters sampled during the run, poison injected, the ledger at the end.

Locally the depths come from SQS GetQueueAttributes on the emulator (it publishes no AWS/SQS
metrics, so the age of the oldest message is not measured there); against AWS from CloudWatch
(``ApproximateNumberOfMessagesVisible``, ``ApproximateAgeOfOldestMessage``). Poison messages are
bodies no consumer can parse, sent straight to the consumed queues: each must end in its DLQ after
``maxReceiveCount`` receives and nowhere else, which the ledger's ``dead_letters`` rule checks.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil

from load.bench.checkout import cpu_seconds
from reference import RESOURCES, physical_name

SAMPLE_S = 2.0
POISON_WINDOW = 0.3  # poison goes in during the first 30 % of the run, so it reaches the DLQs soon after the end


class Sampler(threading.Thread):
    """Every ``SAMPLE_S``: each queue's waiting, in-flight and dead messages, and CPU seconds per process."""

    def __init__(self, stage: str | None, pid: int | None):
        super().__init__(daemon=True)
        self.stage, self.pid = stage, pid
        self.generator: int | None = None  # the load generator's pid, once it runs
        self.depths: list[dict[str, Any]] = []
        self.cpu: list[dict[str, Any]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        letters = _dead_letters(self.stage) if self.stage else None
        while not self._halt.is_set():
            now = time.time()
            if letters is not None:
                try:
                    self.depths.append({"t": now, "queues": letters.summary()})
                except Exception as exc:  # noqa: BLE001 - a sample lost is not a run lost
                    print(f"queue sample failed: {exc}", flush=True)
            elif self.stage is None and os.environ.get("LOAD_CLOUDWATCH_STAGE"):
                self.depths.append({"t": now, "queues": cloudwatch_depths(os.environ["LOAD_CLOUDWATCH_STAGE"])})
            if self.pid:
                seconds = cpu_seconds(_tree(self.pid))
                if self.generator:
                    seconds["load generator (locust)"] = sum(
                        t.user + t.system for p in _tree(self.generator) if (t := _times(p)) is not None
                    )
                self.cpu.append({"t": now, "seconds": seconds})
            self._halt.wait(SAMPLE_S)

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


class Poisoner(threading.Thread):
    """Sends poison messages so that they are ``share`` of the events the run's services published."""

    def __init__(self, stage: str, share: float, seconds: float = 60):
        super().__init__(daemon=True)
        self.stage, self.share, self.until = stage, share, time.time() + POISON_WINDOW * seconds
        self.sent = 0
        self.started = datetime.now(UTC)
        self._halt = threading.Event()

    def __enter__(self) -> Poisoner:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._halt.set()
        self.join(10)

    def run(self) -> None:
        import boto3

        sqs = boto3.client("sqs", region_name=os.environ.get("AWS_REGION", "us-east-1"))
        urls = [sqs.get_queue_url(QueueName=physical_name(q.name, self.stage))["QueueUrl"] for q in RESOURCES.queues]
        while not self._halt.wait(3.0) and time.time() < self.until:
            due = max(1, int(self.share * published_events(self.started))) - self.sent
            for _ in range(max(0, due)):
                body = json.dumps({"poison": uuid.uuid4().hex, "note": "injected by the load harness"})
                sqs.send_message(QueueUrl=random.choice(urls), MessageBody=body)  # noqa: S311
                self.sent += 1


def published_events(since: datetime) -> int:
    """Events written to every service's outbox since ``since`` (the stage's database)."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as db:
        schemas = [r[0] for r in db.execute("select table_schema from information_schema.tables"
                                            " where table_name = 'outbox'")]  # fmt: skip
        return sum(
            db.execute(f'select count(*) from "{s}".outbox where created_at >= %s', (since,)).fetchone()[0]  # noqa: S608
            for s in schemas
        )


def ledger(stage: str, started: datetime, ended: datetime, poison: int) -> dict[str, Any]:
    """The ledger over the run, waiting for the checkouts in flight and for every poison message to reach a DLQ."""
    from load.ledger import settled

    wait = 60 + (poison and 180)  # a poison message reaches its DLQ after maxReceiveCount x the visibility timeout
    print(f"ledger: waiting up to {wait} s for events in flight and {poison} poison message(s) to settle", flush=True)
    before = time.monotonic()
    verdict = settled(started, ended + timedelta(seconds=1), timeout_s=wait, stage=stage, expected_dead=poison)
    return {
        "ok": verdict.ok,
        "waited_s": round(time.monotonic() - before, 1),
        "counts": verdict.counts,
        "violated": {f.rule: f.violations for f in verdict.violated()},
        "notes": {f.rule: f.note for f in verdict.findings if f.note},
        "examples": {f.rule: [list(e) for e in f.examples[:3]] for f in verdict.violated()},
    }


def cloudwatch_depths(stage: str) -> list[dict[str, Any]]:
    """Depth, oldest message's age and DLQ depth per queue from CloudWatch (AWS; the last minute's maximum)."""
    import boto3

    cw = boto3.client("cloudwatch")
    end = datetime.now(UTC)
    rows = []
    for queue in RESOURCES.queues:
        row: dict[str, Any] = {"queue": queue.name}
        for key, name, metric in (("waiting", queue.name, "ApproximateNumberOfMessagesVisible"),
                                  ("oldest_s", queue.name, "ApproximateAgeOfOldestMessage"),
                                  ("dead", queue.dlq_name, "ApproximateNumberOfMessagesVisible")):  # fmt: skip
            points = cw.get_metric_statistics(
                Namespace="AWS/SQS", MetricName=metric, StartTime=end - timedelta(minutes=5), EndTime=end,
                Period=60, Statistics=["Maximum"],
                Dimensions=[{"Name": "QueueName", "Value": physical_name(name, stage)}],
            )["Datapoints"]  # fmt: skip
            row[key] = max((p["Maximum"] for p in points), default=0)
        rows.append(row)
    return rows


def _dead_letters(stage: str) -> Any:
    from services.common.dlq import DeadLetters

    return DeadLetters(stage, os.environ.get("AWS_REGION", "us-east-1"))


def _times(proc: psutil.Process) -> Any:
    try:
        return proc.cpu_times()
    except psutil.Error:
        return None


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
