"""The rendered NetworkPolicies read against the arrows: every call admitted, nothing else (issue 12).

The policies are evaluated as Kubernetes does (a connection passes when the source's egress and the
destination's ingress both allow it; no policy selecting a pod for a direction means open, any policy
means only what some policy allows), for every pair of the shop's pods.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cfn.k8s import render, tier_cidrs
from reference import SERVICES
from reference.access import SAGA_CALLS, Routes, calls, service_calls

NAME = "app.kubernetes.io/name"


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = render(tmp_path_factory.mktemp("k8s"))[0].parent
    return [d for p in sorted(folder.iterdir()) for d in yaml.safe_load_all(p.read_text())]


@pytest.fixture(scope="module")
def policies(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == "NetworkPolicy"]


@pytest.fixture(scope="module")
def pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Deployment name -> the labels of its pods."""
    return {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in docs if d["kind"] == "Deployment"
    }


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr  # the only operator the renderer writes
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def port_ok(rule: dict[str, Any], port: str) -> bool:
    return any(p["port"] == port and p["protocol"] == "TCP" for p in rule.get("ports", [])) or "ports" not in rule


def peer_ok(peers: list[dict[str, Any]], labels: dict[str, str] | None, address: str | None) -> bool:
    """Whether a from/to list matches a pod of this namespace (labels) or an address outside it."""
    for peer in peers:
        if "ipBlock" in peer:
            if address and ipaddress.ip_address(address) in ipaddress.ip_network(peer["ipBlock"]["cidr"]):
                return True
        elif "namespaceSelector" not in peer and labels is not None and selects(peer["podSelector"], labels):
            return True
    return False


def allowed(
    policies: list[dict[str, Any]],
    direction: str,
    pod: dict[str, str],
    peer: dict[str, str] | None,
    address: str | None,
    port: str,
) -> bool:
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    mine = [
        p["spec"] for p in policies if direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], pod)
    ]
    if not mine:
        return True
    return any(port_ok(r, port) and peer_ok(r.get(peers_key, []), peer, address) for s in mine for r in s.get(key, []))


def connects(policies: list[dict[str, Any]], src: dict[str, str], dst: dict[str, str]) -> bool:
    return allowed(policies, "Egress", src, dst, None, "http") and allowed(policies, "Ingress", dst, src, None, "http")


def service_of(deployment: str) -> str:
    return re.sub(r"-(worker|relay)$", "", deployment)


def test_a_default_deny_covers_every_pod_both_ways(policies: list[dict[str, Any]]) -> None:
    deny = next(p for p in policies if p["metadata"]["name"] == "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_every_call_is_admitted_and_no_other_pod_pair_connects(
    policies: list[dict[str, Any]], pods: dict[str, dict[str, str]]
) -> None:
    wanted = set(calls())
    seen = set()
    for src_name, src in pods.items():
        for dst_name, dst in pods.items():
            if not connects(policies, src, dst):
                continue
            pair = (service_of(src_name), dst_name)
            assert pair in wanted, f"{src_name} reaches {dst_name}, which no arrow or saga call asks for"
            seen.add(pair)
    assert seen == wanted, f"calls not admitted: {sorted(wanted - seen)}"


def test_workers_and_relays_accept_no_connection_from_any_pod(
    policies: list[dict[str, Any]], pods: dict[str, dict[str, str]]
) -> None:
    for name, labels in pods.items():
        if name != service_of(name):
            assert not any(connects(policies, src, labels) for src in pods.values()), name


def test_only_the_gateway_admits_the_load_balancer_from_the_public_subnets(
    policies: list[dict[str, Any]], pods: dict[str, dict[str, str]]
) -> None:
    alb_node = str(next(ipaddress.ip_network(tier_cidrs("public")[1]).hosts()))
    private_node = str(next(ipaddress.ip_network(tier_cidrs("private")[0]).hosts()))
    for name, labels in pods.items():
        admits_alb = allowed(policies, "Ingress", labels, None, alb_node, "http")
        assert admits_alb == (name == "gateway"), name
        assert not allowed(policies, "Ingress", labels, None, private_node, "http"), name


def test_egress_reaches_the_database_and_cache_only_from_services_granted_them(
    policies: list[dict[str, Any]], pods: dict[str, dict[str, str]]
) -> None:
    aurora = str(next(ipaddress.ip_network(tier_cidrs("data")[2]).hosts()))
    for name, labels in pods.items():
        svc = next(s for s in SERVICES if s.name == service_of(name))
        assert allowed(policies, "Egress", labels, None, aurora, 5432) == svc.database, name
        assert allowed(policies, "Egress", labels, None, aurora, 6379) == (svc.node == "API"), name
        assert allowed(policies, "Egress", labels, None, "52.94.0.10", 443), f"{name} cannot reach AWS"
        assert not allowed(policies, "Egress", labels, None, "52.94.0.10", 80), name


def test_every_pod_resolves_names_and_reaches_the_pod_identity_agent(policies: list[dict[str, Any]]) -> None:
    shared = next(p for p in policies if p["metadata"]["name"] == "dns-and-credentials")["spec"]
    assert shared["podSelector"] == {}
    dns, agent = shared["egress"]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {p["protocol"] for p in dns["ports"]} == {"UDP", "TCP"}
    assert agent["to"] == [{"ipBlock": {"cidr": "169.254.170.23/32"}}]


def test_the_saga_calls_are_the_clients_the_services_open() -> None:
    """SAGA_CALLS is not drawn in the diagram: read it against each service's app.py, so neither drifts."""
    opened = set()
    for svc in SERVICES:
        source = Path(f"services/{svc.name}/app.py").read_text()
        opened |= {(svc.name, callee) for callee in re.findall(r"rt\.client\(\"([a-z]+)\"", source)}
    assert opened == {(c.caller, c.callee) for c in SAGA_CALLS}


def test_internal_routes_are_called_only_by_the_saga() -> None:
    internal = {(c.caller, c.callee) for c in service_calls() if c.routes is Routes.INTERNAL}
    assert {caller for caller, _ in internal} == {"checkout"}
    assert all(c.routes is Routes.PUBLIC for c in service_calls() if c.caller == "gateway")
