"""Does the infrastructure realise the diagram, and only the diagram?

Forward: every node and every arrow of reference.ARCHITECTURE maps to something deployed: a
template resource whose ``Metadata.Model`` names it, a permission (a role whose grants name the
arrow), or a Kubernetes object (a Deployment, the Ingress, an environment variable).
Backward: every template resource names at least one model reference, and each reference
resolves to a node, an arrow, a RESOURCES entry, a WAF rule, an alarm rule or a grant's reason.
``python -m cfn.conformance`` prints the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cfn import adot
from cfn.build import as_dict, templates
from cfn.k8s import manifests
from reference import ARCHITECTURE, RESOURCES, SERVICES
from reference.access import arrow, grants
from reference.model import Layer
from reference.observability import ALARMS
from reference.waf import WEB_ACL


@dataclass(frozen=True)
class Row:
    item: str  # a node id or an arrow
    evidence: tuple[str, ...]  # "layer/LogicalId" or "k8s:Kind/name[:ENV]"


def resources() -> list[tuple[str, str, dict[str, Any]]]:
    """(layer, logical id, resource) of every rendered template."""
    return [(layer, rid, r) for layer, t in templates() for rid, r in as_dict(t)["Resources"].items()]


def known_references() -> set[str]:
    """Everything a resource's Model metadata may name."""
    refs = {n.id for n in ARCHITECTURE.nodes} | set(ARCHITECTURE.groups)
    refs |= {arrow(e.source, e.target) for e in ARCHITECTURE.edges}
    res = RESOURCES
    refs |= {f"table:{t.name}" for t in res.tables} | {f"topic:{t.name}" for t in res.topics}
    refs |= {f"queue:{q.name}" for q in res.queues} | {f"bucket:{b.name}" for b in res.buckets}
    refs |= {f"secret:{s.name}" for s in res.secrets} | {f"stream:{s.name}" for s in res.streams}
    refs |= {f"delivery:{d.name}" for d in res.delivery_streams} | {f"key:{k.alias}" for k in res.kms_keys}
    refs |= {f"subscription:{s.topic}->{s.queue}" for s in res.subscriptions} | {f"pool:{res.user_pool.name}"}
    refs |= {f"service:{s.name}" for s in SERVICES} | {f"alarm:{a.name}" for a in ALARMS}
    refs |= {f"waf:{r.name}" for r in WEB_ACL.rules} | {f"waf:{s.name}" for s in WEB_ACL.ip_sets}
    refs |= {g.because for g in grants()}
    return refs


def kubernetes_evidence() -> dict[str, list[str]]:
    """Model item -> the Kubernetes objects (and environment variables) that realise it."""
    by_name = {s.name: s for s in SERVICES}
    out: dict[str, list[str]] = {}
    for docs in manifests().values():
        for doc in docs:
            kind, name = doc["kind"], doc["metadata"]["name"]
            if kind == "Ingress":
                out.setdefault("IN", []).append(f"k8s:Ingress/{name}")
                out.setdefault("ALB --> IN", []).append(f"k8s:Ingress/{name}")
                backend = doc["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
                out.setdefault(arrow("IN", by_name[backend].node), []).append(f"k8s:Ingress/{name}")
            if kind != "Deployment":
                continue
            if name == adot.NAME:  # the collector every pod sends its spans to, on to X-Ray
                out.setdefault(arrow("EKS", "XR"), []).append(f"k8s:Deployment/{name}")
                continue
            service, _, role = name.partition("-")
            node = by_name[service].node
            item = {"": node, "worker": arrow("SQS", node), "relay": arrow(node, "EVT")}[role]
            out.setdefault(item, []).append(f"k8s:Deployment/{name}")
            if role == "relay":
                out.setdefault("EVT", []).append(f"k8s:Deployment/{name}")
            for env in doc["spec"]["template"]["spec"]["containers"][0]["env"]:
                prefix, suffix = "SHOP_SERVICE_", "_URL"
                if env["name"].startswith(prefix) and env["name"].endswith(suffix):
                    callee = env["name"][len(prefix) : -len(suffix)].lower()
                    out.setdefault(arrow(node, by_name[callee].node), []).append(f"k8s:env/{name}:{env['name']}")
                if env["name"] == "SHOP_COGNITO_USER_POOL":
                    out.setdefault(arrow(node, "COG"), []).append(f"k8s:env/{name}:{env['name']}")
    return out


def table() -> tuple[list[Row], list[str]]:
    """The conformance table (one row per node and arrow) and every unexplained resource or reference."""
    found: dict[str, list[str]] = {}
    problems: list[str] = []
    known = known_references()
    for layer, rid, resource in resources():
        refs = resource.get("Metadata", {}).get("Model", [])
        if not refs:
            problems.append(f"{layer}/{rid} ({resource['Type']}) names nothing of the model")
        for ref in refs:
            if ref not in known:
                problems.append(f"{layer}/{rid} names {ref!r}, which the model does not have")
            found.setdefault(ref, []).append(f"{layer}/{rid}")
        if resource["Type"] == "AWS::IAM::Role" and "Policies" in resource["Properties"]:
            _grant_evidence(found, layer, rid, refs)
    for item, evidence in kubernetes_evidence().items():
        found.setdefault(item, []).extend(evidence)
    items = [n.id for n in ARCHITECTURE.nodes] + [arrow(e.source, e.target) for e in ARCHITECTURE.edges]
    for node in (n.id for n in ARCHITECTURE.nodes if n.layer is Layer.CLIENT):  # outside the stack: its entry points
        found[node] = [f"via {a}" for a in (arrow(node, t) for t in ARCHITECTURE.targets_of(node)) if found.get(a)]
    rows = [Row(item, tuple(sorted(set(found.get(item, []))))) for item in items]
    problems += [f"{r.item} is realised by nothing" for r in rows if not r.evidence]
    return rows, problems


# Grants whose reason is a RESOURCES field, and the arrow each one stands for (service node -> this node).
FIELD_ARROWS = {"Topic.publishers": "EVT", "Secret.readers": "SECRETS", "Stream.producers": "KDS"}


def _grant_evidence(found: dict[str, list[str]], layer: str, rid: str, refs: Iterable[str]) -> None:
    """A service role whose grants come from RESOURCES fields realises the arrows those fields stand for."""
    services = {r.split(":", 1)[1] for r in refs if r.startswith("service:")}
    nodes = {s.name: s.node for s in SERVICES}
    arrows = {arrow(e.source, e.target) for e in ARCHITECTURE.edges}
    for g in grants():
        if g.service not in services:
            continue
        node = nodes[g.service]
        if g.because == "Queue.consumer":
            found.setdefault(arrow("SQS", node), []).append(f"{layer}/{rid} (consume {g.target})")
        elif g.because in FIELD_ARROWS and arrow(node, FIELD_ARROWS[g.because]) in arrows:
            found.setdefault(arrow(node, FIELD_ARROWS[g.because]), []).append(f"{layer}/{rid} ({g.verb} {g.target})")
            if g.because == "Topic.publishers":
                found.setdefault("EVT --> SNS", []).append(f"{layer}/{rid} (publish {g.target})")


def format_table(rows: list[Row], width: int = 3) -> str:
    lines = [f"{'model item':<28} | realised by", f"{'-' * 28}-+-{'-' * 60}"]
    for r in rows:
        shown = ", ".join(r.evidence[:width]) + (f" (+{len(r.evidence) - width})" if len(r.evidence) > width else "")
        lines.append(f"{r.item:<28} | {shown or 'NOTHING'}")
    return "\n".join(lines)


def main() -> None:
    rows, problems = table()
    print(format_table(rows))
    for p in problems:
        print("PROBLEM:", p)
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
