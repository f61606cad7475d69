"""``python -m load k8s [--workers N]``: manifests for a Locust master and N workers on EKS, for loads one machine
cannot make. Written to ``build/k8s/load/`` (namespace ``shop-load``), checked with
``kubernetes-validate --strict`` by tests/unit/test_load_k8s.py.

The image is the project's own (it holds load/ and reference/); the master runs the same
``load/locustfile.py`` headless with the gates, so its exit code is the run's verdict: run it as
a Job and read ``kubectl logs job/locust-master``. Workers find the master through its Service.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

NAMESPACE = "shop-load"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:latest"
OUT = Path("build/k8s/load")
LABELS = {"app.kubernetes.io/part-of": "shop-load"}


def manifests(workers: int, target: str, users: int, seconds: int, image: str = IMAGE) -> list[dict[str, Any]]:
    """Namespace, the master as a Job with its Service, and the workers as a Deployment."""
    env = [{"name": "LOAD_SHAPE", "value": "ramp"}, {"name": "LOAD_USERS", "value": str(users)},
           {"name": "LOAD_SECONDS", "value": str(seconds)}, {"name": "PYTHONUNBUFFERED", "value": "1"}]  # fmt: skip
    resources = {"requests": {"cpu": "1", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    master_args = ["-f", "load/locustfile.py", "--master", "--headless", "-H", target,
                   "--expect-workers", str(workers), "--exit-code-on-error", "0", "--only-summary"]  # fmt: skip
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": LABELS}},
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "locust-master", "namespace": NAMESPACE, "labels": LABELS},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "metadata": {"labels": {**LABELS, "role": "locust-master"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [_container("master", image, master_args, env, resources, [5557])],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "locust-master", "namespace": NAMESPACE, "labels": LABELS},
            "spec": {"selector": {"role": "locust-master"}, "ports": [{"name": "workers", "port": 5557}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "locust-worker", "namespace": NAMESPACE, "labels": LABELS},
            "spec": {
                "replicas": workers,
                "selector": {"matchLabels": {"role": "locust-worker"}},
                "template": {
                    "metadata": {"labels": {**LABELS, "role": "locust-worker"}},
                    "spec": {
                        "containers": [
                            _container(
                                "worker",
                                image,
                                ["-f", "load/locustfile.py", "--worker", "--master-host", "locust-master"],
                                env,
                                resources,
                                [],
                            )
                        ]
                    },
                },
            },
        },
    ]


def _container(name: str, image: str, args: list[str], env: list[dict[str, str]], resources: dict[str, Any],
               ports: list[int]) -> dict[str, Any]:  # fmt: skip
    container: dict[str, Any] = {
        "name": name, "image": image, "command": ["python", "-m", "locust"], "args": args, "env": env,
        "resources": resources,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
    }  # fmt: skip
    if ports:
        container["ports"] = [{"containerPort": p} for p in ports]
    return container


def main(args: argparse.Namespace) -> int:
    target = args.target if args.target != "local" else "https://staging.shop.example.com"
    docs = manifests(max(args.workers, 1), target, args.users, int(args.seconds))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "locust.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False, width=120))
    print(f"written: {path} ({max(args.workers, 1)} workers against {target})")
    return 0
