"""What the edge writes: access lines in CloudFront's real-time log format, WAF decisions, WAF metrics.

Access lines hold reference/edge.py's REALTIME_LOG_FIELDS tab-separated in that order, ``-`` for
an empty value, free text URL-encoded (so a line is one record). ``AccessLog`` also hands each
line to a ``StreamShipper``, which puts them on the edge-logs Kinesis stream in batches from a
thread of its own, as CloudFront's real-time logs do (never on the request path). WAF decision
lines follow the shape of WAF's JSON logs.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from localcloud.edge.waf import DEFAULT_ACTION, Decision, WafRequest
from localcloud.health import aws_client
from localcloud.settings import AwsMode, LocalCloudSettings
from reference import RESOURCES, physical_name
from reference.edge import REALTIME_LOG_FIELDS
from reference.waf import Action, WebAcl

_SAFE = "/:;,=&?*.()[]@!$'+-_~"
log = logging.getLogger("localcloud.edge.logs")
EDGE_STREAM = next(s.name for s in RESOURCES.streams if "CF" in s.producers)  # what the distribution logs to


def encode(value: str) -> str:
    return quote(value, safe=_SAFE) if value else "-"


def access_line(record: dict[str, object], fields: Iterable[str] = REALTIME_LOG_FIELDS) -> str:
    """One record as CloudFront's real-time logs carry it: the fields' values, tab-separated, ``-`` when empty."""
    return "\t".join(_text(record.get(f)) for f in fields)


def _text(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


class LineFile:
    """Lines appended in memory and written by ``flush`` (a periodic task calls it): no disk write per request."""

    def __init__(self, path: Path | None):
        self.path = path
        self._pending: list[str] = []
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, line: str) -> None:
        if self.path is not None:
            self._pending.append(line)

    def flush(self) -> None:
        if self.path is None or not self._pending:
            return
        lines, self._pending = self._pending, []
        with self.path.open("a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


class StreamShipper:
    """Lines put on a Kinesis stream by a thread of its own, 500 per PutRecords, about once a second.

    ``add`` only appends to a list; a stream that is down costs the edge nothing but the lines
    beyond ``max_pending`` (the oldest are dropped and counted), as CloudFront drops real-time
    log records it cannot deliver.
    """

    def __init__(self, stream: str, client_factory: Callable[[], Any], interval_s: float = 1.0,
                 max_pending: int = 50_000):  # fmt: skip
        self.stream, self.client_factory, self.interval_s, self.max_pending = (
            stream,
            client_factory,
            interval_s,
            max_pending,
        )
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.sent = self.dropped = self.failed_puts = 0

    def add(self, line: str) -> None:
        with self._lock:
            self._pending.append(line)
            if len(self._pending) > self.max_pending:
                del self._pending[0]
                self.dropped += 1
        if self._thread is None and not self._stopped:
            self._thread = threading.Thread(target=self._run, name="edge-log-shipper", daemon=True)
            self._thread.start()
            atexit.register(self.drain)

    def _run(self) -> None:
        client = self.client_factory()
        while not self._stopped:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if not self._stopped:
                self._ship(client)

    def stop(self, timeout_s: float = 2.0) -> None:
        """End the thread and ship what is pending once more (the front door's shutdown, not the interpreter's
        exit, when nobody may be left to read a warning)."""
        self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            atexit.unregister(self.drain)
        self.drain()

    def _ship(self, client: Any) -> None:
        with self._lock:
            lines, self._pending = self._pending, []
        for i in range(0, len(lines), 500):
            batch = lines[i : i + 500]
            try:
                answer = client.put_records(
                    StreamName=self.stream,
                    Records=[{"Data": (line + "\n").encode(), "PartitionKey": _request_id(line)} for line in batch],
                )
            except Exception as exc:  # noqa: BLE001 - the stream being down must not stop the edge
                self.failed_puts += 1
                log.warning("PutRecords to %s failed: %s; %d line(s) kept", self.stream, exc, len(lines) - i)
                with self._lock:
                    self._pending[:0] = lines[i:]
                return
            retry = [line for line, r in zip(batch, answer["Records"], strict=True) if "ErrorCode" in r]
            self.sent += len(batch) - len(retry)
            if retry:
                with self._lock:
                    self._pending[:0] = retry

    def drain(self) -> None:
        """Send what is pending now (at exit: the last second's lines)."""
        if self._pending:
            try:
                self._ship(self.client_factory())
            except Exception as exc:  # noqa: BLE001 - at exit, a lost line is all it costs
                log.warning("edge logs not drained: %s", exc)


def _request_id(line: str) -> str:
    fields = line.split("\t")
    index = REALTIME_LOG_FIELDS.index("x-edge-request-id")
    return fields[index] if len(fields) > index else "-"


class AccessLog(LineFile):
    """The access lines in the run's log file, and on the edge-logs stream when a shipper is given."""

    def __init__(self, path: Path | None, shipper: StreamShipper | None = None):
        super().__init__(path)
        self.shipper = shipper
        if shipper is not None and self.path is None:
            self.path = Path("/dev/null")  # the front door writes lines only where there is a path

    def add(self, line: str) -> None:
        super().add(line)
        if self.shipper is not None:
            self.shipper.add(line)

    def close(self) -> None:
        """Write what is buffered and stop shipping."""
        self.flush()
        if self.shipper is not None:
            self.shipper.stop()


def edge_shipper(settings: LocalCloudSettings) -> StreamShipper | None:
    """The shipper to the stage's edge-logs stream in the emulator (None without one: in AWS, CloudFront ships)."""
    if settings.aws_mode is not AwsMode.EMULATOR or not settings.aws_endpoint_url:
        return None
    endpoint = str(settings.aws_endpoint_url)

    def client() -> Any:
        return aws_client("kinesis", endpoint_url=endpoint, region=settings.aws_region)

    return StreamShipper(physical_name(EDGE_STREAM, settings.stage), client)


def waf_log_record(acl: WebAcl, decision: Decision, request: WafRequest) -> dict[str, object]:
    """A WAF log record (the fields of WAF's JSON log format that mean something locally)."""
    return {
        "timestamp": int(time.time() * 1000),
        "formatVersion": 1,
        "webaclId": f"local:webacl/{acl.name}",
        "terminatingRuleId": decision.rule,
        "terminatingRuleType": decision.rule_type,
        "action": decision.action.value.upper(),
        "terminatingRuleMatchDetails": [],
        "httpSourceName": "CF",
        "httpSourceId": "local-edge",
        "ruleGroupList": _rule_group_list(acl, decision),
        "nonTerminatingMatchingRules": [
            {"ruleId": m.rule, "action": "COUNT", **({"ruleMatchDetails": [m.sub_rule]} if m.sub_rule else {})}
            for m in decision.counted
        ],
        "httpRequest": {
            "clientIp": request.client_ip,
            "country": request.country or "-",
            "headers": [{"name": k, "value": v} for k, v in request.headers],
            "uri": request.path,
            "args": request.query,
            "httpVersion": "HTTP/1.1",
            "httpMethod": request.method,
            "requestId": request.request_id,
        },
        "labels": [{"name": label} for label in decision.labels],
    }


def _rule_group_list(acl: WebAcl, decision: Decision) -> list[dict[str, object]]:
    if decision.sub_rule is None:
        return []
    group = acl.rule(decision.rule).statement.name  # type: ignore[union-attr]
    return [{"ruleGroupId": f"AWS#{group}", "terminatingRule": {"ruleId": decision.sub_rule, "action": "BLOCK"}}]


@dataclass(frozen=True, slots=True)
class Datum:
    metric: str  # AllowedRequests, BlockedRequests, CountedRequests
    rule: str  # the rule's metric name, ALL or Default_Action

    def dimensions(self, web_acl: str) -> dict[str, str]:
        return {"WebACL": web_acl, "Rule": self.rule}


class WafMetrics:
    """Request counts per rule as WAF publishes them in AWS/WAFV2 (dimensions WebACL and Rule)."""

    NAMESPACE = "AWS/WAFV2"

    def __init__(self, acl: WebAcl):
        self.web_acl = acl.metric_name
        self.metric_names = {r.name: r.metric_name for r in acl.rules} | {DEFAULT_ACTION: DEFAULT_ACTION}
        self.counts: Counter[Datum] = Counter()
        self._sent: Counter[Datum] = Counter()

    def record(self, decision: Decision) -> None:
        for match in decision.counted:
            self.counts[Datum("CountedRequests", self.metric_names[match.rule])] += 1
        metric = "BlockedRequests" if decision.action is Action.BLOCK else "AllowedRequests"
        self.counts[Datum(metric, self.metric_names[decision.rule])] += 1
        self.counts[Datum(metric, "ALL")] += 1

    def snapshot(self) -> dict[str, object]:
        return {
            "namespace": self.NAMESPACE,
            "metrics": [
                {"MetricName": d.metric, "Dimensions": d.dimensions(self.web_acl), "Value": n}
                for d, n in sorted(self.counts.items(), key=lambda item: (item[0].metric, item[0].rule))
            ],
        }

    def unsent(self) -> list[dict[str, object]]:
        """PutMetricData entries for what was counted since the last call (CloudWatch sums them)."""
        delta = self.counts - self._sent
        self._sent = Counter(self.counts)
        return [
            {
                "MetricName": d.metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in d.dimensions(self.web_acl).items()],
                "Value": float(n),
                "Unit": "Count",
            }
            for d, n in sorted(delta.items(), key=lambda item: (item[0].metric, item[0].rule))
        ]


def dumps(record: dict[str, object]) -> str:
    return json.dumps(record, separators=(",", ":"))
