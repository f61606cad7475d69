"""AWS/SQS metrics for every queue and DLQ, as SQS publishes them (once a minute by default), from GetQueueAttributes.

- ``ApproximateNumberOfMessagesVisible``, ``ApproximateNumberOfMessagesNotVisible``,
  ``ApproximateNumberOfMessagesDelayed``: the queue's attributes of the same names.
- ``ApproximateAgeOfOldestMessage``: SQS does not expose it as an attribute and peeking would count as a
  receive (and move messages to the DLQ sooner), so the poller reports the time since it last saw the
  queue empty: an upper bound, exact when nothing is consumed (a consumer down), 0 for an empty queue.
- ``Shop/DeadLetterArrivals`` per DLQ: how many more messages it holds than at the last poll (0 if fewer).
"""

from __future__ import annotations

from typing import Any

from localcloud.observability.agent import Recorder
from localcloud.observability.store import MetricKey, dims_key
from reference.observability import DLQ_ARRIVALS, NAMESPACE

ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed")  # fmt: skip


class QueuePoller:
    """Polls the queues of the outputs (name -> URL, DLQs included) into the recorder."""

    def __init__(self, sqs: Any, queues: dict[str, str], dlqs: set[str], recorder: Recorder):
        self.sqs, self.queues, self.dlqs, self.recorder = sqs, queues, dlqs, recorder
        self.empty_since: dict[str, float] = {}  # queue name -> when it was last seen empty
        self.depth: dict[str, int] = {}

    def poll(self, now: float) -> None:
        for name, url in self.queues.items():
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(ATTRIBUTES))["Attributes"]
            visible, hidden, delayed = (int(attrs.get(a, 0)) for a in ATTRIBUTES)
            held = visible + hidden
            if held == 0 or name not in self.empty_since:
                self.empty_since[name] = now
            dims = dims_key({"QueueName": name})
            for metric, value, unit in (
                ("ApproximateNumberOfMessagesVisible", visible, "Count"),
                ("ApproximateNumberOfMessagesNotVisible", hidden, "Count"),
                ("ApproximateNumberOfMessagesDelayed", delayed, "Count"),
                ("ApproximateAgeOfOldestMessage", round(now - self.empty_since[name]) if held else 0, "Seconds"),
            ):
                self.recorder.record(MetricKey("AWS/SQS", metric, dims), now, [value], unit)
            if name in self.dlqs:
                arrived = max(0, held + delayed - self.depth.get(name, held + delayed))
                self.recorder.record(MetricKey(NAMESPACE, DLQ_ARRIVALS, dims), now, [arrived], "Count")
            self.depth[name] = held + delayed
