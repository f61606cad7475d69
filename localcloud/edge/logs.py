"""What the edge writes: access lines in CloudFront's real-time log format, WAF decisions, WAF metrics.

Access lines hold reference/edge.py's REALTIME_LOG_FIELDS tab-separated in that order, ``-`` for
an empty value, free text URL-encoded (so a line is one record), ready for a shipper to put on
the edge-logs Kinesis stream. WAF decision lines follow the shape of WAF's JSON logs.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from localcloud.edge.waf import DEFAULT_ACTION, Decision, WafRequest
from reference.edge import REALTIME_LOG_FIELDS
from reference.waf import Action, WebAcl

_SAFE = "/:;,=&?*.()[]@!$'+-_~"


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
