"""The AWS Distro for OpenTelemetry (ADOT) collector: where the services' traces go on EKS.

Locally each service converts its spans to X-Ray segment documents itself and sends them to the
emulator's X-Ray API (``SHOP_TRACING=xray``, services/common/telemetry.py). On EKS they send OTLP
(``SHOP_TRACING=otlp``) to this collector, whose ``awsxray`` exporter does that conversion and calls
``PutTraceSegments`` with the collector's own role: the pods need no X-Ray permission, and a slow
X-Ray API never holds a request. Sampling stays in the services (the rules of
reference/observability.py, also rendered as ``AWS::XRay::SamplingRule`` by cfn/observability.py).

``manifests(region)`` renders a ConfigMap (the collector's configuration), a ServiceAccount, a
Deployment (two replicas, the shop's pod security), a Service on 4317 (gRPC) and 4318 (HTTP), and the
two network policies the namespace's default deny needs: the shop's pods may reach the collector, and
the collector may reach X-Ray over HTTPS. ``service_env()`` is what every service container gets.
"""

from __future__ import annotations

from typing import Any

import yaml

from cfn.cluster import NAMESPACE

NAME = "adot-collector"
IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"
OTLP_GRPC, OTLP_HTTP, HEALTH = 4317, 4318, 13133


def endpoint() -> str:
    """The collector's OTLP/HTTP address inside the cluster."""
    return f"http://{NAME}.{NAMESPACE}.svc.cluster.local:{OTLP_HTTP}"


def service_env() -> dict[str, str]:
    """The variables a service container needs to send its traces to the collector."""
    return {"SHOP_TRACING": "otlp", "SHOP_TRACE_SAMPLING": "rules", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint()}


def config(region: str) -> dict[str, Any]:
    """The collector's pipeline: OTLP in, batched, X-Ray out (the ``awsxray`` exporter makes the segments)."""
    return {
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{HEALTH}"}},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC}"},
                    "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP}"},
                }
            }
        },
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
            "batch/traces": {"timeout": "1s", "send_batch_size": 50},  # PutTraceSegments takes 50 documents
        },
        "exporters": {"awsxray": {"region": region, "indexed_attributes": ["operation"]}},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch/traces"],
                    "exporters": ["awsxray"],
                }
            },
        },
    }


def _meta(**extra: Any) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "shop"}
    return {"name": NAME, "namespace": NAMESPACE, "labels": labels, **extra}


def manifests(region: str, replicas: int = 2) -> list[dict[str, Any]]:
    """The collector's ConfigMap, ServiceAccount, Deployment and Service."""
    selector = {"app.kubernetes.io/name": NAME}
    probe = {"httpGet": {"path": "/", "port": "health"}, "periodSeconds": 10}
    container = {
        "name": "collector",
        "image": IMAGE,
        "args": ["--config=/conf/collector.yaml"],
        "env": [{"name": "AWS_REGION", "value": region}],
        "ports": [
            {"name": "otlp-grpc", "containerPort": OTLP_GRPC},
            {"name": "otlp-http", "containerPort": OTLP_HTTP},
            {"name": "health", "containerPort": HEALTH},
        ],
        "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "livenessProbe": probe,
        "readinessProbe": probe,
        "volumeMounts": [{"name": "config", "mountPath": "/conf", "readOnly": True}],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(),
            "data": {"collector.yaml": yaml.safe_dump(config(region), sort_keys=False)},
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta()},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": selector},
                    "spec": {
                        "serviceAccountName": NAME,
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [container],
                        "volumes": [{"name": "config", "configMap": {"name": NAME}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(),
            "spec": {
                "selector": selector,
                "ports": [
                    {"name": "otlp-grpc", "port": OTLP_GRPC, "targetPort": "otlp-grpc"},
                    {"name": "otlp-http", "port": OTLP_HTTP, "targetPort": "otlp-http"},
                ],
            },
        },
        *network_policies(),
    ]


def network_policies() -> list[dict[str, Any]]:
    """Beside the namespace's default deny: every shop pod sends OTLP to the collector; the collector takes it
    and sends to X-Ray (HTTPS, through the VPC endpoint or the NAT)."""
    collector = {"matchLabels": {"app.kubernetes.io/name": NAME}}
    shop = {"matchLabels": {"app.kubernetes.io/part-of": "shop"}}
    otlp = [{"protocol": "TCP", "port": OTLP_GRPC}, {"protocol": "TCP", "port": OTLP_HTTP}]

    def policy(name: str, selector: dict[str, Any], why: str, **spec: Any) -> dict[str, Any]:
        metadata = _meta() | {"name": name, "annotations": {"shop/why": why}}
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata,
                "spec": {"podSelector": selector, **spec}}  # fmt: skip

    return [
        policy("traces-to-collector", shop, "every pod sends its spans to the ADOT collector (OTLP)",
               policyTypes=["Egress"], egress=[{"to": [{"podSelector": collector}], "ports": otlp}]),
        policy(f"{NAME}-ingress", collector, "the shop's pods send OTLP",
               policyTypes=["Ingress"], ingress=[{"from": [{"podSelector": shop}], "ports": otlp}]),
        policy(f"{NAME}-egress", collector, "PutTraceSegments to X-Ray over HTTPS",
               policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                                                "ports": [{"protocol": "TCP", "port": 443}]}]),
    ]  # fmt: skip
