"""Cross-reference checks over the model: every name used somewhere is defined somewhere."""

from collections import Counter

from reference.architecture import ARCHITECTURE
from reference.model import Architecture, Resources, Service
from reference.resources import RESOURCES
from reference.services import SERVICES


def check(
    arch: Architecture = ARCHITECTURE,
    res: Resources = RESOURCES,
    services: tuple[Service, ...] = SERVICES,
) -> list[str]:
    """Every inconsistency in the model, as sentences; empty when the model holds together."""
    problems: list[str] = []
    node_ids = {n.id for n in arch.nodes} | set(arch.groups)
    service_names = {s.name for s in services}

    problems += _duplicates("node", [n.id for n in arch.nodes])
    problems += _duplicates("arrow", [(e.source, e.target) for e in arch.edges])
    for edge in arch.edges:
        for end in (edge.source, edge.target):
            if end not in node_ids:
                problems.append(f"arrow {edge.source} --> {edge.target} names unknown node {end}")

    problems += _duplicates("service", [s.name for s in services])
    problems += _duplicates("service port", [s.port for s in services])
    problems += _duplicates("public route prefix", [p for s in services for p in s.public_prefixes])
    for s in services:
        if s.node not in node_ids:
            problems.append(f"service {s.name} sits on unknown node {s.node}")

    topics = {t.name: t for t in res.topics}
    queues = {q.name for q in res.queues}
    for kind, names in [
        ("table", [t.name for t in res.tables]),
        ("topic", list(topics)),
        ("queue", [q.name for q in res.queues]),
        ("bucket", [b.name for b in res.buckets]),
        ("secret", [s.name for s in res.secrets]),
        ("stream", [s.name for s in res.streams]),
    ]:
        problems += _duplicates(kind, names)
    problems += _duplicates("event type", [e.name for t in res.topics for e in t.events])

    for t in res.topics:
        problems += [
            f"topic {t.name} is published by unknown service {p}" for p in t.publishers if p not in service_names
        ]
    for q in res.queues:
        if q.consumer not in service_names:
            problems.append(f"queue {q.name} is consumed by unknown service {q.consumer}")
        if not any(s.queue == q.name for s in res.subscriptions):
            problems.append(f"queue {q.name} is fed by no subscription")
    for sub in res.subscriptions:
        if sub.topic not in topics:
            problems.append(f"subscription names unknown topic {sub.topic}")
            continue
        if sub.queue not in queues:
            problems.append(f"subscription of {sub.topic} names unknown queue {sub.queue}")
        unknown = set(sub.event_types) - set(topics[sub.topic].event_names())
        problems += [
            f"subscription {sub.topic} -> {sub.queue} filters on {e}, not an event of that topic"
            for e in sorted(unknown)
        ]

    key_aliases = {k.alias for k in res.kms_keys}
    for secret in res.secrets:
        if secret.kms_key not in key_aliases:
            problems.append(f"secret {secret.name} is encrypted with unknown key {secret.kms_key}")
        problems += [
            f"secret {secret.name} generates {g}, which is not one of its fields"
            for g in secret.generated
            if g not in secret.fields
        ]
        problems += [
            f"secret {secret.name} is read by unknown service {r}" for r in secret.readers if r not in service_names
        ]

    buckets = {b.name for b in res.buckets}
    streams = {s.name for s in res.streams}
    for d in res.delivery_streams:
        if d.source_stream not in streams:
            problems.append(f"delivery stream {d.name} reads unknown stream {d.source_stream}")
        if d.bucket not in buckets:
            problems.append(f"delivery stream {d.name} writes to unknown bucket {d.bucket}")
    # The web ACL and the data lake have checks of their own; one call here runs them all.
    from reference.analytics import check_lake
    from reference.waf import WEB_ACL, check_web_acl

    problems += check_web_acl(WEB_ACL) + check_lake()
    return problems


def _duplicates(kind: str, values: list[object]) -> list[str]:
    return [f"{kind} {v!r} is defined {n} times" for v, n in Counter(values).items() if n > 1]
