"""The resource tables, read from ``reference/``: queues with their DLQs and subscriptions, tables, buckets,
secrets, streams, the lake, alarms and the web ACL's rules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from typing import Any

from reference import analytics, observability, waf
from reference.model import Resources, physical_name

STAGE = "<stage>"


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def cell(value: object) -> str:
    """A table cell: pipes escaped, and angle brackets outside code spans (``<br>`` is ours)."""
    if value in (None, ""):
        return "—"
    parts = str(value).replace("|", "\\|").replace("\n", " ").split("`")
    parts[::2] = [re.sub(r"<(?!br>)", "&lt;", p) for p in parts[::2]]
    return "`".join(parts)


def _code(value: object) -> str:
    return f"`{value}`"


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def messaging(res: Resources) -> list[str]:
    """Topics with their events, then each queue with its DLQ and what feeds it."""
    lines = [
        "## Messaging",
        "",
        "Who publishes to which topic, which events each subscription's filter policy lets through, who "
        "consumes each queue and where its dead letters go (drawn from the tables below):",
        "",
        "[![Topics, subscriptions, queues, consumers and DLQs](messaging.svg)](messaging.svg)",
        "",
        "## Topics",
        "",
    ]
    lines += _table(
        ("topic", "deployed as", "published by", "events", "purpose"),
        (
            (
                _code(t.name),
                _code(physical_name(t.name, STAGE)),
                ", ".join(t.publishers),
                ", ".join(f"`{e.name}` v{e.version}" for e in t.events),
                t.purpose,
            )
            for t in res.topics
        ),
    )
    lines += ["## Queues and their dead-letter queues", ""]
    lines += [
        "Every queue has its own DLQ: a message received `maxReceiveCount` times without being deleted moves "
        "there, where the `dlq-not-empty` alarm sees it (see the runbook "
        "[Redrive a dead-letter queue](runbooks/redrive-dlq.md)).",
        "",
    ]
    lines += _table(
        ("queue", "DLQ", "consumer", "maxReceiveCount", "visibility", "retention (DLQ)", "fed by", "purpose"),
        (
            (
                _code(q.name),
                _code(q.dlq_name),
                q.consumer,
                q.max_receive_count,
                _duration(q.visibility_timeout_s),
                f"{_duration(q.retention_s)} ({_duration(q.dlq_retention_s)})",
                "<br>".join(
                    f"`{s.topic}`: " + (", ".join(s.event_types) if s.event_types else "every event")
                    for s in res.subscriptions_of(q.name)
                ),
                q.purpose,
            )
            for q in res.queues
        ),
    )
    return lines


def data(res: Resources) -> list[str]:
    lines = ["## DynamoDB tables", ""]
    lines += _table(
        ("table", "partition key", "sort key", "TTL attribute", "purpose"),
        (
            (
                _code(t.name),
                f"`{t.partition_key.name}` ({t.partition_key.type})",
                f"`{t.sort_key.name}` ({t.sort_key.type})" if t.sort_key else "",
                _code(t.ttl_attribute) if t.ttl_attribute else "",
                t.purpose,
            )
            for t in res.tables
        ),
    )
    lines += ["## S3 buckets", "", "Every bucket is encrypted, versioned and blocks public access.", ""]
    lines += _table(
        ("bucket", "role", "served by CloudFront", "purpose"),
        ((_code(b.name), b.role.value, "yes" if b.served_by_cloudfront else "no", b.purpose) for b in res.buckets),
    )
    return lines


def security(res: Resources) -> list[str]:
    pool = res.user_pool
    lines = ["## Identity, keys and secrets", ""]
    lines += _table(
        ("user pool", "app clients (auth flows)", "groups", "password min length", "MFA"),
        [
            (
                _code(pool.name),
                "<br>".join(f"`{c.name}`: {', '.join(c.auth_flows)}" for c in pool.clients),
                ", ".join(pool.groups),
                pool.password_min_length,
                pool.mfa,
            )
        ],
    )
    lines += _table(("KMS key alias", "purpose"), ((_code(k.alias), k.purpose) for k in res.kms_keys))
    lines += _table(
        ("secret", "KMS key", "fields (generated)", "read by", "purpose"),
        (
            (
                _code(s.name),
                s.kms_key,
                ", ".join(f"`{f}`" + (" (generated)" if f in s.generated else "") for f in s.fields),
                ", ".join(s.readers),
                s.purpose,
            )
            for s in res.secrets
        ),
    )
    return lines


def streams(res: Resources) -> list[str]:
    lines = ["## Streams and the data lake", ""]
    lines += _table(
        ("Kinesis stream", "shards", "producers", "purpose"),
        ((_code(s.name), s.shards, ", ".join(s.producers), s.purpose) for s in res.streams),
    )
    lines += _table(
        ("Firehose delivery stream", "from stream", "to bucket", "prefix"),
        ((_code(d.name), _code(d.source_stream), _code(d.bucket), _code(d.prefix)) for d in res.delivery_streams),
    )
    lines += _table(
        ("Glue table", "written by", "columns"),
        (
            (_code(t.name), _code(t.delivery_stream), ", ".join(f"`{c.name}` {c.type}" for c in t.columns))
            for t in analytics.TABLES
        ),
    )
    queries = ((_code(q.name), q.description) for q in analytics.QUERIES)
    lines += _table(("Athena named query", "what it answers"), queries)
    return lines


def alarms(res: Resources) -> list[str]:
    """Each alarm rule with the resources it is repeated over."""
    over = {
        observability.Watched.DLQ: [q.dlq_name for q in res.queues],
        observability.Watched.TABLE: [t.name for t in res.tables],
        observability.Watched.STREAM: [s.name for s in res.streams],
        observability.Watched.DATABASE: ["aurora"],
        observability.Watched.CDN: ["the distribution"],
    }
    lines = ["## Alarms", "", "Defined once in `reference/observability.py`; one alarm per watched resource.", ""]
    rows = []
    for a in observability.ALARMS:
        watched = over.get(a.watched, [a.watched.value])
        rows.append(
            (
                _code(a.name),
                f"{a.namespace} `{a.metric}`",
                f"{a.statistic} {_comparison(a.comparison)} {a.threshold:g}",
                f"{_duration(a.period_s)} × {a.evaluation_periods}",
                ", ".join(f"`{n}`" for n in watched),
                len(watched),
                a.summary,
            )
        )
    lines += _table(("alarm", "metric", "condition", "period × evaluations", "one per", "alarms", "purpose"), rows)
    return lines


def _comparison(op: str) -> str:
    return {
        "GreaterThanThreshold": ">",
        "GreaterThanOrEqualToThreshold": "≥",
        "LessThanThreshold": "<",
        "LessThanOrEqualToThreshold": "≤",
    }.get(op, op)


def web_acl(acl: waf.WebAcl = waf.WEB_ACL) -> list[str]:
    """The web ACL's rules in evaluation order, each with its WCU as reference/waf.py computes it."""
    wcu = waf.capacity(acl)
    lines = [
        "## WAF rules",
        "",
        f"Web ACL `{acl.name}`, default action **{acl.default_action.value}**; rules are evaluated by priority "
        "and the first terminating action decides (count only records and labels).",
        "",
    ]
    header = ["priority", "rule", "statement", "action", "metric", "labels", "summary"]
    header.insert(4, "WCU")
    rows = []
    for r in sorted(acl.rules, key=lambda r: r.priority):
        action = r.action.value if r.action else f"managed group (override: {r.override.value if r.override else '?'})"
        row: list[Any] = [r.priority, _code(r.name), _statement(r.statement), action, _code(r.metric_name)]
        row += [", ".join(f"`{label}`" for label in r.labels), r.summary]
        row.insert(4, wcu[r.name])
        rows.append(row)
    lines += _table(header, rows)
    lines += [f"Total: **{sum(wcu.values())} WCU** of the {waf.MAX_CAPACITY} the web ACL's base price covers.", ""]
    if acl.ip_sets:
        lines += _table(
            ("IP set", "addresses", "purpose"),
            ((_code(s.name), ", ".join(s.addresses) or "(empty)", s.purpose) for s in acl.ip_sets),
        )
    return lines


def _statement(stmt: object) -> str:
    """A statement in a few words: its type and its main fields."""
    if isinstance(stmt, waf.AnyOf):
        return " or ".join(_statement(s) for s in stmt.statements)
    if isinstance(stmt, waf.ManagedRuleGroup):
        excluded = f" (counting only {', '.join(stmt.excluded_rules)})" if stmt.excluded_rules else ""
        return f"{stmt.vendor} {stmt.name}{excluded}"
    if isinstance(stmt, waf.RateBased):
        return f"rate > {stmt.limit} per {_duration(stmt.window_s)} per IP"
    if isinstance(stmt, waf.SizeConstraint):
        return f"size of {_field(stmt.field)} {stmt.comparison.value} {stmt.size} B"
    if isinstance(stmt, waf.SqliMatch | waf.XssMatch):
        kind = "SQLi" if isinstance(stmt, waf.SqliMatch) else "XSS"
        return f"{kind} in {_field(stmt.field)}"
    if is_dataclass(stmt):
        values = ", ".join(str(getattr(stmt, f.name)) for f in fields(stmt))
        return f"{type(stmt).__name__}({values})"
    return str(stmt)


def _field(fm: waf.FieldToMatch) -> str:
    return fm.part.value + (f" {fm.name}" if fm.name else "")


def page(res: Resources) -> str:
    """The whole resources page."""
    lines = [
        "# Resources",
        "",
        "Every concrete resource the stack provisions, in AWS (CloudFormation, `cfn/`) and in the local cloud "
        "(`localcloud/provision.py`) alike. Generated from `reference/` at build time; deployed names are "
        f"`{physical_name('<name>', STAGE)}`.",
        "",
    ]
    for section in (messaging, data, security, streams, alarms):
        lines += section(res)
    lines += web_acl()
    return "\n".join(lines) + "\n"
