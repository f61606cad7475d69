"""Kubernetes manifests for the ten services and their workers, generated from reference.SERVICES.

Per service: a ServiceAccount (bound to its IAM role by the cluster layer's pod identity
association), a Deployment spread over the AZs, a PodDisruptionBudget, a HorizontalPodAutoscaler
and a Service; queue consumers get a ``<service>-worker`` Deployment and topic publishers an
outbox ``<service>-relay`` one (the diagram's EVT). The gateway gets the Ingress the AWS Load
Balancer Controller turns into the ALB. NetworkPolicies deny everything in the namespace but the
calls of reference.access (``network_policies``). ``python -m cfn.k8s`` writes ``build/k8s/<stage>/``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cfn import adot
from cfn.cache_search import CACHE_PORT
from cfn.cluster import NAMESPACE
from cfn.data import POSTGRES_PORT
from cfn.network import AZS, TIERS, subnet_cidrs
from reference import RESOURCES, SERVICES, capacity, physical_name
from reference.access import Grant, Verb, calls, grants_of, service_calls
from reference.model import Service

PORT = 8080
OUT = Path("build/k8s")
ZONE = "topology.kubernetes.io/zone"


@dataclass(frozen=True)
class Values:
    """What the manifests need from outside: stage, image and a few stack outputs (placeholders by default)."""

    stage: str = "dev"
    image: str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:latest"
    region: str = "us-east-1"
    certificate_arn: str = "arn:aws:acm:us-east-1:123456789012:certificate/example"
    alb_security_group: str = "sg-0123456789abcdef0"
    logs_bucket: str = ""


def env_name(grant: Grant) -> str:
    """``SHOP_<KIND>_<TARGET>``: e.g. SHOP_TOPIC_ORDER_EVENTS; the value is the deployed name."""
    return f"SHOP_{grant.kind}_{grant.target}".upper().replace("-", "_").replace("@", "_AT_").replace(".", "_")


def env_for(svc: Service, v: Values) -> list[dict[str, str]]:
    """Where the service finds its peers (arrows between services) and its resources (its grants)."""
    env = {"SHOP_STAGE": v.stage, "AWS_REGION": v.region, "SHOP_SERVICE_NAME": svc.name}
    for caller, callee in calls():
        if caller == svc.name:
            env[f"SHOP_SERVICE_{callee.upper()}_URL"] = f"http://{callee}.{NAMESPACE}.svc.cluster.local"
    for g in grants_of(svc.name):
        if g.kind == "key":  # the key's alias follows from the stage (alias/shop-<stage>-main): nothing to pass
            continue
        env[env_name(g)] = g.target if g.kind == "email" else physical_name(g.target, v.stage)
    if svc.node == "API":  # API --> COG: tokens are verified against the pool's JWKS (read from a stack output)
        env["SHOP_COGNITO_USER_POOL"] = physical_name(RESOURCES.user_pool.name, v.stage)
    env |= adot.service_env()  # traces as OTLP to the ADOT collector (cfn/adot.py)
    return [{"name": k, "value": val} for k, val in sorted(env.items())]


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "shop"}


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, "labels": labels(name), **extra}


def container(
    name: str, svc: Service, v: Values, command: list[str], *, http: bool, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": name,
        "image": v.image,
        "command": command,
        "env": env_for(svc, v) + [{"name": k, "value": val} for k, val in sorted((extra_env or {}).items())],
        "resources": {
            "requests": {"cpu": capacity.POD_CPU_REQUEST, "memory": capacity.POD_MEMORY_REQUEST},
            "limits": {"memory": capacity.POD_MEMORY_LIMIT},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir, not the host's /tmp
    }
    if http:
        probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}
        c["ports"] = [{"name": "http", "containerPort": PORT}]
        c["livenessProbe"] = probe | {"failureThreshold": 3}
        c["readinessProbe"] = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5}
        c["startupProbe"] = probe | {"failureThreshold": 30, "periodSeconds": 2}
    return c


def deployment(
    name: str,
    svc: Service,
    v: Values,
    command: list[str],
    *,
    http: bool,
    extra_env: dict[str, str] | None = None,
    replicas: int = capacity.MIN_REPLICAS,
) -> dict[str, Any]:
    """Replicas spread evenly over the zones (hard) and the nodes (soft), non-root, read-only root filesystem."""
    pod_labels = labels(name)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": pod_labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": svc.name,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": ZONE,
                            "whenUnsatisfiable": "DoNotSchedule",
                            "labelSelector": {"matchLabels": pod_labels},
                        },
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": pod_labels},
                        },
                    ],
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container(name, svc, v, command, http=http, extra_env=extra_env)],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def budget(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(name),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels(name)}},
    }


def autoscaler(name: str, plan: capacity.Plan) -> dict[str, Any]:
    """CPU-based HPA with the capacity model's min, max and target (reference/capacity.py), and the
    scale-down stabilisation window the local replay (load/scale) applies too."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": plan.min_replicas,
            "maxReplicas": plan.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": plan.target_utilisation_pct},
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": capacity.SCALE_DOWN_WINDOW_S}},
        },
    }


def budget_and_scaler(name: str, plan: capacity.Plan) -> list[dict[str, Any]]:
    return [budget(name), autoscaler(name, plan)]


KEDA_AUTH = "keda-aws-workload"


def trigger_authentication() -> dict[str, Any]:
    """KEDA reads each queue's depth as the worker's own pod identity (its IAM role may read its queue)."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": meta(KEDA_AUTH),
        "spec": {"podIdentity": {"provider": "aws", "identityOwner": "workload"}},
    }


def scaled_object(name: str, queue: str, v: Values) -> dict[str, Any]:
    """KEDA scales a queue consumer on its queue's depth: pods = ceil(messages / queueLength), where
    queueLength is DRAIN_S seconds of one pod's measured throughput (reference/capacity.py)."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": meta(name),
        "spec": {
            "scaleTargetRef": {"name": name},
            "minReplicaCount": capacity.MIN_REPLICAS,
            "maxReplicaCount": capacity.MAX_CONSUMER_REPLICAS,
            "pollingInterval": capacity.KEDA_POLLING_S,
            "cooldownPeriod": capacity.SCALE_DOWN_WINDOW_S,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": capacity.SCALE_DOWN_WINDOW_S}}
                }
            },
            "triggers": [
                {
                    "type": "aws-sqs-queue",
                    "authenticationRef": {"name": KEDA_AUTH},
                    "metadata": {
                        "queueURL": physical_name(queue, v.stage),
                        "queueLength": str(capacity.queue_length_per_pod(queue)),
                        "awsRegion": v.region,
                    },
                }
            ],
        },
    }


def service_manifests(svc: Service, v: Values) -> list[dict[str, Any]]:
    """Everything of one service: account, Deployment, budget, autoscaler, Service, and its workers
    (a queue consumer scales on its queue's depth with KEDA, an outbox relay on CPU)."""
    plan = capacity.plan(svc.name)
    app = ["uvicorn", f"services.{svc.name}.app:create_app", "--factory", "--host", "0.0.0.0", "--port", str(PORT)]  # noqa: S104
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(svc.name)},
        deployment(
            svc.name,
            svc,
            v,
            app,
            http=True,
            extra_env={t: "false" for _, t in workers(svc)},
            replicas=plan.min_replicas,
        ),
        *budget_and_scaler(svc.name, plan),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(svc.name),
            "spec": {"selector": labels(svc.name), "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
    ]
    roles = workers(svc)
    for worker, toggle in roles:
        # The same image and app, with only this background loop on: the API pods scale on
        # requests, these on queue depth and outbox backlog, independently.
        only_this = {t: "true" if t == toggle else "false" for _, t in roles}
        docs.append(deployment(worker, svc, v, app, http=True, extra_env=only_this))
        queue = next((q.name for q in RESOURCES.queues if q.consumer == svc.name), None)
        if worker.endswith("-worker") and queue:
            docs += [budget(worker), scaled_object(worker, queue, v)]
        else:
            docs += budget_and_scaler(worker, capacity.relay_plan())
    return docs


def workers(svc: Service) -> list[tuple[str, str]]:
    """(Deployment name, the setting that turns its loop on) of a service's background loops.

    Every service runs its queue consumer (``<SERVICE>_RUN_CONSUMER``) and outbox relay
    (``<SERVICE>_RUN_RELAY``, the diagram's EVT) in its own process when those are true, as
    ``nox -s up`` does; on EKS each loop gets a Deployment of its own and the API pods turn both off.
    """
    out = []
    if any(q.consumer == svc.name for q in RESOURCES.queues):
        out.append((f"{svc.name}-worker", f"{svc.name.upper()}_RUN_CONSUMER"))
    if any(svc.name in t.publishers for t in RESOURCES.topics):
        out.append((f"{svc.name}-relay", f"{svc.name.upper()}_RUN_RELAY"))
    return out


def ingress(v: Values) -> dict[str, Any]:
    """IN --> API: the ALB (HTTPS only, CloudFront's security group) forwards /api to the gateway's pods."""
    gateway = next(s for s in SERVICES if s.node == "API")
    prefix = "alb.ingress.kubernetes.io/"
    attributes = "routing.http.drop_invalid_header_fields.enabled=true"
    if v.logs_bucket:  # ALB --> CW: access logs to the logs bucket
        attributes += f",access_logs.s3.enabled=true,access_logs.s3.bucket={v.logs_bucket},access_logs.s3.prefix=alb"
    annotations = {
        "scheme": "internet-facing",
        "target-type": "ip",
        "listen-ports": '[{"HTTPS": 443}]',
        "certificate-arn": v.certificate_arn,
        "ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "security-groups": v.alb_security_group,
        "manage-backend-security-group-rules": "true",
        "healthcheck-path": "/readyz",
        "load-balancer-attributes": attributes,
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta("shop", annotations={prefix + k: val for k, val in annotations.items()}),
        "spec": {
            "ingressClassName": "alb",
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/api",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": gateway.name, "port": {"name": "http"}}},
                            }
                        ]
                    }
                }
            ],
        },
    }


def manifests(v: Values = Values()) -> dict[str, list[dict[str, Any]]]:
    """File name -> its documents, for every manifest file of the stage."""
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
    }
    files = {"00-namespace.yaml": [namespace, trigger_authentication()], "10-ingress.yaml": [ingress(v)]}
    for svc in SERVICES:
        files[f"20-{svc.name}.yaml"] = service_manifests(svc, v)
    files["30-network-policies.yaml"] = network_policies()
    files["30-adot-collector.yaml"] = adot.manifests(v.region)
    return files


# ------------------------------------------------------------------ network policies (issue 12)

DNS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
# The EKS Pod Identity agent answers on the node's link-local address: every pod's AWS credentials come from it.
POD_IDENTITY_AGENT = "169.254.170.23/32"
HTTPS = 443


def tier_cidrs(tier: str) -> list[str]:
    """The literal CIDRs of one subnet tier (cfn/network.py carves them in order: tier by tier, AZ by AZ)."""
    i = TIERS.index(tier)
    return subnet_cidrs()[i * AZS : (i + 1) * AZS]


def pods_of(svc: Service) -> dict[str, Any]:
    """A selector for every pod of a service: its API pods and its worker and relay pods."""
    names = [svc.name, *(name for name, _ in workers(svc))]
    return {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": names}]}


def tcp(*ports: int | str) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def policy(name: str, selector: dict[str, Any], why: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(name, annotations={"shop/why": why}),
        "spec": {"podSelector": selector, **spec},
    }


def ingress_policy(svc: Service) -> dict[str, Any]:
    """Who may open a connection to the service's API pods: its callers (the gateway: the ALB's subnets)."""
    if svc.node == "API":  # ALB --> IN --> API: target type ip, so the ALB's nodes in the public subnets connect
        sources = [{"ipBlock": {"cidr": c}} for c in tier_cidrs("public")]
        why = "ALB --> IN --> API: the load balancer's nodes in the public subnets (target type ip)"
    else:
        mine = [c for c in service_calls() if c.callee == svc.name]
        callers = sorted({c.caller for c in mine})
        sources = [{"podSelector": pods_of(next(s for s in SERVICES if s.name == c))} for c in callers]
        why = "; ".join(f"{c.caller} ({c.routes} routes: {c.because})" for c in mine) or "no caller"
    rules = [{"from": sources, "ports": tcp("http")}] if sources else []
    return policy(f"{svc.name}-ingress", {"matchLabels": labels(svc.name)}, why, policyTypes=["Ingress"], ingress=rules)


def egress_policy(svc: Service) -> dict[str, Any]:
    """Where the service's pods may connect: the services it calls, its database and cache, AWS over HTTPS."""
    callees = sorted({c.callee for c in service_calls() if c.caller == svc.name})
    rules = [{"to": [{"podSelector": {"matchLabels": labels(callee)}}], "ports": tcp("http")} for callee in callees]
    verbs = {g.verb for g in grants_of(svc.name)}
    data = [{"ipBlock": {"cidr": c}} for c in tier_cidrs("data")]
    if Verb.CONNECT_DATABASE in verbs:
        rules.append({"to": data, "ports": tcp(POSTGRES_PORT)})
    if Verb.CONNECT_CACHE in verbs:
        rules.append({"to": data, "ports": tcp(CACHE_PORT)})
    # AWS APIs: interface endpoints in the private subnets, S3 and DynamoDB through gateway endpoints (public
    # addresses a policy cannot list), Cognito's JWKS through the NAT; OpenSearch in the data subnets.
    rules.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": tcp(HTTPS)})
    why = "calls " + (", ".join(callees) or "no service") + "; " + ", ".join(sorted(verbs))
    return policy(f"{svc.name}-egress", pods_of(svc), why, policyTypes=["Egress"], egress=rules)


def network_policies() -> list[dict[str, Any]]:
    """Default deny in the namespace, then each service's callers in and its own calls, data stores and AWS out."""
    everyone: dict[str, Any] = {}
    docs = [
        policy(
            "default-deny",
            everyone,
            "nothing in or out unless a policy below says so",
            policyTypes=["Ingress", "Egress"],
        ),
        policy(
            "dns-and-credentials",
            everyone,
            "every pod resolves names (CoreDNS) and gets AWS credentials (EKS Pod Identity agent)",
            policyTypes=["Egress"],
            egress=[
                {"to": [DNS], "ports": [{"protocol": "UDP", "port": 53}, *tcp(53)]},
                {"to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}], "ports": tcp(80)},
            ],
        ),
    ]
    for svc in SERVICES:
        docs += [ingress_policy(svc), egress_policy(svc)]
    return docs


class _NoAliases(yaml.SafeDumper):
    """Repeated label maps are written out, not as YAML anchors: manifests are read by people."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(out: Path = OUT, v: Values = Values()) -> list[Path]:
    folder = out / v.stage
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, docs in manifests(v).items():
        path = folder / file_name
        path.write_text(yaml.dump_all(docs, Dumper=_NoAliases, sort_keys=False, width=120))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cfn.k8s", description=__doc__)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--image", default=Values.image)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    for path in render(args.out, Values(stage=args.stage, image=args.image)):
        print(path)


if __name__ == "__main__":
    main()
