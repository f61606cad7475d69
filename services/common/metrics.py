"""CloudWatch metrics from every service, in the embedded metric format (EMF), written once here.

Two kinds of metric leave a service:

- **per request** (``RequestMetrics``, an ASGI middleware the app factory installs): ``Latency``
  (milliseconds), ``Fault`` (1 for a 5xx, else 0) and ``Error`` (1 for a 4xx, else 0), one value
  each per request, under the dimensions ``Service`` and ``Service, Route`` where the route is the
  template (``GET /orders/{order_id}``), never the raw path. ``SampleCount`` is the request count,
  ``Average`` of ``Fault`` the 5xx rate, ``p99`` of ``Latency`` the tail: alarms read them so.
- **business** (``emit``, one call in a service's use-case layer): orders placed, revenue, checkout
  failures by reason, payment declines.

Values are gathered in memory and written every ``SHOP_METRICS_FLUSH_S`` as EMF documents (one per
dimension set, at most 100 values per metric, as the specification allows), so the cost on the
request path is a dictionary append. Where they go is ``SHOP_METRICS_SINK``:

- ``stdout`` (the default, as in EKS: Fluent Bit ships stdout to CloudWatch Logs, which extracts EMF),
- ``udp://host:port`` (the CloudWatch agent's EMF listener, 25888; ``nox -s up`` points every service
  at the local agent, localcloud/observability/agent.py),
- ``off``.

The specification: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
(aws-embedded-metrics was not used: it writes one document per request and per scope, and its
decorators break FastAPI's signature inspection; see FIELD-NOTES).
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference import observability as obs

NAMESPACE = obs.NAMESPACE
MAX_VALUES = 100  # EMF: a metric holds at most 100 values per document
QUIET_PATHS = ("/healthz", "/readyz")
log = logging.getLogger("services.metrics")

Key = tuple[tuple[tuple[str, str], ...], str]  # (dimensions, metric name)


class MetricsSettings(BaseSettings):
    """``SHOP_METRICS_*``: where EMF goes, how often, under which namespace (docs/metrics-and-alarms.md)."""

    model_config = SettingsConfigDict(env_prefix="SHOP_METRICS_", extra="ignore")

    sink: str = Field("stdout", pattern=r"^(stdout|off|udp://[^:/]+:\d+)$", description="stdout, udp://host:port, off")
    flush_s: float = Field(1.0, gt=0, le=60, description="how often gathered values are written")
    namespace: str = Field(NAMESPACE, min_length=1, max_length=255)


@dataclass
class Recorder:
    """Values gathered since the last flush, per dimension set and metric; written as EMF documents."""

    namespace: str = NAMESPACE
    write: Callable[[str], None] = lambda line: None
    values: dict[Key, list[float]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, value: float, unit: str = "Count", dimensions: Mapping[str, str] | None = None) -> None:
        key = (tuple(sorted((dimensions or {}).items())), name)
        with self.lock:
            self.values.setdefault(key, []).append(float(value))
            self.units[name] = unit

    def documents(self, now_ms: int | None = None) -> list[dict[str, Any]]:
        """Take what was gathered, as EMF documents (one per dimension set and chunk of 100 values)."""
        with self.lock:
            taken, self.values = self.values, {}
        by_dims: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = {}
        for (dims, name), values in taken.items():
            by_dims.setdefault(dims, {})[name] = values
        stamp = now_ms if now_ms is not None else int(time.time() * 1000)
        docs = []
        for dims, metrics in by_dims.items():
            longest = max(len(v) for v in metrics.values())
            for start in range(0, longest, MAX_VALUES):
                chunk = {n: v[start : start + MAX_VALUES] for n, v in metrics.items() if v[start : start + MAX_VALUES]}
                docs.append(self._document(dict(dims), chunk, stamp))
        return docs

    def _document(self, dims: dict[str, str], metrics: dict[str, list[float]], stamp: int) -> dict[str, Any]:
        directive = {
            "Namespace": self.namespace,
            "Dimensions": [sorted(dims)],
            "Metrics": [{"Name": n, "Unit": self.units.get(n, "None")} for n in sorted(metrics)],
        }
        body: dict[str, Any] = {"_aws": {"Timestamp": stamp, "CloudWatchMetrics": [directive]}, **dims}
        for name, values in metrics.items():
            body[name] = values[0] if len(values) == 1 else values
        return body

    def flush(self) -> int:
        """Write every gathered value; the number of documents written."""
        docs = self.documents()
        for doc in docs:
            try:
                self.write(json.dumps(doc, separators=(",", ":")))
            except OSError as exc:  # a metric lost must never fail the service
                log.warning("EMF document dropped: %s", exc)
        return len(docs)


def writer(sink: str) -> Callable[[str], None]:
    """A function writing one EMF document to ``sink`` (see the module docstring)."""
    if sink == "off":
        return lambda line: None
    if sink == "stdout":

        def to_stdout(line: str) -> None:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

        return to_stdout
    parts = urlsplit(sink)
    address = (parts.hostname or "127.0.0.1", parts.port or 25888)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)  # UDP never waits: a full buffer drops a document, not a request

    def to_agent(line: str) -> None:
        sock.sendto(line.encode(), address)

    return to_agent


_recorder: Recorder | None = None
_recorder_lock = threading.Lock()


def recorder() -> Recorder:
    """The process's recorder, built from ``SHOP_METRICS_*`` on first use (one per process, shared by its apps)."""
    global _recorder
    if _recorder is None:
        with _recorder_lock:
            if _recorder is None:
                s = MetricsSettings()
                _recorder = Recorder(s.namespace, writer(s.sink))
    return _recorder


def configure(settings: MetricsSettings | None = None) -> Recorder:
    """Replace the process's recorder (tests point it at their own agent); what was gathered is flushed first."""
    global _recorder
    s = settings or MetricsSettings()
    with _recorder_lock:
        if _recorder is not None:
            _recorder.flush()
        _recorder = Recorder(s.namespace, writer(s.sink))
    return _recorder


def flush_interval_s() -> float:
    return MetricsSettings().flush_s


def emit(name: str, value: float = 1.0, unit: str = "Count", **dimensions: str) -> None:
    """Record one business value (``emit("PaymentDeclines", Reason="card_declined")``); written within a flush."""
    recorder().add(name, value, unit, dimensions)


class RequestMetrics:
    """Pure ASGI middleware: Latency, Fault and Error of each request, by service and route template."""

    def __init__(self, app: ASGIApp, service: str):
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            self.record(f"{scope['method']} {template}", status, (time.perf_counter() - start) * 1000)

    def record(self, route: str, status: int, latency_ms: float) -> None:
        rec = recorder()
        for dims in ({"Service": self.service}, {"Service": self.service, "Route": route}):
            rec.add("Latency", round(latency_ms, 3), "Milliseconds", dims)
            rec.add("Fault", 1.0 if status >= 500 else 0.0, "Count", dims)
            rec.add("Error", 1.0 if 400 <= status < 500 else 0.0, "Count", dims)


def start(runtime: Any) -> None:
    """Flush the gathered values every ``SHOP_METRICS_FLUSH_S`` in the service's runtime, and once more at stop."""

    async def flush() -> None:
        recorder().flush()

    runtime.every("metrics", flush_interval_s(), flush)
    runtime.on_close(lambda: recorder().flush())


# ------------------------------------------------------------ business metrics (names: reference/observability.py)


def checkout_outcome(status: str, reason: str | None, total_minor: int, currency: str) -> None:
    """A checkout run ended: ``CheckoutFailed`` 0/1 always; ``CheckoutFailures`` by reason, or the order placed."""
    failed = status == "failed"
    emit(obs.CHECKOUT_FAILED, 1.0 if failed else 0.0)
    if failed:
        emit(obs.CHECKOUT_FAILURES, Reason=str(reason or "abandoned"))
    else:
        emit(obs.ORDERS_PLACED)
        emit(obs.REVENUE, total_minor / 100, "None", Currency=currency or "unknown")


def payment_declined(reason: str) -> None:
    """The provider declined an authorization: ``PaymentDeclines`` in all and by reason."""
    emit(obs.PAYMENT_DECLINES)
    emit(obs.PAYMENT_DECLINES, Reason=reason)
