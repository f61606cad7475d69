"""The local CloudWatch agent's EMF listener: UDP datagrams of EMF in, raw values kept, PutMetricData out.

In AWS the CloudWatch agent (or CloudWatch Logs, for EMF on stdout) extracts the metrics; moto's Logs
do not, so the services send their documents here instead (``SHOP_METRICS_SINK=udp://127.0.0.1:<port>``,
what ``nox -s up`` sets). Each value is kept in the store (alarms and the dashboard need raw values for
percentiles); the emulator gets one statistic set (SampleCount, Sum, Minimum, Maximum) per metric and
10 seconds, since moto answers a query by scanning every datum it holds.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localcloud.observability import emf
from localcloud.observability.store import MetricKey, Store

log = logging.getLogger("localcloud.agent")
BUCKET_S = 10
MAX_DATUMS = 1000  # PutMetricData's limit per call


@dataclass
class Pending:
    """Statistic sets waiting for PutMetricData, per (metric, 10 s bucket)."""

    sets: dict[tuple[MetricKey, int], list[float]] = field(default_factory=dict)  # count, sum, min, max
    units: dict[MetricKey, str] = field(default_factory=dict)

    def add(self, key: MetricKey, at: float, value: float, count: int, unit: str) -> None:
        bucket = int(at // BUCKET_S) * BUCKET_S
        s = self.sets.get((key, bucket))
        if s is None:
            self.sets[(key, bucket)] = [count, value * count, value, value]
        else:
            s[0] += count
            s[1] += value * count
            s[2] = min(s[2], value)
            s[3] = max(s[3], value)
        self.units[key] = unit


class Recorder:
    """Where datums go: the store at once, the emulator on ``publish()``."""

    def __init__(self, store: Store, cloudwatch: Any | None):
        self.store = store
        self.cloudwatch = cloudwatch
        self.pending = Pending()
        self.lock = threading.Lock()
        self.documents = self.rejected = self.values = 0

    def record(self, key: MetricKey, at: float, values: Iterable[float], unit: str = "None") -> None:
        with self.lock:
            for value in values:
                self.store.add(key, at, value)
                self.pending.add(key, at, value, 1, unit)
                self.values += 1

    def document(self, line: bytes | str) -> None:
        try:
            datums = emf.parse(line)
        except emf.Invalid as exc:
            self.rejected += 1
            log.warning("EMF document dropped: %s", exc)
            return
        self.documents += 1
        for d in datums:
            self.record(MetricKey(d.namespace, d.name, d.dimensions), d.at, d.values, d.unit)

    def publish(self) -> int:
        """PutMetricData for everything recorded since the last call; the number of datums sent."""
        with self.lock:
            pending, self.pending = self.pending, Pending()
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for (key, bucket), (count, total, low, high) in pending.sets.items():
            by_namespace.setdefault(key.namespace, []).append({
                "MetricName": key.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in key.dimensions],
                "Timestamp": datetime.fromtimestamp(bucket, UTC),
                "StatisticValues": {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high},
                "Unit": pending.units[key],
            })  # fmt: skip
        sent = 0
        if self.cloudwatch is None:
            return 0
        for namespace, data in by_namespace.items():
            for start in range(0, len(data), MAX_DATUMS):
                self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + MAX_DATUMS])
                sent += len(data[start : start + MAX_DATUMS])
        return sent


class Listener:
    """A thread reading EMF datagrams from a bound UDP socket into the recorder."""

    def __init__(self, sock: socket.socket, recorder: Recorder):
        self.sock = sock
        self.recorder = recorder
        self.address: tuple[str, int] = sock.getsockname()
        self.sock.settimeout(0.5)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="emf-listener", daemon=True)

    def start(self) -> Listener:
        self.thread.start()
        return self

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                if self.stopping.is_set():
                    return
                raise
            for line in data.splitlines():  # one document per datagram; a line-delimited batch also works
                if line.strip():
                    self.recorder.document(line)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        self.sock.close()


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A UDP socket for the agent (port 0: the OS picks one); big receive buffer, so bursts are not dropped."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((host, port))
    return sock
